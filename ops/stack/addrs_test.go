package stack

import (
	"slices"
	"strings"
	"testing"
)

func TestLocalAddrs(t *testing.T) {
	t.Setenv("NATS_URL", "") // an external broker would replace the one the addresses name
	getenv := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	def, err := LocalAddrs(getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if def.PublicURL() != "https://localhost:8443" || def.Admin["orders"] != "127.0.0.1:9103" || def.Service["notifications"] != "127.0.0.1:8105" ||
		NATSURL(def) != "tls://127.0.0.1:4333" || def.BrokerAdmin != "127.0.0.1:9106" || def.XDSADS != "127.0.0.1:18000" {
		t.Errorf("defaults: %+v", def)
	}
	if slices.ContainsFunc(def.env(), func(kv string) bool { return strings.HasPrefix(kv, "XDS_PUBLIC_ADDR=") }) {
		t.Error("XDS_PUBLIC_ADDR passed although unset: it would override routes.yaml's listener address")
	}

	moved, err := LocalAddrs(getenv(map[string]string{
		"XDS_ADS_ADDR": "127.0.0.1:1000", "XDS_PUBLIC_ADDR": "127.0.0.1:1443", "ORDERS_ADMIN_ADDR": "127.0.0.1:1903", "BROKER_ADDR": "127.0.0.1:1333",
	}))
	if err != nil {
		t.Fatal(err)
	}
	env := moved.env()
	for _, want := range []string{"EDGE_XDS_ADDR=127.0.0.1:1000", "XDS_ADS_ADDR=127.0.0.1:1000", "XDS_PUBLIC_ADDR=127.0.0.1:1443", "ORDERS_ADMIN_ADDR=127.0.0.1:1903", "ORDERS_ADDR=127.0.0.1:8103"} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %s: %v", want, env)
		}
	}
	if moved.PublicURL() != "https://localhost:1443" || NATSURL(moved) != "tls://127.0.0.1:1333" {
		t.Errorf("moved: %s %s", moved.PublicURL(), NATSURL(moved))
	}

	if _, err := LocalAddrs(getenv(map[string]string{"BROKER_ADDR": "4333"})); err == nil {
		t.Error("BROKER_ADDR without a host was accepted")
	}
}
