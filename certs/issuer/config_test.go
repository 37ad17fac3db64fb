package issuer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"mercato.dev/certs/issuer"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := func() issuer.Config {
		return issuer.Config{TrustDomain: td, SocketPath: "/tmp/x/agent.sock", RootDir: "."}
	}
	tests := []struct {
		name    string
		mutate  func(*issuer.Config)
		wantErr string
	}{
		{"defaults", func(*issuer.Config) {}, ""},
		{"short TTLs", func(c *issuer.Config) { c.SVIDTTL, c.CATTL = time.Second, 6*time.Second }, ""},
		{"no trust domain", func(c *issuer.Config) { c.TrustDomain = spiffeid.TrustDomain{} }, "trust domain"},
		{"no socket", func(c *issuer.Config) { c.SocketPath = "" }, "socket path is required"},
		{"socket too long", func(c *issuer.Config) { c.SocketPath = "/" + strings.Repeat("s", 107) }, "at most 107"},
		{"no root", func(c *issuer.Config) { c.RootDir = "" }, "root dir"},
		{"negative TTL", func(c *issuer.Config) { c.SVIDTTL = -time.Second }, "negative"},
		{"sub-second SVID", func(c *issuer.Config) { c.SVIDTTL = 500 * time.Millisecond }, "below"},
		{"CA too short", func(c *issuer.Config) { c.SVIDTTL, c.CATTL = time.Hour, 5*time.Hour }, "at least 6 times"},
		{"default CA vs long SVID", func(c *issuer.Config) { c.SVIDTTL = 48 * time.Hour }, "at least 6 times"},
		{"entry outside trust domain", func(c *issuer.Config) {
			c.Entries = []issuer.Entry{{ID: spiffeid.RequireFromString("spiffe://other.test/a"), Selectors: []string{"unix:uid:1"}}}
		}, "not in trust domain"},
		{"entry without selectors", func(c *issuer.Config) {
			c.Entries = []issuer.Entry{{ID: spiffeid.RequireFromPath(td, "/a")}}
		}, "no selectors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error mentioning %q", err, tt.wantErr)
			}
			if _, err := issuer.New(cfg); err == nil {
				t.Error("New accepted a config Validate refuses")
			}
		})
	}
}
