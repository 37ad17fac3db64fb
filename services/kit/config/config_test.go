package config_test

import (
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"mercato.dev/services/kit/config"
)

func env(m map[string]string) config.Getenv { return func(k string) string { return m[k] } }

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		service string
		vars    map[string]string
		check   func(t *testing.T, s config.Service)
		wantErr string
	}{
		{name: "local defaults", service: "orders", vars: map[string]string{"MERCATO_DATA": "/d"},
			check: func(t *testing.T, s config.Service) {
				want := config.Service{Name: "orders", Addr: "127.0.0.1:8103", AdminAddr: "127.0.0.1:9103", DataDir: "/d",
					WorkloadAPI: "unix:///d/spiffe/agent.sock", DatabaseURL: "sqlite:///d/orders/orders.db", NATSURL: "tls://127.0.0.1:4333",
					XDSAddr: "127.0.0.1:18001", DrainTimeout: 20 * time.Second, DeregisterGrace: 500 * time.Millisecond}
				if s != want {
					t.Errorf("got %+v\nwant %+v", s, want)
				}
			}},
		{name: "overrides", service: "notifications", vars: map[string]string{
			"NOTIFICATIONS_ADDR": ":1", "NOTIFICATIONS_DATABASE_URL": "postgres://x", "SPIFFE_ENDPOINT_SOCKET": "unix:///s", "DRAIN_TIMEOUT": "3s"},
			check: func(t *testing.T, s config.Service) {
				if s.Addr != ":1" || s.AdminAddr != "127.0.0.1:9105" || s.DatabaseURL != "postgres://x" || s.WorkloadAPI != "unix:///s" || s.DrainTimeout != 3*time.Second {
					t.Errorf("overrides not applied: %+v", s)
				}
			}},
		{name: "relative data dir becomes absolute", service: "customers", vars: map[string]string{},
			check: func(t *testing.T, s config.Service) {
				if !filepath.IsAbs(s.DataDir) || filepath.Base(s.DataDir) != ".data" {
					t.Errorf("data dir %q", s.DataDir)
				}
			}},
		{name: "registration off", service: "orders", vars: map[string]string{"XDS_REGISTRATION_ADDR": "off"},
			check: func(t *testing.T, s config.Service) {
				if s.XDSAddr != "" {
					t.Errorf("XDS_REGISTRATION_ADDR=off left %q", s.XDSAddr)
				}
			}},
		{name: "bad duration", service: "payments", vars: map[string]string{"DRAIN_TIMEOUT": "soon"}, wantErr: "DRAIN_TIMEOUT"},
		{name: "bad log level", service: "payments", vars: map[string]string{"LOG_LEVEL": "loud"}, wantErr: "LOG_LEVEL"},
		{name: "unknown service", service: "shipping", wantErr: "unknown service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := config.Load(tt.service, env(tt.vars))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

func TestPeerAddr(t *testing.T) {
	t.Parallel()
	if got := config.PeerAddr("inventory", env(nil)); got != "127.0.0.1:8102" {
		t.Errorf("default inventory addr = %q", got)
	}
	if got := config.PeerAddr("inventory", env(map[string]string{"INVENTORY_ADDR": "inv:443"})); got != "inv:443" {
		t.Errorf("INVENTORY_ADDR ignored: %q", got)
	}
}

func TestDebugAddrMustBeLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"": true, "127.0.0.1:6060": true, "[::1]:6060": true, "localhost:6060": true,
		"0.0.0.0:6060": false, ":6060": false, "10.1.2.3:6060": false, "example.com:6060": false,
	} {
		_, err := config.Load("orders", func(k string) string {
			if k == "ORDERS_DEBUG_ADDR" {
				return addr
			}
			return ""
		})
		if (err == nil) != ok {
			t.Errorf("ORDERS_DEBUG_ADDR=%q: err = %v, want ok=%v", addr, err, ok)
		}
	}
}

// TuneGC sets GOGC's default to DefaultGOGC, and leaves an explicit GOGC alone.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	debug.SetGCPercent(123)
	config.TuneGC(func(string) string { return "" })
	if got := debug.SetGCPercent(123); got != config.DefaultGOGC {
		t.Errorf("without GOGC: GC percent %d, want %d", got, config.DefaultGOGC)
	}
	config.TuneGC(func(k string) string {
		if k == "GOGC" {
			return "50"
		}
		return ""
	})
	if got := debug.SetGCPercent(100); got != 123 {
		t.Errorf("with GOGC=50: GC percent %d, want it left at 123", got)
	}
}
