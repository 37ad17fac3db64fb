package ops_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

var services = []string{"customers", "inventory", "orders", "payments", "notifications"}

// loadCompose parses ../compose.yaml exactly as `docker compose` would (no engine needed).
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../compose.yaml"}, cli.WithWorkingDirectory(".."), cli.WithName("mercato"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	return p
}

func TestComposeRunsThePlatform(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	for _, name := range append([]string{"postgres", "broker", "spire-server", "spire-agent", "xds", "edge"}, services...) {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("compose.yaml has no service %q", name)
		}
	}
	for _, name := range services {
		svc, err := p.GetService(name)
		if err != nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			upper := strings.ToUpper(name)
			if svc.Build == nil || svc.Build.Dockerfile != filepath.Join("services", name, "Dockerfile") {
				t.Errorf("build = %+v, want services/%s/Dockerfile from the repository root", svc.Build, name)
			}
			if _, err := os.Stat(filepath.Join("..", "services", name, "Dockerfile")); err != nil {
				t.Errorf("Dockerfile missing: %v", err)
			}
			env := func(k string) string {
				if v := svc.Environment[k]; v != nil {
					return *v
				}
				return ""
			}
			if got := env("SPIFFE_ENDPOINT_SOCKET"); got != "unix:///run/spire/sockets/agent.sock" {
				t.Errorf("SPIFFE_ENDPOINT_SOCKET = %q", got)
			}
			if got := env(upper + "_DATABASE_URL"); !strings.HasPrefix(got, "postgres://") || !strings.Contains(got, "/"+name+"?") {
				t.Errorf("%s_DATABASE_URL = %q: want its own PostgreSQL database", upper, got)
			}
			if !mountsSocket(svc) {
				t.Error("does not mount the SPIRE agent socket volume")
			}
			if got := env("NATS_URL"); got != "tls://broker:4333" {
				t.Errorf("NATS_URL = %q, want the broker over mTLS", got)
			}
			if len(svc.Ports) != 0 {
				t.Errorf("publishes ports %v: only the edge is reachable from outside", svc.Ports)
			}
		})
	}
	edge, err := p.GetService("edge")
	if err != nil {
		t.Fatal(err)
	}
	if len(edge.Ports) != 1 || edge.Ports[0].Published != "8443" {
		t.Errorf("edge ports = %+v, want 8443 only", edge.Ports)
	}
	if !mountsSocket(edge) {
		t.Error("edge (Envoy) does not mount the SPIRE socket it takes its SVID from over SDS")
	}
}

// TestComposeRunsTheBroker: the event bus is bin/broker (mTLS with its SVID from the agent
// socket, JetStream on a volume), never an anonymous NATS, and it is not reachable from outside.
func TestComposeRunsTheBroker(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	b, err := p.GetService("broker")
	if err != nil {
		t.Fatal(err)
	}
	if b.Build == nil || b.Build.Dockerfile != "broker/Dockerfile" || b.Image != "" {
		t.Errorf("broker build %+v image %q: want broker/Dockerfile", b.Build, b.Image)
	}
	if !mountsSocket(b) {
		t.Error("the broker does not mount the SPIRE agent socket")
	}
	store := b.Environment["BROKER_STORE_DIR"]
	if store == nil || !slices.ContainsFunc(b.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Type == "volume" && v.Target == *store }) {
		t.Errorf("BROKER_STORE_DIR %v is not on a named volume (%+v)", store, b.Volumes)
	}
	if len(b.Ports) != 0 {
		t.Errorf("the broker publishes ports %v", b.Ports)
	}
	for _, svc := range p.Services {
		if strings.HasPrefix(svc.Image, "nats") || strings.Contains(strings.Join(svc.Command, " "), "-js") {
			t.Errorf("service %s runs a plain NATS server (%s %v)", svc.Name, svc.Image, svc.Command)
		}
	}
}

func TestEveryServiceHasItsOwnDatabase(t *testing.T) {
	t.Parallel()
	init, err := os.ReadFile("compose/postgres-init.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range services {
		if !strings.Contains(string(init), "CREATE DATABASE "+name+";") {
			t.Errorf("postgres-init.sql creates no database %q", name)
		}
	}
}

func mountsSocket(s types.ServiceConfig) bool {
	for _, v := range s.Volumes {
		if v.Source == "spire-sockets" && v.Target == "/run/spire/sockets" {
			return true
		}
	}
	return false
}
