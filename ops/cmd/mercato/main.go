// Command mercato is the operator's CLI. `mercato up` runs the whole platform locally;
// `mercato trace <order-id|trace-id>` prints the waterfall of a trace from Jaeger.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"mercato.dev/ops/stack"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) > 0 && args[0] == "trace" {
		return runTrace(args[1:])
	}
	if len(args) == 0 || args[0] != "up" {
		fmt.Fprintln(os.Stderr, "usage: mercato up [-root DIR] [-data DIR] | mercato trace <order-id|trace-id>")
		return 2
	}
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	root := fs.String("root", ".", "repository root (binaries in <root>/bin)")
	data := fs.String("data", envOr("MERCATO_DATA", ".data"), "data directory (MERCATO_DATA)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := up(ctx, *root, *data); err != nil {
		fmt.Fprintln(os.Stderr, "mercato up:", err)
		return 1
	}
	return 0
}

func up(ctx context.Context, root, data string) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	if data, err = filepath.Abs(data); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	addrs, err := stack.LocalAddrs(os.Getenv)
	if err != nil {
		return err
	}
	if err := stack.Prepare(root, data); err != nil {
		return err
	}
	components, missing := stack.Local(root, data, addrs)
	if len(missing) > 0 {
		logger.Warn("not built, left out", "binaries", missing)
	}
	s := &stack.Stack{Components: components, LogDir: filepath.Join(data, "logs"), ReadyTimeout: 60 * time.Second, Logger: logger}
	start := time.Now()
	return s.Run(ctx, func() {
		ready := time.Since(start)
		if err := stack.Seed(ctx, addrs.PublicURL(), filepath.Join(data, "edge", "ca.pem")); err != nil {
			logger.Warn("demo data not seeded", "error", err.Error())
		}
		fmt.Print(stack.Summary(components, data, addrs))
		fmt.Printf("(all ready in %s, seeded in %s)\n", ready.Round(time.Millisecond), (time.Since(start) - ready).Round(time.Millisecond))
	})
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
