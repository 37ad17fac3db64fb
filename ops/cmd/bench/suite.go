package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"mercato.dev/ops/bench"
)

// Plans of loadgen steps, one loadgen process (one set-up) per platform run.
const (
	sqlitePlan   = "product:c16,orders:c1,orders:c8,orders:c16,orders:c32,orders:c64,orders:r350,orders:r300:lag"
	postgresPlan = "orders:c16,orders:c32,orders:r350"
)

// tree is a built repository: its bin/ holds every binary of `make build`.
type tree struct {
	name string // "baseline" or "current"
	root string
}

// platformRun is what one platform of one tree measured.
type platformRun struct {
	tree    string
	round   int
	db      string // sqlite or postgres
	results []bench.Result
	rss     map[string]int64           // RssAnon (KiB) of each idle process
	starts  map[string][]time.Duration // exec → first 200 on /readyz, per service
	err     error
}

// result finds the loadgen step of the given name.
func (r platformRun) result(name string) (bench.Result, bool) {
	for _, res := range r.results {
		if res.Name == name {
			return res, true
		}
	}
	return bench.Result{}, false
}

type suiteOptions struct {
	root, baseline, out string
	rounds              int
	step                time.Duration
	postgres            string // server URL without a database, "" to skip
	goBenchTime         string
	baselineRev         string
	freePorts           bool
	goBench             bool
}

func suite(ctx context.Context, args []string) error {
	var o suiteOptions
	fs := flag.NewFlagSet("suite", flag.ContinueOnError)
	fs.StringVar(&o.root, "root", ".", "the current tree (binaries in <root>/bin)")
	fs.StringVar(&o.baseline, "baseline", "", "the baseline tree (a git worktree built with its own make build); empty: current only")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "the report")
	fs.IntVar(&o.rounds, "rounds", 3, "SQLite runs per tree, alternating baseline and current (a figure is their median)")
	fs.DurationVar(&o.step, "step", 6*time.Second, "length of each load step")
	fs.StringVar(&o.postgres, "postgres", "postgres://postgres@127.0.0.1:5432", "PostgreSQL server for the PostgreSQL runs (fresh databases, dropped after); empty: skip")
	fs.StringVar(&o.goBenchTime, "benchtime", "2s", "-benchtime of the Go benchmarks")
	fs.BoolVar(&o.goBench, "go-bench", true, "run the Go benchmark (kit vs net/http vs grpc-go)")
	fs.BoolVar(&o.freePorts, "free-ports", false, "run on free ports instead of the defaults (not with -baseline: its launcher cannot move)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.root, err = filepath.Abs(o.root); err != nil {
		return err
	}
	trees := []tree{{name: "current", root: o.root}}
	if o.baseline != "" {
		b, err := filepath.Abs(o.baseline)
		if err != nil {
			return err
		}
		trees = []tree{{name: "baseline", root: b}, {name: "current", root: o.root}}
		o.baselineRev = gitRev(b)
	}
	switch {
	case o.freePorts && o.baseline != "":
		return errors.New("-free-ports: the baseline's launcher listens on the default ports only")
	case !o.freePorts:
		if err := defaultPortsFree(); err != nil {
			return err
		}
	}
	start := time.Now()
	var runs []platformRun
	for round := 1; round <= o.rounds; round++ {
		for _, t := range trees {
			runs = append(runs, runPlatform(ctx, o, t, round, "sqlite"))
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	if o.postgres != "" {
		for _, t := range trees {
			runs = append(runs, runPlatform(ctx, o, t, 1, "postgres"))
		}
	}
	var gob []goBenchmark
	if o.goBench {
		gob = runGoBenchmarks(ctx, o, trees)
	}
	rep := report{opts: o, trees: trees, runs: runs, gobench: gob, took: time.Since(start), machine: machine()}
	md := rep.markdown()
	if err := os.WriteFile(o.out, []byte(md), 0o644); err != nil {
		return err
	}
	if i := strings.Index(md, "| figure"); i >= 0 {
		table, _, _ := strings.Cut(md[i:], "\n\n")
		fmt.Printf("\n%s\n", table)
	}
	fmt.Printf("\nbench: %s written in %s\n", o.out, time.Since(start).Round(time.Second))
	var errs []error
	for _, r := range runs {
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return errors.Join(errs...)
}

// defaultPortsFree refuses to start when something (a `make up`) holds the default ports the
// baseline's launcher cannot move from.
func defaultPortsFree() error {
	for _, port := range []int{8443, 4333, 9106, 18000, 18001, 9100, 9900, 8101, 8102, 8103, 8104, 8105, 9101, 9102, 9103, 9104, 9105} {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return fmt.Errorf("port %d is taken (is `make up` running?): the suite runs each platform on the default ports: %w", port, err)
		}
		ln.Close()
	}
	return nil
}

// runPlatform starts one platform of t from a fresh data directory (and, for PostgreSQL, fresh
// databases), measures it and stops it.
func runPlatform(ctx context.Context, o suiteOptions, t tree, round int, db string) platformRun {
	run := platformRun{tree: t.name, round: round, db: db}
	fmt.Printf("\n== %s, %s, round %d\n", t.name, db, round)
	data, err := os.MkdirTemp("", "mb-"+t.name[:1])
	if err != nil {
		run.err = err
		return run
	}
	defer func() { // the logs of a failed run stay for a look
		if run.err != nil {
			fmt.Printf("%s: data and logs kept in %s\n", t.name, data)
			return
		}
		_ = os.RemoveAll(data)
	}()
	p := &bench.Platform{Name: t.name, Root: t.root, Data: data}
	if o.freePorts {
		if p.Env, err = bench.FreePorts(); err != nil {
			run.err = err
			return run
		}
	}
	var extra []string
	if db == "postgres" {
		env, suffix, drop, err := createDatabases(ctx, o.postgres, t.name)
		defer drop()
		if err != nil {
			run.err = err
			return run
		}
		p.Env = append(p.Env, env...)
		extra = []string{"-postgres-db", suffix}
	}
	if err := p.Start(ctx, 2*time.Minute); err != nil {
		_ = p.Stop(time.Minute)
		run.err = err
		return run
	}
	defer func() { // a platform that broke during the run says so here (its launcher exited)
		run.err = errors.Join(run.err, p.Stop(time.Minute))
	}()
	time.Sleep(2 * time.Second) // idle: seeding done, connections settled
	if run.rss, err = p.IdleRSS(); err != nil {
		run.err = err
		return run
	}
	plan := sqlitePlan
	if db == "postgres" {
		plan = postgresPlan
	}
	run.results, run.err = runLoadgen(ctx, o.root, p, append([]string{"-steps", plan, "-duration", o.step.String(), "-warmup", "50", "-max-in-flight", "256"}, extra...)...)
	if run.err != nil || db != "sqlite" || round != 1 {
		return run
	}
	run.starts = map[string][]time.Duration{}
	for range 3 {
		for _, svc := range bench.Services {
			d, err := p.StartTime(ctx, svc)
			if err != nil {
				run.err = fmt.Errorf("%s: start time of %s: %w", t.name, svc, err)
				return run
			}
			run.starts[svc] = append(run.starts[svc], d)
		}
	}
	return run
}

// createDatabases creates one fresh database per service and returns the variables that point
// the services at them, the suffix every name ends with, and a function that drops them.
func createDatabases(ctx context.Context, server, treeName string) ([]string, string, func(), error) {
	suffix := fmt.Sprintf("_%s_%d", treeName, time.Now().UnixNano()%1e9)
	var env, names []string
	drop := func() {
		for _, n := range names {
			if err := psql(ctx, server, "DROP DATABASE IF EXISTS "+n+" WITH (FORCE)"); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
			}
		}
	}
	for _, svc := range bench.Services {
		name := "bench_" + svc + suffix
		if err := psql(ctx, server, "CREATE DATABASE "+name); err != nil {
			return nil, suffix, drop, err
		}
		names = append(names, name)
		u, err := databaseURL(server, name)
		if err != nil {
			return nil, suffix, drop, err
		}
		env = append(env, strings.ToUpper(svc)+"_DATABASE_URL="+u)
	}
	return env, suffix, drop, nil
}

// databaseURL is the server URL (postgres://user@host:port, or ?host=/socket/dir) naming
// database name, with sslmode=disable unless the server URL sets one.
func databaseURL(server, name string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("-postgres %q: want postgres://user@host:port", server)
	}
	u.Path = "/" + name
	q := u.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func psql(ctx context.Context, server, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	target, err := databaseURL(server, "postgres")
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "psql", target, "-v", "ON_ERROR_STOP=1", "-qc", sql).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql %q: %w: %s", sql, err, out)
	}
	return nil
}

func gitRev(dir string) string {
	out, err := exec.Command("git", "-C", dir, "log", "-1", "--format=%h %s").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// machine is the report's machine line: CPU model, cores, kernel, Go version.
func machine() string {
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	gov, _ := exec.Command("go", "version").Output()
	cores, _ := exec.Command("nproc").Output()
	return fmt.Sprintf("%s, %s cores, Linux %s, %s", model, strings.TrimSpace(string(cores)), strings.TrimSpace(string(kernel)), strings.TrimSpace(string(gov)))
}
