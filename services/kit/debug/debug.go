// Package debug serves Go's profiling endpoints (net/http/pprof) on an opt-in loopback listener,
// <SERVICE>_DEBUG_ADDR, never on the admin port: the admin port binds the pod network in
// deployments, and profiles show memory contents and can be made to spend CPU.
//
//	go tool pprof http://127.0.0.1:6063/debug/pprof/profile?seconds=20
package debug

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"mercato.dev/services/kit/config"
)

// Serve serves pprof on addr (which must be a loopback address) until ctx ends.
func Serve(ctx context.Context, addr string, logger *slog.Logger) error {
	if err := config.CheckLoopback(addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	logger.Info("debug listener (pprof) on loopback", "addr", ln.Addr().String())
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
