// Command bench runs whole Mercato platforms and measures them with bin/loadgen from a separate
// process.
//
//	bench smoke [-root .]
//	    the current build on free ports and a temporary data directory: a few hundred orders and
//	    reads; fails if any call failed, the async work did not drain, or notifications through
//	    the API differ from orders placed. No assertion on time. `make bench-smoke`.
//	bench suite -baseline .bench/baseline [-root .] [-out BENCHMARKS.md]
//	    every figure of the performance issue for the baseline build and the current build,
//	    alternating, and the report. `make bench`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench smoke|suite [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "smoke":
		err = smoke(ctx, os.Args[2:])
	case "suite":
		err = suite(ctx, os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "usage: bench smoke|suite [flags]")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
