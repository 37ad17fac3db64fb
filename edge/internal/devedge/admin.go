package devedge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func (e *Edge) adminMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", e.serveReadyz)
	mux.Handle("GET /metrics", e.opts.Metrics.Handler())
	mux.HandleFunc("GET /clusters", e.serveClusters)
	mux.HandleFunc("GET /config_dump", e.serveConfigDump)
	return mux
}

func (e *Edge) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	status := map[string]any{"service": "edge", "ready": true}
	if err := e.Ready(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		status["ready"], status["reason"] = false, err.Error()
	}
	_ = json.NewEncoder(w).Encode(status)
}

// serveClusters shows each cluster's endpoints and whether outlier detection ejected them.
func (e *Edge) serveClusters(w http.ResponseWriter, _ *http.Request) {
	out := map[string]map[string]string{}
	if cfg := e.current.Load(); cfg != nil {
		for name, c := range cfg.clusters {
			eps := map[string]string{}
			for addr, ejected := range c.Endpoints() {
				eps[addr] = map[bool]string{true: "ejected", false: "healthy"}[ejected]
			}
			out[name] = eps
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// serveConfigDump shows the accepted xDS resources and their versions, like Envoy's /config_dump.
func (e *Edge) serveConfigDump(w http.ResponseWriter, _ *http.Request) {
	cfg := e.current.Load()
	if cfg == nil {
		http.Error(w, "no configuration yet", http.StatusServiceUnavailable)
		return
	}
	dump := map[string]any{"versions": cfg.res.versions}
	add := func(kind string, msgs map[string]proto.Message) {
		m := map[string]json.RawMessage{}
		for name, msg := range msgs {
			b, _ := protojson.Marshal(msg)
			m[name] = b
		}
		dump[kind] = m
	}
	add("listeners", asMessages(cfg.res.listeners))
	add("routes", asMessages(cfg.res.routes))
	add("clusters", asMessages(cfg.res.clusters))
	add("endpoints", asMessages(cfg.res.endpoints))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(dump)
}

func asMessages[M proto.Message](in map[string]M) map[string]proto.Message {
	out := make(map[string]proto.Message, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// jwksFetcher fetches JWKS documents through the clusters of the configuration in force.
type jwksFetcher struct{ e *Edge }

func (f jwksFetcher) Fetch(ctx context.Context, cluster, uri string) ([]byte, error) {
	cfg := f.e.current.Load()
	if cfg == nil || cfg.clusters[cluster] == nil {
		return nil, fmt.Errorf("cluster %s not configured", cluster)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Host = u.Host
	res, err := cfg.clusters[cluster].RoundTrip(req, nil)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", uri, res.Status)
	}
	return io.ReadAll(io.LimitReader(res.Body, 1<<20))
}
