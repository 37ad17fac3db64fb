package main_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestImageAndManifest: the image is built without -tags faultinject, and the manifest points
// the consumer at the broker.
func TestImageAndManifest(t *testing.T) {
	t.Parallel()
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if build := regexp.MustCompile(`(?m)^RUN .*go build.*$`).FindString(string(dockerfile)); build == "" || strings.Contains(build, "-tags") {
		t.Errorf("Dockerfile build step %q: want one, without build tags", build)
	}
	manifest, err := os.ReadFile("../../k8s/notifications.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NATS_URL", "NOTIFICATIONS_DATABASE_URL", "path: /readyz"} {
		if !strings.Contains(string(manifest), want) {
			t.Errorf("k8s/notifications.yaml lacks %q", want)
		}
	}
}
