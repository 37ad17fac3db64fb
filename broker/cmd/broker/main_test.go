package main_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"gopkg.in/yaml.v3"

	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
)

// composeEnv is the environment compose.yaml gives the broker service.
func composeEnv(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("../../../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	env := compose.Services["broker"].Environment
	if len(env) == 0 {
		t.Fatal("compose.yaml has no broker service with an environment")
	}
	return env
}

// TestBinaryWithTheComposeConfiguration runs bin/broker with the environment compose.yaml gives
// it — only the socket path, the store directory and the ports adapted — under the SVID of
// spiffe://mercato.local/broker from a test issuer, then attacks it (eventstest.CheckBusAuthz:
// no TLS, no certificate, a foreign trust domain, identities outside the table, forged order
// events, reading another's stream) and stops it with SIGTERM.
func TestBinaryWithTheComposeConfiguration(t *testing.T) {
	t.Parallel()
	env := kittest.Start(t, []spiffeid.ID{identity.Service("orders")})
	bin := kittest.Build(t, "mercato.dev/broker/cmd/broker")
	env.Register(identity.Broker, bin)

	vars := composeEnv(t)
	for _, k := range []string{"SPIFFE_ENDPOINT_SOCKET", "BROKER_ADDR", "BROKER_ADMIN_ADDR", "BROKER_STORE_DIR"} {
		if vars[k] == "" {
			t.Fatalf("compose.yaml does not set %s for the broker", k)
		}
	}
	vars["SPIFFE_ENDPOINT_SOCKET"] = env.Addr
	vars["BROKER_STORE_DIR"] = t.TempDir()
	vars["BROKER_ADDR"] = withPort(t, vars["BROKER_ADDR"])
	vars["BROKER_ADMIN_ADDR"] = withPort(t, vars["BROKER_ADMIN_ADDR"])
	cmd := exec.Command(bin)
	cmd.Env = os.Environ()
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("broker logs:\n%s", logs.String())
		}
	})
	_, port, _ := net.SplitHostPort(vars["BROKER_ADDR"])
	_, adminPort, _ := net.SplitHostPort(vars["BROKER_ADMIN_ADDR"])
	awaitReady(t, "http://127.0.0.1:"+adminPort, exited)

	eventstest.CheckBusAuthz(t, env, "tls://127.0.0.1:"+port)

	metrics := get(t, "http://127.0.0.1:"+adminPort+"/metrics")
	if !strings.Contains(metrics, "broker_client_connections") || !strings.Contains(metrics, "broker_svid_expiry_seconds") {
		t.Errorf("/metrics lacks the broker's gauges")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("broker exited with %v after SIGTERM", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("broker still running 15s after SIGTERM")
	}
}

// TestConfigurationErrorsExitEarly: a bad address is a configuration error (exit 2), not a
// broker that listens somewhere else.
func TestConfigurationErrorsExitEarly(t *testing.T) {
	t.Parallel()
	bin := kittest.Build(t, "mercato.dev/broker/cmd/broker")
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "BROKER_ADDR=nonsense", "MERCATO_DATA="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 2 || !strings.Contains(string(out), "BROKER_ADDR") {
		t.Fatalf("exit %v, output %q: want exit 2 naming BROKER_ADDR", err, out)
	}
	cmd = exec.Command(bin)
	cmd.Env = append(os.Environ(), "BROKER_DEBUG_ADDR=0.0.0.0:6067", "MERCATO_DATA="+t.TempDir())
	out, err = cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 2 || !strings.Contains(string(out), "BROKER_DEBUG_ADDR") {
		t.Fatalf("exit %v, output %q: want exit 2 naming BROKER_DEBUG_ADDR (not a loopback address)", err, out)
	}
}

// TestDockerfile: the image builds the module alone, without build tags.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	kittest.CheckDockerfile(t, "broker")
}

// withPort keeps addr's host and takes a free port.
func withPort(t *testing.T, addr string) string {
	t.Helper()
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%q: %v", addr, err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return net.JoinHostPort(host, port)
}

// awaitReady polls /readyz for up to 30 s.
func awaitReady(t *testing.T, admin string, exited <-chan error) {
	t.Helper()
	start := time.Now()
	for {
		select {
		case err := <-exited:
			t.Fatalf("broker exited before ready: %v", err)
		default:
		}
		if res, err := http.Get(admin + "/readyz"); err == nil {
			var body struct {
				Ready  bool              `json:"ready"`
				Checks map[string]string `json:"checks"`
			}
			_ = json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK && body.Ready && body.Checks["svid"] == "ok" && body.Checks["nats"] == "ok" {
				t.Logf("broker ready in %s", time.Since(start).Round(time.Millisecond))
				return
			}
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("broker not ready after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}
