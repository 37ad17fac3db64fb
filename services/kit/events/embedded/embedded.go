// Package embedded runs a NATS server with JetStream inside the process: the broker of the
// local platform (`mercato up` serves it at 127.0.0.1:4333) and of tests that stop and restart
// a broker on the same store.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configures Start.
type Options struct {
	// Dir holds JetStream's storage; a server started again on the same Dir finds its streams,
	// messages, consumers and duplicate-detection state. Required.
	Dir string
	// Host is the listening address (default 127.0.0.1).
	Host string
	// Port is the client port; 0 picks a free one (read it back with Server.Port, and pass it
	// to restart a server where its clients reconnect).
	Port int
	// Name is the server name (default "mercato").
	Name string
	// Logger receives the server's notices, warnings and errors (default: none).
	Logger *slog.Logger
}

// Server is a running embedded NATS server.
type Server struct {
	ns   *server.Server
	url  string
	port int
}

// Start starts a NATS server with JetStream storing under opts.Dir and waits, within ctx (at
// most 10 s without a deadline), until it accepts clients. The server runs until Shutdown;
// it installs no signal handlers.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("embedded nats: Options.Dir is required")
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Name == "" {
		opts.Name = "mercato"
	}
	port := opts.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: opts.Name,
		Host:       opts.Host,
		Port:       port,
		JetStream:  true,
		StoreDir:   opts.Dir,
		NoSigs:     true,
		NoLog:      opts.Logger == nil,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if opts.Logger != nil {
		ns.SetLoggerV2(slogAdapter{opts.Logger.With("component", "nats-server")}, false, false, false)
	}
	go ns.Start()
	wait := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl)
	}
	if !ns.ReadyForConnections(wait) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats: not ready after %s on %s", wait, net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port)))
	}
	return &Server{ns: ns, url: ns.ClientURL(), port: ns.Addr().(*net.TCPAddr).Port}, nil
}

// URL is the client URL, nats://host:port.
func (s *Server) URL() string { return s.url }

// Port is the client port the server listens on.
func (s *Server) Port() int { return s.port }

// NATS returns the server itself.
func (s *Server) NATS() *server.Server { return s.ns }

// Shutdown stops the server, closing its clients and flushing JetStream storage, and waits
// until it is done. It may be called more than once.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// slogAdapter writes nats-server logs to slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
