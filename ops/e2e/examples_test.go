package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/services/kit/kittest"
)

// TestClientExamples runs the README's client examples (ops/examples) against the platform,
// through the edge, as a fresh customer: grpc-go with the generated stubs, connect-go over each
// protocol, curl with JSON and buf curl with the committed schema image. Each must show the
// validation error and place (or list) a CONFIRMED order. It also checks that every example
// excerpt in the README's "Clients" section is still in the file it quotes.
func TestClientExamples(t *testing.T) {
	p := the(t)
	email := fmt.Sprintf("examples-%d@e2e.mercato.test", time.Now().UnixNano())
	const password = "examples-password-1"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err := p.client(t, "connect").customers.CreateCustomer(ctx, &customersv1.CreateCustomerRequest{Email: email, Password: password, DisplayName: "Examples"})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"EDGE="+p.base,
		"CA="+filepath.Join(p.edgeDir, "edge", "ca.pem"),
		"EMAIL="+email,
		"PASSWORD="+password,
	)
	grpcGo := kittest.Build(t, "mercato.dev/ops/examples/grpc-go")
	connectGo := kittest.Build(t, "mercato.dev/ops/examples/connect-go")
	for _, bin := range []string{grpcGo, connectGo} {
		t.Cleanup(func() { _ = os.RemoveAll(filepath.Dir(bin)) })
	}
	confirmed := regexp.MustCompile(`ORDER_STATUS_CONFIRMED`)
	examples := []struct {
		name string
		cmd  []string
		env  []string
		want []*regexp.Regexp
	}{
		{"grpc-go", []string{grpcGo}, nil, []*regexp.Regexp{
			regexp.MustCompile(`CreateCustomer with bad input: InvalidArgument\n  email: .+\n  password: .+`),
			regexp.MustCompile(`order [0-9a-f-]{36}: ORDER_STATUS_CONFIRMED, total \d+ EUR`),
		}},
		{"connect-go over connect", []string{connectGo}, []string{"PROTOCOL=connect"}, []*regexp.Regexp{regexp.MustCompile(`invalid_argument, 1 detail`), confirmed}},
		{"connect-go over grpc", []string{connectGo}, []string{"PROTOCOL=grpc"}, []*regexp.Regexp{regexp.MustCompile(`invalid_argument, 1 detail`), confirmed}},
		{"connect-go over grpc-web", []string{connectGo}, []string{"PROTOCOL=grpc-web"}, []*regexp.Regexp{regexp.MustCompile(`invalid_argument, 1 detail`), confirmed}},
		{"curl", []string{"bash", "ops/examples/curl.sh"}, nil, []*regexp.Regexp{
			regexp.MustCompile(`first product in stock: [0-9a-f-]{36}`),
			regexp.MustCompile(`\{"code":"invalid_argument","message":".*email.*"\}`),
			regexp.MustCompile(`\{"orderId":"[0-9a-f-]{36}","status":"ORDER_STATUS_CONFIRMED","total":\{"amountMinor":"\d+","currency":"EUR"\}\}`),
		}},
		{"buf curl", []string{"bash", "ops/examples/buf-curl.sh"}, nil, []*regexp.Regexp{
			regexp.MustCompile(`\{"protocol":"connect","products":\[".+"\]\}`),
			regexp.MustCompile(`\{"protocol":"grpc","products":\[".+"\]\}`),
			regexp.MustCompile(`\{"protocol":"grpcweb","products":\[".+"\]\}`),
			regexp.MustCompile(`\{"code":"invalid_argument","violations":\[\{"field":"email","message":"[^"]+"\},\{"field":"password"`),
			regexp.MustCompile(`\{"orders":\[.*\{"orderId":"[0-9a-f-]{36}","status":"ORDER_STATUS_CONFIRMED"\}`),
		}},
	}
	for _, ex := range examples {
		t.Run(strings.ReplaceAll(ex.name, " ", "_"), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, ex.cmd[0], ex.cmd[1:]...)
			cmd.Dir = repoRoot // the examples run from the repository root
			cmd.Env = append(append([]string{}, env...), ex.env...)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			t.Logf("%s (%s):\n%s", strings.Join(ex.cmd, " "), time.Since(start).Round(time.Millisecond), out)
			if err != nil {
				t.Fatalf("%s: %v", ex.name, err)
			}
			for _, re := range ex.want {
				if !re.Match(out) {
					t.Errorf("%s: output lacks %s", ex.name, re)
				}
			}
		})
	}
	checkReadmeExcerpts(t)
}

// checkReadmeExcerpts: a code block of the README preceded by `<!-- example: PATH -->` is an
// excerpt of PATH; each of its lines must be a line of that file.
func checkReadmeExcerpts(t *testing.T) {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- example: (\\S+) -->\n```[a-z]*\n(.*?)```")
	blocks := re.FindAllSubmatch(readme, -1)
	if len(blocks) < 4 {
		t.Fatalf("README: %d example excerpts, want one each for the browser, grpc-go, connect-go, curl and buf curl", len(blocks))
	}
	for _, b := range blocks {
		file, err := os.ReadFile(filepath.Join(repoRoot, string(b[1])))
		if err != nil {
			t.Errorf("README quotes %s: %v", b[1], err)
			continue
		}
		have := map[string]bool{}
		for _, l := range strings.Split(string(file), "\n") {
			have[strings.TrimSpace(l)] = true
		}
		for _, l := range strings.Split(string(b[2]), "\n") {
			if l = strings.TrimSpace(l); l != "" && l != "…" && !have[l] {
				t.Errorf("README's excerpt of %s: %q is not in the file", b[1], l)
			}
		}
	}
}
