package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"mercato.dev/services/kit/debug"
	"mercato.dev/services/kit/events/embedded"
	"mercato.dev/services/kit/identity"
)

// run serves until ctx ends, then stops the admin listener and the broker (flushing JetStream).
func run(ctx context.Context, cfg settings, logger *slog.Logger) error {
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	src, err := identity.Open(openCtx, cfg.WorkloadAPI, identity.Broker)
	cancel()
	if err != nil {
		return err
	}
	defer src.Close()
	logger.Info("identity loaded", "spiffe_id", identity.Broker.String(), "workload_api", cfg.WorkloadAPI)
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	srv, err := embedded.Start(startCtx, embedded.Options{
		Dir: cfg.StoreDir, Host: cfg.Host, Port: cfg.Port, Name: "mercato-broker", Source: src, Logger: logger,
	})
	cancel()
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	ln, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	admin := &http.Server{Handler: adminMux(srv, src), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	go func() { _ = admin.Serve(ln) }()
	if cfg.DebugAddr != "" {
		go func() {
			if err := debug.Serve(ctx, cfg.DebugAddr, logger); err != nil {
				logger.Warn("debug listener", "addr", cfg.DebugAddr, "error", err.Error())
			}
		}()
	}
	logger.Info("serving", "addr", srv.URL(), "admin", ln.Addr().String(), "store", cfg.StoreDir)
	<-ctx.Done()
	logger.Info("stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return admin.Shutdown(shutdownCtx)
}

// adminMux serves /healthz (the process runs), /readyz (SVID valid and not near expiry, the
// server accepting clients with JetStream on) and /metrics.
func adminMux(srv *embedded.Server, src *workloadapi.X509Source) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "broker_client_connections", Help: "Client connections open now."},
			func() float64 { return float64(srv.NATS().NumClients()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "broker_svid_expiry_seconds", Help: "Seconds until the broker's SVID expires."},
			func() float64 {
				svid, err := src.GetX509SVID()
				if err != nil {
					return 0
				}
				return time.Until(svid.Certificates[0].NotAfter).Seconds()
			}))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		checks := map[string]string{"svid": "ok", "nats": "ok"}
		if err := identity.CheckSVID(src, time.Now()); err != nil {
			checks["svid"] = err.Error()
		}
		if err := serving(srv); err != nil {
			checks["nats"] = err.Error()
		}
		status := http.StatusOK
		if checks["svid"] != "ok" || checks["nats"] != "ok" {
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"ready": status == http.StatusOK, "checks": checks})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// serving reports whether the NATS server accepts clients with JetStream on.
func serving(srv *embedded.Server) error {
	ns := srv.NATS()
	switch {
	case !ns.Running():
		return errors.New("not running")
	case !ns.JetStreamEnabled():
		return errors.New("JetStream off")
	case ns.Addr() == nil:
		return errors.New("not listening")
	}
	return nil
}
