package app_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// webtest is the connect-es harness (edge/webtest): npm packages pinned by its lock file.
const webtest = "../../../edge/webtest"

// TestLocalRepliesToConnectES: the browser's Connect client (connect-es over fetch: Connect
// JSON, Connect binary, gRPC-Web) receives each of the edge's own replies as a ConnectError
// with the right code and a message. Installs the harness's npm packages on first use.
func TestLocalRepliesToConnectES(t *testing.T) {
	e := startLimitedEdge(t)
	bundle := buildHarness(t)
	cmd := exec.Command("node", bundle)
	cmd.Env = append(os.Environ(),
		"EDGE_URL="+e.base,
		"NODE_EXTRA_CA_CERTS="+e.caFile,
		"TOKEN_OTHER_AUDIENCE="+e.token(t, "another-service"),
		"TOKEN_VALID="+e.token(t, "mercato"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node harness: %v\n%s", err, stderr.String())
	}
	t.Logf("connect-es harness ran in %s", time.Since(start).Round(time.Millisecond))
	want := map[int]string{401: "Unauthenticated", 403: "PermissionDenied", 404: "Unimplemented", 413: "ResourceExhausted",
		429: "ResourceExhausted", 503: "Unavailable", 504: "DeadlineExceeded"}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r struct {
			Status                  int
			Protocol, Code, Message string
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("harness output %q: %v", sc.Text(), err)
		}
		seen++
		if r.Code != want[r.Status] || r.Message == "" {
			t.Errorf("%d over connect-es %s: %s %q, want %s with a message", r.Status, r.Protocol, r.Code, r.Message, want[r.Status])
		} else {
			t.Logf("%d over connect-es %s: %s: %s", r.Status, r.Protocol, r.Code, r.Message)
		}
	}
	if seen != len(want)*3 {
		t.Errorf("%d results from the harness, want %d", seen, len(want)*3)
	}
}

// buildHarness installs edge/webtest's packages (npm ci, once) and bundles harness.ts with
// the generated TypeScript of the contracts into one ES module.
func buildHarness(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(webtest, "node_modules", ".package-lock.json")); err != nil {
		start := time.Now()
		npm := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		npm.Dir = webtest
		if out, err := npm.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in edge/webtest (needs Node.js and the npm registry): %v\n%s", err, out)
		}
		t.Logf("npm ci in edge/webtest: %s", time.Since(start).Round(time.Millisecond))
	}
	modules, err := filepath.Abs(filepath.Join(webtest, "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "harness.mjs")
	esbuild := exec.Command(filepath.Join(modules, ".bin", "esbuild"), "harness.ts", "--bundle", "--platform=node",
		"--format=esm", "--target=node20", "--log-level=warning", "--outfile="+bundle)
	esbuild.Dir = webtest
	esbuild.Env = append(os.Environ(), "NODE_PATH="+modules) // the generated code lives outside edge/webtest
	if out, err := esbuild.CombinedOutput(); err != nil {
		t.Fatalf("esbuild: %v\n%s", err, out)
	}
	return bundle
}
