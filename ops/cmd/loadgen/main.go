// Command loadgen drives a running Mercato platform through its public edge, as users do (HTTPS
// with the dev CA, Connect JSON, JWTs from SignIn), and prints throughput, latency, errors and,
// given the launcher's pid, the CPU time every process of `mercato up` spent per operation.
//
// Against `make up` (default ports, data in .data):
//
//	bin/loadgen -mode orders -c 1,8,16,32,64 -duration 10s -launcher $(pgrep -xo mercato)
//	bin/loadgen -mode orders -rate 350 -duration 15s          # open loop, latency from the scheduled send
//	bin/loadgen -mode product -c 16 -duration 10s -launcher PID
//
// It signs up -customers fresh customers and creates a product with ample stock through the
// admin account first (names carry a random run ID), so it can run again and again.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mercato.dev/ops/bench"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type options struct {
	target      bench.Target
	admin       bench.Admin
	mode        string
	conc        []int
	rate        float64
	duration    time.Duration
	total       int64
	warmup      int64
	customers   int
	conns       int
	launcher    int
	postgresDB  string
	lag         bool
	maxInFlight int
	jsonOut     string
	failOnError bool
	checkNotes  bool
	steps       []bench.Step // -steps, else built from -mode, -c, -rate
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := envOr("MERCATO_DATA", ".data")
	fs.StringVar(&o.target.EdgeURL, "edge", "https://localhost:8443", "the edge's public URL")
	fs.StringVar(&o.target.CAFile, "ca", filepath.Join(data, "edge", "ca.pem"), "the edge's dev CA")
	fs.StringVar(&o.target.AdminEmail, "admin-email", "admin@mercato.local", "admin account that creates the product")
	fs.StringVar(&o.target.AdminPassword, "admin-password", "mercato-admin-demo", "its password")
	fs.DurationVar(&o.target.CallTimeout, "timeout", 10*time.Second, "deadline of each call")
	fs.StringVar(&o.admin.Orders, "orders-admin", "http://"+envOr("ORDERS_ADMIN_ADDR", "127.0.0.1:9103"), "orders admin URL (outbox backlog)")
	fs.StringVar(&o.admin.Payments, "payments-admin", "http://"+envOr("PAYMENTS_ADMIN_ADDR", "127.0.0.1:9104"), "payments admin URL (outbox backlog)")
	fs.StringVar(&o.admin.Notifications, "notifications-admin", "http://"+envOr("NOTIFICATIONS_ADMIN_ADDR", "127.0.0.1:9105"), "notifications admin URL (events handled)")
	fs.StringVar(&o.mode, "mode", "orders", "orders (CreateOrder) or product (GetProduct)")
	conc := fs.String("c", "8", "closed loop: comma-separated concurrencies, one step each")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: requests per second (overrides -c)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each step")
	fs.Int64Var(&o.total, "n", 0, "closed loop: requests per step instead of -duration")
	fs.Int64Var(&o.warmup, "warmup", 50, "requests before each step, not measured")
	fs.IntVar(&o.customers, "customers", 8, "signed-in customers the orders rotate over")
	fs.IntVar(&o.conns, "conns", 8, "HTTP/2 keep-alive connections to the edge")
	fs.IntVar(&o.launcher, "launcher", 0, "pid of `mercato up`: account the CPU of it and every descendant")
	fs.StringVar(&o.postgresDB, "postgres-db", "", "with -launcher: also account the PostgreSQL backends of databases whose name contains this")
	fs.BoolVar(&o.lag, "lag", false, "orders: measure commit → notification lag")
	fs.IntVar(&o.maxInFlight, "max-in-flight", 1024, "open loop: outstanding requests at most")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file (- for stdout)")
	fs.BoolVar(&o.failOnError, "fail-on-error", false, "exit 1 if any request failed or the async work did not drain")
	fs.BoolVar(&o.checkNotes, "check-notifications", false, "orders: at the end, require exactly one notification per order through the API")
	plan := fs.String("steps", "", "several steps in one run, e.g. product:c16,orders:c1,orders:c8,orders:r350,orders:r300:lag (overrides -mode, -c, -rate, -lag)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.mode != "orders" && o.mode != "product" {
		return o, fmt.Errorf("-mode %q: want orders or product", o.mode)
	}
	for _, s := range strings.Split(*conc, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 {
			return o, fmt.Errorf("-c %q: want positive integers", *conc)
		}
		o.conc = append(o.conc, c)
	}
	if *plan != "" {
		steps, err := parseSteps(*plan, o)
		if err != nil {
			return o, err
		}
		o.steps = steps
	} else {
		o.steps = defaultSteps(o)
	}
	return o, nil
}

// defaultSteps are the steps of -mode, -c, -rate and -lag.
func defaultSteps(o options) []bench.Step {
	if o.rate > 0 {
		return []bench.Step{openStep(o, o.mode, o.rate, o.lag)}
	}
	var steps []bench.Step
	for _, c := range o.conc {
		steps = append(steps, closedStep(o, o.mode, c, o.lag))
	}
	return steps
}

func openStep(o options, kind string, rate float64, lag bool) bench.Step {
	return bench.Step{Name: fmt.Sprintf("%s open %.0f/s", kind, rate), Kind: kind, Mode: "open", Rate: rate,
		Duration: o.duration, Warmup: o.warmup, MaxInFlight: o.maxInFlight, Lag: lag}
}

func closedStep(o options, kind string, c int, lag bool) bench.Step {
	return bench.Step{Name: fmt.Sprintf("%s closed c=%d", kind, c), Kind: kind, Mode: "closed", Concurrency: c,
		Duration: o.duration, Total: o.total, Warmup: o.warmup, Lag: lag}
}

// parseSteps reads -steps: comma-separated kind:cN (closed loop, N workers) or kind:rN (open
// loop, N per second), each optionally followed by :lag.
func parseSteps(plan string, o options) ([]bench.Step, error) {
	var steps []bench.Step
	for _, item := range strings.Split(plan, ",") {
		parts := strings.Split(strings.TrimSpace(item), ":")
		bad := fmt.Errorf("-steps: %q: want orders|product:cN|rN[:lag]", item)
		if len(parts) < 2 || len(parts) > 3 || (parts[0] != "orders" && parts[0] != "product") || len(parts[1]) < 2 {
			return nil, bad
		}
		lag := len(parts) == 3 && parts[2] == "lag"
		if len(parts) == 3 && !lag {
			return nil, bad
		}
		n, err := strconv.ParseFloat(parts[1][1:], 64)
		if err != nil || n <= 0 {
			return nil, bad
		}
		switch parts[1][0] {
		case 'c':
			steps = append(steps, closedStep(o, parts[0], int(n), lag))
		case 'r':
			steps = append(steps, openStep(o, parts[0], n, lag))
		default:
			return nil, bad
		}
	}
	return steps, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, err := measure(ctx, o, stdout, stderr)
	if o.jsonOut != "" {
		if werr := writeJSON(o.jsonOut, stdout, results); werr != nil {
			fmt.Fprintln(stderr, "loadgen:", werr)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	if o.failOnError {
		if msg := failures(results); msg != "" {
			fmt.Fprintln(stderr, "loadgen:", msg)
			return 1
		}
	}
	return 0
}

// measure sets up the fixture and runs every step, printing each result as it comes.
func measure(ctx context.Context, o options, out, log io.Writer) ([]bench.Result, error) {
	pool, err := bench.NewPool(o.target, o.conns)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if err := pool.CheckHTTP2(ctx); err != nil {
		return nil, err
	}
	setup := time.Now()
	f, err := bench.Setup(ctx, pool, o.customers)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "loadgen: run %s: %d customers signed in, product %s (%s)\n", f.RunID, len(f.Customers), f.ProductID, time.Since(setup).Round(time.Millisecond))
	r := &bench.Runner{Pool: pool, Fixture: f, Admin: o.admin, Launcher: o.launcher, PostgresDB: o.postgresDB, Timeout: o.target.CallTimeout}
	var results []bench.Result
	for _, s := range o.steps {
		fmt.Fprintf(log, "loadgen: %s …\n", s.Name)
		res, err := r.Run(ctx, s)
		results = append(results, res)
		fmt.Fprintln(out, format(res))
		if err != nil {
			return results, err
		}
	}
	if o.checkNotes {
		n, err := r.CheckNotifications(ctx, 30*time.Second)
		if err != nil {
			return results, fmt.Errorf("notifications: %w", err)
		}
		fmt.Fprintf(log, "loadgen: %d notifications through the API, one per order\n", n)
	}
	return results, nil
}

// failures describes what went wrong in results, "" when nothing did.
func failures(results []bench.Result) string {
	var msgs []string
	for _, r := range results {
		if r.Errors > 0 {
			msgs = append(msgs, fmt.Sprintf("%s: %d of %d requests failed %v: %v", r.Name, r.Errors, r.Sent, r.ErrorCodes, r.ErrorSample))
		}
		if r.CPU != nil && !r.CPU.Drained {
			msgs = append(msgs, fmt.Sprintf("%s: %s", r.Name, r.CPU.DrainNote))
		}
	}
	return strings.Join(msgs, "; ")
}

func format(r bench.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s %8.1f/s  ok %-6d errors %-4d p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms",
		r.Name, r.PerSecond, r.OK, r.Errors, r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max)
	if len(r.Outcomes) > 0 {
		fmt.Fprintf(&b, "  %v", r.Outcomes)
	}
	if r.Errors > 0 {
		fmt.Fprintf(&b, "\n  errors %v, e.g. %q", r.ErrorCodes, r.ErrorSample[0])
	}
	if r.CPU != nil {
		fmt.Fprintf(&b, "\n  CPU %.1f µs/op over %d ops (%.2f s)", r.CPU.PerOpMicros, r.CPU.Ops, r.CPU.TotalSeconds)
		names := make([]string, 0, len(r.CPU.PerProcess))
		for n := range r.CPU.PerProcess {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool { return r.CPU.PerProcess[names[i]] > r.CPU.PerProcess[names[j]] })
		for _, n := range names {
			fmt.Fprintf(&b, "  %s %.1f", n, r.CPU.PerProcess[n])
		}
		switch {
		case r.CPU.Drained && r.CPU.DrainSeconds == 0: // nothing asynchronous to wait for
		case r.CPU.Drained:
			fmt.Fprintf(&b, "\n  drained %.2f s after the load", r.CPU.DrainSeconds)
		default:
			fmt.Fprintf(&b, "\n  %s", r.CPU.DrainNote)
		}
	}
	if r.Lag != nil {
		fmt.Fprintf(&b, "\n  lag commit → notification (%d): p50 %.2f ms  p99 %.2f ms  max %.2f ms", r.LagSamples, r.Lag.P50, r.Lag.P99, r.Lag.Max)
	}
	return b.String()
}

func writeJSON(path string, stdout io.Writer, results []bench.Result) error {
	b, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
