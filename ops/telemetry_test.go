package ops_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"mercato.dev/ops/alerts"
)

// exportedMetrics collects the metric names the repository's Go code declares (the Name of
// every Prometheus collector option), read from the sources.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	decl := regexp.MustCompile(`Name:\s+"([a-z_:][a-z0-9_:]*)"`)
	names := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "gen" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllStringSubmatch(string(src), -1) {
			names[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestAlertRules: alerts.yaml parses strictly, every rule is complete, it covers what the
// platform must alert on, and every metric it names is one the code exports.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	f, err := alerts.Load("compose/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	exported := exportedMetrics(t)
	for _, name := range f.Metrics() {
		if !exported[name] {
			t.Errorf("alerts.yaml uses %s, which no process exports", name)
		}
	}
	var names []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
		}
	}
	for _, want := range []string{"SVIDAboutToExpire", "OutboxBacklogOld", "ConsumerLagging", "CircuitBreakerOpen", "Edge5xxRatio", "SagasPending"} {
		if !slices.Contains(names, want) {
			t.Errorf("no alert %s (have %v)", want, names)
		}
	}
}

// TestGrafanaDashboard: the provisioned dashboard is valid JSON whose every query names
// exported metrics only.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("compose/grafana/dashboards/mercato.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("mercato.json: %v", err)
	}
	if d.UID == "" || len(d.Panels) < 10 {
		t.Fatalf("dashboard uid %q with %d panels", d.UID, len(d.Panels))
	}
	exported := exportedMetrics(t)
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, name := range alerts.MetricNames(tg.Expr) {
				if !exported[name] {
					t.Errorf("panel %q queries %s, which no process exports", p.Title, name)
				}
			}
		}
	}
}

// TestComposeTelemetry: compose runs the collector, Jaeger, Prometheus and Grafana with the
// files they need; every service exports its spans to the collector; Prometheus scrapes every
// admin port compose declares and loads the alert rules.
func TestComposeTelemetry(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	for _, name := range []string{"otel-collector", "jaeger", "prometheus", "grafana"} {
		svc, err := p.GetService(name)
		if err != nil {
			t.Errorf("compose.yaml has no service %q", name)
			continue
		}
		for _, v := range svc.Volumes {
			if v.Type == "bind" {
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("%s mounts %s: %v", name, v.Source, err)
				}
			}
		}
		for _, port := range svc.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s:%s beyond the host's loopback", name, port.HostIP, port.Published)
			}
		}
	}
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	data, err := os.ReadFile("compose/prometheus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &prom); err != nil {
		t.Fatalf("prometheus.yaml: %v", err)
	}
	targets := map[string]bool{}
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				targets[tg] = true
			}
		}
	}
	if !slices.Contains(prom.RuleFiles, "/etc/prometheus/alerts.yaml") {
		t.Errorf("prometheus.yaml rule_files %v lack alerts.yaml", prom.RuleFiles)
	}
	for _, svc := range p.Services {
		for k, v := range svc.Environment {
			if !strings.HasSuffix(k, "_ADMIN_ADDR") || v == nil {
				continue
			}
			_, port, _ := strings.Cut(*v, ":")
			if want := svc.Name + ":" + port; !targets[want] {
				t.Errorf("prometheus.yaml does not scrape %s (%s=%s)", want, k, *v)
			}
		}
		if slices.Contains(services, svc.Name) {
			if ep := svc.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]; ep == nil || *ep != "http://otel-collector:4317" {
				t.Errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT = %v, want the collector", svc.Name, ep)
			}
		}
	}
	if !targets["edge:9902"] {
		t.Error("prometheus.yaml does not scrape Envoy's stats listener (edge:9902)")
	}
}
