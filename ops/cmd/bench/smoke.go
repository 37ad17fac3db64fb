package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"mercato.dev/ops/bench"
)

// smoke runs the current build once on free ports and fails on any platform error.
func smoke(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("smoke", flag.ContinueOnError)
	root := fs.String("root", ".", "repository root (binaries in <root>/bin, built by make build)")
	n := fs.Int("n", 150, "CreateOrder calls, and as many GetProduct calls, after as many again to warm up")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := filepath.Abs(*root)
	if err != nil {
		return err
	}
	start := time.Now()
	data, err := os.MkdirTemp("", "mbs") // short: the issuer's socket path must stay under 107 bytes
	if err != nil {
		return err
	}
	ports, err := bench.FreePorts()
	if err != nil {
		return err
	}
	p := &bench.Platform{Name: "current", Root: r, Data: data, Env: ports}
	if err := p.Start(ctx, 2*time.Minute); err != nil {
		_ = p.Stop(30 * time.Second)
		return fmt.Errorf("%w (data kept in %s)", err, data)
	}
	fmt.Printf("bench smoke: platform up on free ports (edge %s, data %s) in %s\n", p.EdgeURL(), data, time.Since(start).Round(time.Millisecond))
	_, runErr := runLoadgen(ctx, r, p, "-steps", "orders:c8,product:c8", "-n", fmt.Sprint(*n), "-warmup", fmt.Sprint(*n),
		"-fail-on-error", "-check-notifications")
	stopErr := p.Stop(time.Minute)
	if err := errors.Join(runErr, stopErr); err != nil {
		return fmt.Errorf("%w (data kept in %s)", err, data)
	}
	fmt.Printf("bench smoke: passed in %s\n", time.Since(start).Round(time.Millisecond))
	return os.RemoveAll(data)
}
