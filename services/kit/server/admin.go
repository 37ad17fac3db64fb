package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/identity"
)

// readiness is the set of checks behind /readyz. Readiness says this process can serve now:
// its SVID is valid and its own dependencies are up. It never depends on other services.
type readiness struct {
	logger   *slog.Logger
	mu       sync.Mutex
	checks   map[string]func(context.Context) error
	info     map[string]bool // checks shown in /readyz that never fail it
	draining atomic.Bool
}

func newReadiness(logger *slog.Logger) *readiness {
	return &readiness{logger: logger, checks: map[string]func(context.Context) error{}, info: map[string]bool{}}
}

func (r *readiness) Add(name string, check func(context.Context) error, informational bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks[name] = check
	r.info[name] = informational
}

// Drain turns readiness false for good: the process is shutting down.
func (r *readiness) Drain() { r.draining.Store(true) }

// Check runs every check concurrently and returns each one's outcome ("ok" or the error).
func (r *readiness) Check(ctx context.Context) (bool, map[string]string) {
	r.mu.Lock()
	checks, info := maps.Clone(r.checks), maps.Clone(r.info)
	r.mu.Unlock()
	results := make(map[string]string, len(checks)+1)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range slices.Sorted(maps.Keys(checks)) {
		wg.Go(func() {
			outcome := "ok"
			if err := checks[name](ctx); err != nil {
				outcome = err.Error()
			}
			mu.Lock()
			results[name] = outcome
			mu.Unlock()
		})
	}
	wg.Wait()
	if r.draining.Load() {
		results["shutdown"] = "draining"
	}
	ok := true
	for name, v := range results {
		ok = ok && (v == "ok" || info[name])
	}
	return ok, results
}

func (s *Server) adminMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.serveReadyz)
	mux.Handle("GET /metrics", s.opts.Metrics.Handler())
	return mux
}

func (s *Server) serveReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	ok, results := s.ready.Check(ctx)
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		s.opts.Logger.Warn("not ready", "checks", results)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"service": s.opts.Name, "ready": ok, "checks": results})
}

// registerHealth serves grpc.health.v1.Health/Check on the mTLS listener, for the edge's and
// operators' health checks; it answers with the same readiness as /readyz.
func (s *Server) registerHealth() {
	const procedure = "/grpc.health.v1.Health/Check"
	h := connect.NewUnaryHandlerSimple(procedure, s.healthCheck, s.HandlerOptions()...)
	s.Handle("/grpc.health.v1.Health/", h, authz.Rules{
		procedure: authz.Allow(identity.Edge, identity.XDS, identity.OpsCLI),
	})
}

func (s *Server) healthCheck(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	status := healthpb.HealthCheckResponse_SERVING
	if ok, _ := s.ready.Check(ctx); !ok {
		status = healthpb.HealthCheckResponse_NOT_SERVING
	}
	return &healthpb.HealthCheckResponse{Status: status}, nil
}
