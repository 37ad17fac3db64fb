package kittest

import (
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

// CheckDeployment checks, statically (no Docker here), what a service ships besides its code,
// from the test of its cmd/<name> package: the Dockerfile builds the module alone (GOWORK=off
// from the repository root) and so copies every sibling module go.mod replaces, with go.sum; its
// build step uses no build tags (fault injection never reaches an image); and k8s/<name>.yaml
// sets the service's settings, the SPIFFE socket from the CSI driver, probes on the admin port,
// and env, the service's extra variables (NATS_URL, …).
func CheckDeployment(t *testing.T, name string, env ...string) {
	t.Helper()
	CheckDockerfile(t, "services/"+name)
	manifest := readFile(t, "../../k8s/"+name+".yaml")
	upper := strings.ToUpper(name)
	want := []string{upper + "_DATABASE_URL", upper + "_ADDR", "SPIFFE_ENDPOINT_SOCKET", "csi.spiffe.io", "path: /readyz", "path: /healthz", "serviceAccountName: " + name}
	for _, w := range append(want, env...) {
		if !strings.Contains(manifest, w) {
			t.Errorf("k8s/%s.yaml lacks %q", name, w)
		}
	}
}

// CheckDockerfile checks, from a test two directories below the module at dir (its path from
// the repository root, such as "services/orders" or "broker"), that the module's Dockerfile
// builds it alone (GOWORK=off from the repository root), copying every sibling module go.mod
// replaces, with go.sum, and that its build step uses no build tags.
func CheckDockerfile(t *testing.T, dir string) {
	t.Helper()
	gomod, dockerfile := readFile(t, "../../go.mod"), readFile(t, "../../Dockerfile")
	replaced := regexp.MustCompile(`=> (\.\./\S+)`).FindAllStringSubmatch(gomod, -1)
	if len(replaced) < 4 {
		t.Fatalf("go.mod replaces %d sibling modules, want proto, ent, certs and kit", len(replaced))
	}
	for _, m := range append(replaced, []string{"", "."}) {
		sibling := path.Join(dir, m[1])
		for _, want := range []string{"COPY " + sibling + " " + sibling, "COPY " + sibling + "/go.mod " + sibling + "/go.sum"} {
			if !strings.Contains(dockerfile, want) {
				t.Errorf("Dockerfile lacks %q", want)
			}
		}
	}
	if build := regexp.MustCompile(`(?m)^RUN .*go build.*$`).FindString(dockerfile); build == "" || strings.Contains(build, "-tags") {
		t.Errorf("Dockerfile build step %q: want one, without build tags", build)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
