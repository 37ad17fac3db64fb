package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	s, err := loadConfig(env(map[string]string{"MERCATO_DATA": "/srv/data"}))
	if err != nil {
		t.Fatal(err)
	}
	want := settings{
		WorkloadAPI: "unix:///srv/data/spiffe/agent.sock", XDSAddr: "127.0.0.1:18000", AdminAddr: "127.0.0.1:9900",
		DevCertDir: filepath.Join("/srv/data", "edge"), DrainTimeout: 20 * time.Second,
	}
	if s != want {
		t.Errorf("defaults %+v, want %+v", s, want)
	}
	s, err = loadConfig(env(map[string]string{"EDGE_XDS_ADDR": "xds:18000", "EDGE_ADMIN_ADDR": "127.0.0.1:1", "EDGE_DEV_CERT": "off", "SPIFFE_ENDPOINT_SOCKET": "unix:///run/a.sock"}))
	if err != nil || s.XDSAddr != "xds:18000" || s.AdminAddr != "127.0.0.1:1" || s.DevCertDir != "" || socketPath(s.WorkloadAPI) != "/run/a.sock" {
		t.Errorf("overrides: %+v %v", s, err)
	}
	if _, err := loadConfig(env(map[string]string{"EDGE_DEV_CERT": "maybe", "DRAIN_TIMEOUT": "soon"})); err == nil ||
		!strings.Contains(err.Error(), "EDGE_DEV_CERT") || !strings.Contains(err.Error(), "DRAIN_TIMEOUT") {
		t.Errorf("bad values: %v", err)
	}
}
