package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	t.Parallel()
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantSock string
		wantCA   string // state dir
		wantSVID time.Duration
		wantErr  string
	}{
		{name: "defaults", wantSock: filepath.Join(cwd, ".data/spiffe/agent.sock"), wantCA: filepath.Join(cwd, ".data/spiffe/ca"), wantSVID: time.Hour},
		{name: "MERCATO_DATA", env: map[string]string{"MERCATO_DATA": "/srv/m"}, wantSock: "/srv/m/spiffe/agent.sock", wantCA: "/srv/m/spiffe/ca", wantSVID: time.Hour},
		{name: "SPIFFE_ENDPOINT_SOCKET", env: map[string]string{"SPIFFE_ENDPOINT_SOCKET": "unix:///run/a.sock", "MERCATO_DATA": "/srv/m"}, wantSock: "/run/a.sock", wantCA: "/srv/m/spiffe/ca", wantSVID: time.Hour},
		{name: "flags", args: []string{"--svid-ttl", "2m", "--ca-ttl", "1h", "--root", "/repo"}, wantSock: filepath.Join(cwd, ".data/spiffe/agent.sock"), wantCA: filepath.Join(cwd, ".data/spiffe/ca"), wantSVID: 2 * time.Minute},
		{name: "relative socket", env: map[string]string{"SPIFFE_ENDPOINT_SOCKET": "unix://.data/a.sock"}, wantErr: "absolute path"},
		{name: "tcp socket", env: map[string]string{"SPIFFE_ENDPOINT_SOCKET": "tcp://127.0.0.1:1"}, wantErr: "unix://"},
		{name: "bad trust domain", args: []string{"--trust-domain", "Not Valid"}, wantErr: "trust-domain"},
		{name: "bad log format", args: []string{"--log-format", "xml"}, wantErr: "log-format"},
		{name: "unknown flag", args: []string{"--bogus"}, wantErr: "bogus"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := parseOptions(tt.args, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			caDir := filepath.Join(o.dataDir, "spiffe", "ca")
			if o.socketPath != tt.wantSock || caDir != tt.wantCA || o.svidTTL != tt.wantSVID {
				t.Errorf("socket %q, CA dir %q, SVID TTL %s; want %q, %q, %s", o.socketPath, caDir, o.svidTTL, tt.wantSock, tt.wantCA, tt.wantSVID)
			}
		})
	}
}

func TestConfigLoadsTheRepositoryRegistrations(t *testing.T) {
	t.Parallel()
	o, err := parseOptions([]string{"--registrations", "../../registrations.yaml", "--root", "../../.."}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config(newLogger("text", os.Stderr))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Entries) < 8 || cfg.StateDir != filepath.Join(o.dataDir, "spiffe", "ca") {
		t.Errorf("config: %d entries, state dir %q", len(cfg.Entries), cfg.StateDir)
	}
	o.registrations = "missing.yaml"
	if _, err := o.config(newLogger("json", os.Stderr)); err == nil {
		t.Error("a missing registrations file was accepted")
	}
}
