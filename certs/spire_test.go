package certs_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/hashicorp/hcl"
	"mercato.dev/certs/issuer"
)

// entryLine matches `entry spiffe://… <selector value>` in the entry scripts.
var entryLine = regexp.MustCompile(`(?m)^entry (spiffe://\S+)\s+\S+\s*$`)

func TestSPIREEntriesNameTheRegisteredIDs(t *testing.T) {
	t.Parallel()
	var want []string
	for _, e := range loadRegistrations(t) {
		want = append(want, e.ID.String())
	}
	slices.Sort(want)
	for _, script := range []string{"spire/compose/entries.sh", "spire/k8s/entries.sh"} {
		t.Run(script, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, m := range entryLine.FindAllStringSubmatch(readFile(t, script), -1) {
				got = append(got, m[1])
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s registers\n  %q\nregistrations.yaml\n  %q", script, got, want)
			}
		})
	}
}

// spireConf is the part of a SPIRE configuration the tests check.
type spireConf struct {
	Server  map[string]any `hcl:"server"`
	Agent   map[string]any `hcl:"agent"`
	Plugins map[string]any `hcl:"plugins"`
}

func TestSPIREConfigs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file     string
		section  string
		settings map[string]string
		plugins  []string // "Type name"
	}{
		{"spire/compose/server.conf", "server", serverSettings, []string{"DataStore sql", "KeyManager disk", "NodeAttestor x509pop"}},
		{"spire/compose/agent.conf", "agent", agentSettings, []string{"NodeAttestor x509pop", "WorkloadAttestor docker", "WorkloadAttestor unix"}},
		{"spire/k8s/server.conf", "server", serverSettings, []string{"DataStore sql", "KeyManager disk", "NodeAttestor k8s_psat", "Notifier k8sbundle"}},
		{"spire/k8s/agent.conf", "agent", agentSettings, []string{"NodeAttestor k8s_psat", "WorkloadAttestor k8s"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			conf := parseSPIREConf(t, tt.file)
			section := conf.Server
			if tt.section == "agent" {
				section = conf.Agent
			}
			checkSettings(t, section, tt.settings)
			checkPlugins(t, conf.Plugins, tt.plugins)
		})
	}
}

// serverSettings are the server values that must agree with the local issuer.
var serverSettings = map[string]string{
	"trust_domain":          "mercato.local",
	"ca_key_type":           "ec-p256",
	"ca_ttl":                issuer.DefaultCATTL.String(),
	"default_x509_svid_ttl": "1h",
}

// agentSettings are the agent values that must agree with the local issuer.
var agentSettings = map[string]string{
	"trust_domain":                "mercato.local",
	"workload_x509_svid_key_type": "ec-p256",
	"socket_path":                 "/run/spire/sockets/agent.sock",
}

func parseSPIREConf(t *testing.T, file string) spireConf {
	t.Helper()
	var conf spireConf
	if err := hcl.Decode(&conf, readFile(t, file)); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return conf
}

func checkSettings(t *testing.T, section map[string]any, want map[string]string) {
	t.Helper()
	for key, value := range want {
		if got := section[key]; got != value && !durationEqual(got, value) {
			t.Errorf("%s = %v, want %q", key, got, value)
		}
	}
	if sds, ok := section["sds"]; ok {
		checkSDS(t, sds)
	} else if _, isAgent := section["server_address"]; isAgent {
		t.Error("agent has no sds section")
	}
}

// checkSDS wants the secret names and validation context the issuer serves.
func checkSDS(t *testing.T, raw any) {
	t.Helper()
	blocks, _ := raw.([]map[string]any)
	if len(blocks) != 1 {
		t.Fatalf("sds: want one block, got %#v", raw)
	}
	sds := blocks[0]
	if sds["default_svid_name"] != "default" || sds["default_bundle_name"] != "ROOTCA" || sds["disable_spiffe_cert_validation"] != true {
		t.Errorf("sds = %v, want default_svid_name default, default_bundle_name ROOTCA, disable_spiffe_cert_validation true", sds)
	}
}

// durationEqual compares "168h" and "168h0m0s".
func durationEqual(got any, want string) bool {
	s, ok := got.(string)
	return ok && (s+"0m0s" == want || s == want)
}

func checkPlugins(t *testing.T, plugins map[string]any, want []string) {
	t.Helper()
	var got []string
	for typ, raw := range plugins {
		for _, block := range raw.([]map[string]any) {
			for name := range block {
				got = append(got, typ+" "+name)
			}
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("plugin %q missing; have %q", w, got)
		}
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
