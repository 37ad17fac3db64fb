package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"mercato.dev/ops/tracing"
)

// traceCmd is `mercato trace <order-id|trace-id>`: the waterfall of one trace, read from
// Jaeger's query API (JAEGER_QUERY_URL, default http://127.0.0.1:16686: `make up
// TRACING=jaeger`, or the Jaeger of compose.yaml).
func traceCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	query := fs.String("jaeger", envOr("JAEGER_QUERY_URL", "http://127.0.0.1:16686"), "Jaeger query API base URL (JAEGER_QUERY_URL)")
	lookback := fs.Duration("lookback", 24*time.Hour, "how far back to search for an order's trace")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mercato trace [-jaeger URL] [-lookback D] <order-id|trace-id>")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	spans, err := tracing.Jaeger{BaseURL: *query}.Lookup(ctx, fs.Arg(0), *lookback)
	if err == nil {
		err = tracing.Render(stdout, spans)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mercato trace:", err)
		return 1
	}
	return 0
}

// runTrace is the trace subcommand with the process's streams.
func runTrace(args []string) int {
	return traceCmd(context.Background(), args, os.Stdout, os.Stderr)
}
