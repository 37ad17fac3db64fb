package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mercato.dev/edge"
	"mercato.dev/edge/devcert"
	"mercato.dev/edge/internal/accesslog"
	"mercato.dev/edge/internal/devedge"
	"mercato.dev/services/kit/config"
	"mercato.dev/services/kit/debug"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/telemetry"
)

// settings is the dev edge's configuration, read from the environment in main only.
type settings struct {
	WorkloadAPI  string // unix:///…/agent.sock
	XDSAddr      string
	AdminAddr    string
	DebugAddr    string // EDGE_DEBUG_ADDR: loopback pprof listener, off by default
	DevCertDir   string // "" when EDGE_DEV_CERT=off
	LogLevel     slog.Level
	DrainTimeout time.Duration
}

func loadConfig(getenv config.Getenv) (settings, error) {
	s := settings{
		WorkloadAPI: config.WorkloadAPI(getenv),
		XDSAddr:     config.Or(getenv("EDGE_XDS_ADDR"), "127.0.0.1:18000"),
		AdminAddr:   config.Or(getenv("EDGE_ADMIN_ADDR"), "127.0.0.1:9900"),
		DebugAddr:   getenv("EDGE_DEBUG_ADDR"),
		DevCertDir:  filepath.Join(config.DataDir(getenv), "edge"),
	}
	var errs []error
	if err := config.CheckLoopback(s.DebugAddr); err != nil {
		errs = append(errs, fmt.Errorf("EDGE_DEBUG_ADDR: %w", err))
	}
	switch v := config.Or(getenv("EDGE_DEV_CERT"), "on"); v {
	case "on":
	case "off":
		s.DevCertDir = ""
	default:
		errs = append(errs, fmt.Errorf("EDGE_DEV_CERT: %q is neither on nor off", v))
	}
	if err := s.LogLevel.UnmarshalText([]byte(config.Or(getenv("LOG_LEVEL"), "info"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %w", err))
	}
	var err error
	if s.DrainTimeout, err = config.Duration(getenv, "DRAIN_TIMEOUT", 20*time.Second); err != nil {
		errs = append(errs, err)
	}
	return s, errors.Join(errs...)
}

func run(ctx context.Context, s settings, args []string) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "serve":
		return serve(ctx, s)
	case "devcert":
		if s.DevCertDir == "" {
			return errors.New("EDGE_DEV_CERT=off")
		}
		f, err := devcert.Ensure(s.DevCertDir, time.Now())
		if err != nil {
			return err
		}
		fmt.Printf("ca=%s\ncert=%s\nkey=%s\n", f.CA, f.Cert, f.Key)
		return nil
	case "bootstrap":
		js, err := edge.LocalBootstrap(socketPath(s.WorkloadAPI), s.XDSAddr)
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(append(js, '\n'))
		return err
	default:
		return fmt.Errorf("unknown command %q (serve, devcert, bootstrap)", cmd)
	}
}

// socketPath is the file of a unix:// Workload API address, as Envoy's pipe address wants it.
func socketPath(addr string) string {
	p, _ := strings.CutPrefix(addr, "unix://")
	return p
}

func serve(ctx context.Context, s settings) error {
	logger := telemetry.NewLogger(os.Stderr, "edge", s.LogLevel)
	if s.DebugAddr != "" {
		go func() {
			if err := debug.Serve(ctx, s.DebugAddr, logger); err != nil {
				logger.Warn("debug listener", "addr", s.DebugAddr, "error", err.Error())
			}
		}()
	}
	if s.DevCertDir != "" {
		f, err := devcert.Ensure(s.DevCertDir, time.Now())
		if err != nil {
			return err
		}
		logger.Info("dev certificate ready", "ca", f.CA, "cert", f.Cert, "key", f.Key)
	}
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	src, err := identity.Open(openCtx, s.WorkloadAPI, identity.Edge)
	cancel()
	if err != nil {
		return err
	}
	defer src.Close()
	tracing, err := telemetry.SetupTracing(ctx, "edge", identity.Edge.String(), os.Getenv)
	if err != nil {
		return err
	}
	defer func() { _ = tracing.Shutdown(context.WithoutCancel(ctx)) }()
	metrics := telemetry.NewMetrics()
	metrics.BuildInfo("edge")
	metrics.WatchSVID(src)
	// Access lines (info) are buffered and reach stderr every telemetry.FlushInterval, and on
	// return; every other record is written at once. A crash loses the buffered lines.
	var access *accesslog.Logger
	if s.LogLevel <= slog.LevelInfo {
		buf := telemetry.NewBuffered(os.Stderr, telemetry.FlushInterval)
		defer func() { _ = buf.Close() }()
		access = accesslog.New(buf, "edge")
	}
	e, err := devedge.New(devedge.Options{
		Source:       src,
		XDSAddr:      s.XDSAddr,
		AdminAddr:    s.AdminAddr,
		Logger:       logger,
		AccessLog:    access,
		Metrics:      metrics,
		DrainTimeout: s.DrainTimeout,
	})
	if err != nil {
		return err
	}
	return e.Run(ctx)
}
