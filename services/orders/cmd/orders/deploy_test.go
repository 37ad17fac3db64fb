package main_test

import (
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfileCopiesEveryReplacedModule: the image builds this module with GOWORK=off from
// the repository root, so it needs every sibling module go.mod replaces, and its go.sum.
func TestDockerfileCopiesEveryReplacedModule(t *testing.T) {
	t.Parallel()
	checkDeploy(t, "services/orders", "orders")
}

// TestImageHasNoFaultInjection: the image is built without -tags faultinject.
func TestImageHasNoFaultInjection(t *testing.T) {
	t.Parallel()
	if build := regexp.MustCompile(`(?m)^RUN .*go build.*$`).FindString(read(t, "../../Dockerfile")); build == "" || strings.Contains(build, "-tags") {
		t.Errorf("Dockerfile build step %q: want one, without build tags", build)
	}
}

func checkDeploy(t *testing.T, dir, name string) {
	t.Helper()
	gomod := read(t, "../../go.mod")
	dockerfile := read(t, "../../Dockerfile")
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
	manifest := read(t, "../../k8s/"+name+".yaml")
	upper := strings.ToUpper(name)
	for _, want := range []string{upper + "_DATABASE_URL", upper + "_ADDR", "SPIFFE_ENDPOINT_SOCKET", "NATS_URL", "csi.spiffe.io", "path: /readyz", "path: /healthz", "serviceAccountName: " + name} {
		if !strings.Contains(manifest, want) {
			t.Errorf("k8s/%s.yaml lacks %q", name, want)
		}
	}
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
