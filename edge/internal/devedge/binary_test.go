package devedge_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
)

// TestEdgeBinary runs cmd/edge as make up does: its SVID from the Workload API, its dev
// certificate created under MERCATO_DATA, its configuration from the control plane; it becomes
// ready, proxies, and stops cleanly on SIGTERM.
func TestEdgeBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the edge binary")
	}
	t.Parallel()
	h := newHarness(t)
	bin := kittest.Build(t, "mercato.dev/edge/cmd/edge")
	h.env.Register(identity.Edge, bin)
	data := t.TempDir()
	f := &fakeInventory{name: "inv"}
	cfg := h.baseConfig(h.serve("inventory", f.register))
	cfg.listenAddr = deadAddr(t)
	cfg.certFile, cfg.keyFile = filepath.Join(data, "edge", "cert.pem"), filepath.Join(data, "edge", "key.pem")
	h.push(cfg)

	admin := deadAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "SPIFFE_ENDPOINT_SOCKET="+h.env.Addr, "EDGE_XDS_ADDR="+h.ads, "EDGE_ADMIN_ADDR="+admin,
		"MERCATO_DATA="+data, "LOG_LEVEL=debug", "DRAIN_TIMEOUT=2s")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("edge logs:\n%s", logs.String())
		}
	})

	start := time.Now()
	for {
		res, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("edge not ready after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("edge binary ready in %v", time.Since(start).Round(time.Millisecond))

	client := clientTrusting(t, filepath.Join(data, "edge", "ca.pem"), true)
	res, err := inventoryClient(client, "https://"+cfg.listenAddr).GetProduct(context.Background(), &inventoryv1.GetProductRequest{ProductId: productID})
	if err != nil || res.GetProduct().GetName() != "inv" {
		t.Fatalf("through the edge binary: %v %v", res, err)
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("edge exited with %v after SIGTERM", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("edge ignored SIGTERM")
	}
}
