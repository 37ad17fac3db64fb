package devedge_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
)

// TestAccessLogAndResponseFlags: every request leaves one access line (method, path, status,
// response flag, cluster, request ID, duration), and a request no route matches is flagged NR
// and counted in edge_response_flags_total.
func TestAccessLogAndResponseFlags(t *testing.T) {
	t.Parallel()
	h := startInventory(t, &fakeInventory{name: "inv"})
	if _, err := inventoryClient(h.client(true), h.base()).GetProduct(context.Background(), &inventoryv1.GetProductRequest{ProductId: productID}); err != nil {
		t.Fatal(err)
	}
	res, err := h.client(true).Post(h.base()+"/no.such.v1.Service/Method", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("unrouted: %d, want 404", res.StatusCode)
	}

	var lines []map[string]any
	for _, l := range strings.Split(h.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "access" {
			lines = append(lines, rec)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d access lines, want 2:\n%s", len(lines), h.logs.String())
	}
	ok, notFound := lines[0], lines[1]
	if ok["path"] != inventory+"GetProduct" || ok["status"] != 200.0 || ok["response_flags"] != "-" ||
		ok["upstream_cluster"] != "inventory" || ok["request_id"] == "" || ok["duration_ms"] == nil ||
		ok["service"] != "edge" || ok["level"] != "INFO" || ok["time"] == nil {
		t.Errorf("access line of a routed call: %v", ok)
	}
	if notFound["status"] != 404.0 || notFound["response_flags"] != "NR" || notFound["method"] != "POST" {
		t.Errorf("access line of an unrouted call: %v", notFound)
	}
	mres, err := http.Get("http://" + h.edge.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mres.Body)
	_ = mres.Body.Close()
	if want := `edge_response_flags_total{cluster="",flag="NR"} 1`; !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %s", want)
	}
}
