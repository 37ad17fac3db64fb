package issuer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mercato.dev/certs/issuer"
)

func TestParseEntries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		yaml    string
		want    int    // entries, when valid
		wantErr string // substring, when invalid
	}{
		{"path and uid", "entries:\n- spiffe_id: spiffe://mercato.local/svc/a\n  selectors: [unix:path:bin/a, unix:uid:1000]\n", 1, ""},
		{"absolute path and gid", "entries:\n- spiffe_id: spiffe://mercato.local/a\n  selectors: [unix:path:/usr/bin/a, unix:gid:0]\n", 1, ""},
		{"same ID, different selectors", "entries:\n- spiffe_id: spiffe://mercato.local/a\n  selectors: [unix:path:a]\n- spiffe_id: spiffe://mercato.local/a\n  selectors: [unix:path:b]\n", 2, ""},
		{"empty file", "", 0, "decode"},
		{"no entries", "entries: []\n", 0, "no entries"},
		{"unknown field", "entries:\n- spiffe_id: spiffe://mercato.local/a\n  selector: [unix:path:a]\n", 0, "selector"},
		{"bad ID", "entries:\n- spiffe_id: https://mercato.local/a\n  selectors: [unix:path:a]\n", 0, "spiffe_id"},
		{"no selectors", "entries:\n- spiffe_id: spiffe://mercato.local/a\n", 0, "no selectors"},
		{"not unix", "entries:\n- spiffe_id: spiffe://mercato.local/a\n  selectors: [k8s:ns:default]\n", 0, "only unix"},
		{"unknown kind", "entries:\n- spiffe_id: spiffe://mercato.local/a\n  selectors: [unix:sha256:abc]\n", 0, "unknown kind"},
		{"uid not a number", "entries:\n- spiffe_id: spiffe://mercato.local/a\n  selectors: [unix:uid:root]\n", 0, "not a number"},
		{"empty value", "entries:\n- spiffe_id: spiffe://mercato.local/a\n  selectors: [\"unix:path:\"]\n", 0, "want unix"},
		{"repeated selector", "entries:\n- spiffe_id: spiffe://mercato.local/a\n  selectors: [unix:uid:1, unix:uid:1]\n", 0, "repeated"},
		{"duplicate entry", "entries:\n- spiffe_id: spiffe://mercato.local/a\n  selectors: [unix:uid:1, unix:path:a]\n- spiffe_id: spiffe://mercato.local/a\n  selectors: [unix:path:a, unix:uid:1]\n", 0, "duplicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			entries, err := issuer.ParseEntries([]byte(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(entries) != tt.want {
				t.Fatalf("got %d entries, err %v; want %d entries", len(entries), err, tt.want)
			}
		})
	}
}

func TestLoadEntriesKeepsOrderAndNamesFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "registrations.yaml")
	yaml := "entries:\n" +
		"- spiffe_id: spiffe://mercato.local/first\n  selectors: [unix:path:bin/a]\n" +
		"- spiffe_id: spiffe://mercato.local/second\n  selectors: [unix:uid:7]\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	entries, err := issuer.LoadEntries(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].ID.Path() != "/first" || entries[1].Selectors[0] != "unix:uid:7" {
		t.Errorf("entries = %+v", entries)
	}
	if _, err := issuer.LoadEntries(path + ".missing"); err == nil {
		t.Error("missing file loaded")
	}
	if err := os.WriteFile(path, []byte("entries: [{spiffe_id: nope}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := issuer.LoadEntries(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want one naming %s", err, path)
	}
}
