package app_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"mercato.dev/xds/internal/app"
)

func TestLoadConfig(t *testing.T) {
	env := map[string]string{
		"MERCATO_DATA": "/data", "XDS_ADS_ADDR": "0.0.0.0:18000", "XDS_ENDPOINT_TTL": "30s",
		"XDS_PUBLIC_ADDR": "0.0.0.0:8443", "XDS_CORS_ALLOW_ORIGINS": "https://shop.example, https://admin.shop.example,",
	}
	cfg, err := app.LoadConfig([]string{"-routes", "/etc/routes.yaml", "-registration-addr", "0.0.0.0:18001"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := app.Config{
		ADSAddr: "0.0.0.0:18000", RegistrationAddr: "0.0.0.0:18001", AdminAddr: "127.0.0.1:9100",
		RoutesFile: "/etc/routes.yaml", DataDir: "/data", EdgeDataDir: "/data", PublicAddr: "0.0.0.0:8443",
		WorkloadAPI: "unix:///data/spiffe/agent.sock", EndpointTTL: 30 * time.Second,
		RemovalGrace: 2 * time.Second, DrainTimeout: 20 * time.Second, WarmUp: 11 * time.Second,
		CORSOrigins: []string{"https://shop.example", "https://admin.shop.example"},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config\n%+v\nwant\n%+v", cfg, want)
	}
	_, err = app.LoadConfig(nil, func(k string) string {
		return map[string]string{"XDS_ENDPOINT_TTL": "soon", "XDS_ADMIN_ADDR": "9100"}[k]
	})
	if err == nil || !strings.Contains(err.Error(), "XDS_ENDPOINT_TTL") || !strings.Contains(err.Error(), "admin address") {
		t.Errorf("LoadConfig = %v, want both problems", err)
	}
}
