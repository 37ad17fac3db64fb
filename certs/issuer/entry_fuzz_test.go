package issuer_test

import (
	"os"
	"strings"
	"testing"

	"mercato.dev/certs/issuer"
)

// FuzzParseEntries feeds arbitrary documents to the registrations.yaml decoder: it never
// panics, and every entry it accepts has an ID in a trust domain and only selectors of the
// kinds the issuer attests (unix:path, unix:uid, unix:gid).
func FuzzParseEntries(f *testing.F) {
	data, err := os.ReadFile("../registrations.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("entries:\n- spiffe_id: spiffe://mercato.local/svc/x\n  selectors: [unix:uid:0]\n"))
	f.Add([]byte("entries:\n- spiffe_id: spiffe://mercato.local/../x\n  selectors: [\"unix:path:\"]\n"))
	f.Add([]byte("entries: [{spiffe_id: 1, selectors: {a: b}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := issuer.ParseEntries(data)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.ID.IsZero() || len(e.Selectors) == 0 {
				t.Fatalf("accepted entry %+v", e)
			}
			for _, s := range e.Selectors {
				if !strings.HasPrefix(s, "unix:path:") && !strings.HasPrefix(s, "unix:uid:") && !strings.HasPrefix(s, "unix:gid:") {
					t.Fatalf("accepted selector %q", s)
				}
			}
		}
	})
}
