package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"mercato.dev/ops/bench"
)

type report struct {
	opts    suiteOptions
	trees   []tree
	runs    []platformRun
	gobench []goBenchmark
	took    time.Duration
	machine string
}

// figure is one row of the table: a value per platform run, aggregated per tree.
type figure struct {
	name, target string
	db           string                                    // which runs: sqlite or postgres
	unit         string                                    // appended to values
	lower        bool                                      // lower is better
	goal         float64                                   // the target as a number (0: none)
	value        func(platformRun) (float64, string, bool) // value, note, ok
}

// cpuStep is the step whose CPU per order the table shows, the same for every tree and database
// (the CPU of every step is in the steps table).
const cpuStep = "orders closed c=16"

// peak is the closed-loop CreateOrder step with the highest throughput.
func peak(r platformRun) (bench.Result, bool) {
	var best bench.Result
	found := false
	for _, res := range r.results {
		if strings.HasPrefix(res.Name, "orders closed") && (!found || res.PerSecond > best.PerSecond) {
			best, found = res, true
		}
	}
	return best, found
}

func errorsNote(res bench.Result) string {
	if res.Errors == 0 {
		return "0 errors"
	}
	codes := make([]string, 0, len(res.ErrorCodes))
	for c, n := range res.ErrorCodes {
		codes = append(codes, fmt.Sprintf("%d %s", n, c))
	}
	sort.Strings(codes)
	return fmt.Sprintf("%d errors of %d: %s", res.Errors, res.Sent, strings.Join(codes, ", "))
}

func figures() []figure {
	cpuPerOrder := func(r platformRun) (float64, string, bool) {
		res, ok := r.result(cpuStep)
		if !ok || res.CPU == nil {
			return 0, "", false
		}
		note := fmt.Sprintf("%.0f orders/s", res.PerSecond)
		if !res.CPU.Drained {
			note += "; " + res.CPU.DrainNote
		}
		return res.CPU.PerOpMicros / 1000, note, true
	}
	peakRate := func(r platformRun) (float64, string, bool) {
		res, ok := peak(r)
		if !ok {
			return 0, "", false
		}
		var errs int
		for _, x := range r.results {
			if strings.HasPrefix(x.Name, "orders closed") {
				errs += x.Errors
			}
		}
		return res.PerSecond, fmt.Sprintf("%s; %d errors in all closed steps", res.Name[len("orders closed "):], errs), true
	}
	openP99 := func(name string) func(platformRun) (float64, string, bool) {
		return func(r platformRun) (float64, string, bool) {
			res, ok := r.result(name)
			if !ok {
				return 0, "", false
			}
			return res.Latency.P99, fmt.Sprintf("%.0f/s answered; %s", res.PerSecond, errorsNote(res)), true
		}
	}
	productCPU := func(proc string) func(platformRun) (float64, string, bool) {
		return func(r platformRun) (float64, string, bool) {
			res, ok := r.result("product closed c=16")
			if !ok || res.CPU == nil {
				return 0, "", false
			}
			return res.CPU.PerProcess[proc], fmt.Sprintf("%.0f/s", res.PerSecond), true
		}
	}
	lag := func(r platformRun) (float64, string, bool) {
		res, ok := r.result("orders open 300/s")
		if !ok || res.Lag == nil {
			return 0, "", false
		}
		return res.Lag.P99, fmt.Sprintf("%.0f orders/s answered, %d events", res.PerSecond, res.LagSamples), true
	}
	start := func(r platformRun) (float64, string, bool) {
		if len(r.starts) == 0 {
			return 0, "", false
		}
		var worst float64
		var who string
		for svc, d := range r.starts {
			if m := median(d); m > worst {
				worst, who = m, svc
			}
		}
		return worst, who, true
	}
	return []figure{
		{name: "CPU per `CreateOrder`, all processes together (closed loop c=16)", target: "≤ 2.5 ms", db: "sqlite", unit: " ms", lower: true, goal: 2.5, value: cpuPerOrder},
		{name: "`CreateOrder` peak throughput through the edge, SQLite (closed loop c=1…64)", target: "≥ 500/s, 0 errors", db: "sqlite", unit: "/s", goal: 500, value: peakRate},
		{name: "`CreateOrder` p99 at a fixed 350/s (open loop)", target: "≤ 50 ms", db: "sqlite", unit: " ms", lower: true, goal: 50, value: openP99("orders open 350/s")},
		{name: "`GetProduct` CPU per request: inventory", target: "≤ 120 µs", db: "sqlite", unit: " µs", lower: true, goal: 120, value: productCPU("inventory")},
		{name: "`GetProduct` CPU per request: dev edge", target: "≤ 120 µs", db: "sqlite", unit: " µs", lower: true, goal: 120, value: productCPU("edge")},
		{name: "outbox → JetStream → notification lag p99 at 300 orders/s (open loop)", target: "p99 ≤ 50 ms", db: "sqlite", unit: " ms", lower: true, goal: 50, value: lag},
		{name: "service start (exec) to first 200 on `/readyz`, database migrated (slowest service, median of 3)", target: "≤ 150 ms", db: "sqlite", unit: " ms", lower: true, goal: 150, value: start},
		{name: "PostgreSQL: CPU per `CreateOrder`, all processes incl. PostgreSQL backends (c=16)", target: "—", db: "postgres", unit: " ms", lower: true, value: cpuPerOrder},
		{name: "PostgreSQL: `CreateOrder` peak throughput (closed loop c=16, 32)", target: "—", db: "postgres", unit: "/s", value: peakRate},
		{name: "PostgreSQL: `CreateOrder` p99 at a fixed 350/s", target: "—", db: "postgres", unit: " ms", lower: true, value: openP99("orders open 350/s")},
	}
}

func median(d []time.Duration) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return math.Round(float64(s[len(s)/2])/1e4) / 100
}

// cell aggregates a figure over the runs of one tree: the median (of an even number of runs,
// the mean of the middle two), the range when there are several runs, and the notes of each
// run. The median, not the mean: on a shared machine one run in a few stalls, and moved the
// mean of two rounds by 20–40 %.
func (rep report) cell(f figure, treeName string) (float64, string, bool) {
	var vals []float64
	var notes []string
	for _, r := range rep.runs {
		if r.tree != treeName || r.db != f.db {
			continue
		}
		if v, note, ok := f.value(r); ok {
			vals = append(vals, v)
			if note != "" {
				notes = append(notes, note)
			}
		} else if r.err != nil {
			notes = append(notes, "failed: "+firstLine(r.err.Error()))
		}
	}
	if len(vals) == 0 {
		if len(notes) > 0 {
			return 0, "— (" + strings.Join(notes, "; ") + ")", false
		}
		return 0, "—", false
	}
	mid := middle(vals)
	s := num(mid) + f.unit
	if len(vals) > 1 {
		s += fmt.Sprintf(" (%s–%s)", num(slices.Min(vals)), num(slices.Max(vals)))
	}
	if len(notes) > 0 {
		s += "<br>" + strings.Join(dedupe(notes), "<br>")
	}
	return mid, s, true
}

// middle is the median of vals (not empty): the middle value, or the mean of the middle two.
func middle(vals []float64) float64 {
	s := slices.Sorted(slices.Values(vals))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// betterRatio says how many times better (or worse) current is than baseline.
func betterRatio(baseline, current float64, lower bool) string {
	r := current / baseline
	if lower {
		r = baseline / current
	}
	if r >= 1 {
		return num(r) + "× better"
	}
	return num(1/r) + "× worse"
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	if len(l) > 200 {
		l = l[:200] + "…"
	}
	return l
}

// num prints 3 significant digits or so.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func (rep report) has(name string) bool {
	for _, t := range rep.trees {
		if t.name == name {
			return true
		}
	}
	return false
}

func (rep report) markdown() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Mercato benchmarks\n\n")
	w("Written by `make bench` (`bin/bench suite`) on %s in %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), rep.took.Round(time.Second))
	w("Machine: %s.\n\n", rep.machine)
	if rep.has("baseline") {
		w("Baseline: `%s`, built in its own git worktree with its own `make build`. Current: the working tree (`%s`).\n", rep.opts.baselineRev, gitRev(rep.opts.root))
		w("SQLite platforms ran alternately (baseline, current) × %d rounds, each from a fresh data directory; a value is the median of the rounds, (min–max) beside it.\n\n", rep.opts.rounds)
	} else {
		w("Current tree only (`%s`), %d round(s).\n\n", gitRev(rep.opts.root), rep.opts.rounds)
	}
	w("| figure | target | baseline | current | current vs baseline |\n|---|---|---|---|---|\n")
	for _, f := range figures() {
		bv, bs, bok := rep.cell(f, "baseline")
		cv, cs, cok := rep.cell(f, "current")
		ratio := "—"
		if bok && cok && bv > 0 && cv > 0 {
			ratio = betterRatio(bv, cv, f.lower)
		}
		if cok && f.goal > 0 {
			met := (f.lower && cv <= f.goal) || (!f.lower && cv >= f.goal)
			if met {
				cs = "**met** " + cs
			} else {
				cs = "missed " + cs
			}
		}
		if !rep.has("baseline") {
			bs = "not run"
		}
		w("| %s | %s | %s | %s | %s |\n", f.name, f.target, bs, cs, ratio)
	}
	for _, g := range rep.gobench {
		w("| %s | %s | %s | %s | %s |\n", g.name, g.target, g.baseline, g.current, "—")
	}
	rep.breakdown(w)
	rep.rss(w)
	rep.steps(w)
	rep.commands(w)
	return b.String()
}

// breakdown is the CPU per order by process, at cpuStep.
func (rep report) breakdown(w func(string, ...any)) {
	for _, db := range []string{"sqlite", "postgres"} {
		per := map[string]map[string][]float64{} // process → tree → µs
		for _, r := range rep.runs {
			res, ok := r.result(cpuStep)
			if r.db != db || !ok || res.CPU == nil {
				continue
			}
			for proc, us := range res.CPU.PerProcess {
				if per[proc] == nil {
					per[proc] = map[string][]float64{}
				}
				per[proc][r.tree] = append(per[proc][r.tree], us)
			}
		}
		if len(per) == 0 {
			continue
		}
		w("\n## CPU per `CreateOrder` by process, %s (µs per order, closed loop c=16, mean of runs)\n\n", db)
		w("`mercato` is the launcher (with the embedded NATS JetStream in the baseline; the current build runs the mTLS `broker` as a process of its own); `postgres` the PostgreSQL backends serving the run's databases (not the server's shared background processes).\n\n| process | baseline | current |\n|---|---|---|\n")
		procs := make([]string, 0, len(per))
		for p := range per {
			procs = append(procs, p)
		}
		sort.Strings(procs)
		for _, p := range procs {
			w("| %s | %s | %s |\n", p, meanOf(per[p]["baseline"]), meanOf(per[p]["current"]))
		}
	}
}

func meanOf(v []float64) string {
	if len(v) == 0 {
		return "—"
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return num(s / float64(len(v)))
}

// rss is RssAnon of each idle process, from the first SQLite run of each tree.
func (rep report) rss(w func(string, ...any)) {
	first := map[string]map[string]int64{}
	for _, r := range rep.runs {
		if r.db == "sqlite" && first[r.tree] == nil && r.rss != nil {
			first[r.tree] = r.rss
		}
	}
	if len(first) == 0 {
		return
	}
	w("\n## Anonymous RSS (`RssAnon`) of each idle process (MiB, first SQLite run, 2 s after seeding)\n\n| process | baseline | current |\n|---|---|---|\n")
	var procs []string
	for _, m := range first {
		for p := range m {
			if !slices.Contains(procs, p) {
				procs = append(procs, p)
			}
		}
	}
	sort.Strings(procs)
	mib := func(m map[string]int64, p string) string {
		if kb, ok := m[p]; ok {
			return fmt.Sprintf("%.1f", float64(kb)/1024)
		}
		return "—"
	}
	for _, p := range procs {
		w("| %s | %s | %s |\n", p, mib(first["baseline"], p), mib(first["current"], p))
	}
	starts := map[string]map[string][]time.Duration{}
	for _, r := range rep.runs {
		if r.starts != nil {
			starts[r.tree] = r.starts
		}
	}
	if len(starts) > 0 {
		w("\n## Service start (exec) to first 200 on `/readyz` (ms, median of 3; database migrated)\n\n| service | baseline | current |\n|---|---|---|\n")
		for _, svc := range bench.Services {
			cell := func(t string) string {
				if d, ok := starts[t][svc]; ok {
					return num(median(d))
				}
				return "—"
			}
			w("| %s | %s | %s |\n", svc, cell("baseline"), cell("current"))
		}
	}
}

// steps lists every load step of every run.
func (rep report) steps(w func(string, ...any)) {
	w("\n## Every step\n\nClosed loop: c workers, each sending when the previous call answered. Open loop: a fixed schedule, latency from the scheduled send time. CPU: all processes of `mercato up`, until the outbox backlogs were 0 and notifications had handled one event per order.\n\n")
	w("| tree | db | round | step | answered/s | ok | errors | p50 ms | p99 ms | CPU µs/op | drained after |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rep.runs {
		if r.err != nil && len(r.results) == 0 {
			w("| %s | %s | %d | failed: %s | | | | | | | |\n", r.tree, r.db, r.round, strings.ReplaceAll(firstLine(r.err.Error()), "|", "/"))
			continue
		}
		for _, res := range r.results {
			cpu, drain := "—", "—"
			if res.CPU != nil {
				cpu = num(res.CPU.PerOpMicros)
				drain = fmt.Sprintf("%.2f s", res.CPU.DrainSeconds)
				if !res.CPU.Drained {
					drain = "not drained"
				}
			}
			w("| %s | %s | %d | %s | %.1f | %d | %d | %s | %s | %s | %s |\n", r.tree, r.db, r.round, res.Name, res.PerSecond, res.OK, res.Errors,
				num(res.Latency.P50), num(res.Latency.P99), cpu, drain)
		}
	}
}

func (rep report) commands(w func(string, ...any)) {
	w("\n## How each figure is measured\n\n")
	w("Every platform: `<tree>/bin/mercato up -root <tree> -data <fresh temporary directory>` on the default ports (the baseline's launcher cannot move them), the environment cleared of platform variables; PostgreSQL runs add `<SERVICE>_DATABASE_URL=` %s with the database `bench_<service>_<tree>_<n>` and `sslmode=disable` for five databases created for the run and dropped after it, and `-postgres-db _<tree>_<n>` to the loadgen, which then also counts the CPU of the PostgreSQL backends serving them.\n\n", "`"+rep.opts.postgres+"`")
	w("Load: one `bin/loadgen` process (the current tree's) per platform, after it signed up 8 customers and created a product with ample stock as the admin:\n\n")
	w("```\nbin/loadgen -edge https://localhost:8443 -ca <data>/edge/ca.pem -launcher <pid of mercato up> \\\n  -steps %s \\\n  -duration %s -warmup 50 -max-in-flight 256      # SQLite\n", sqlitePlan, rep.opts.step)
	w("bin/loadgen … -steps %s -duration %s -warmup 50 -max-in-flight 256   # PostgreSQL\n```\n\n", postgresPlan, rep.opts.step)
	w("- Connect JSON over 8 keep-alive HTTP/2 connections, real JWTs, one unit per order, unique idempotency keys, `pm_card_visa`; each step after 50 warm-up requests.\n")
	w("- CPU: utime+stime from `/proc/<pid>/stat` of the launcher and every descendant (issuer, xds, five services, edge) before the step and after it, once `outbox_backlog_events` of orders and payments is 0 and `events_handled_total` of notifications has grown by the orders answered; divided by successful calls. The drain wait polls those `/metrics` every 50 ms (its cost is included).\n")
	w("- Open loop: request k due at start + k/rate; latency from that time; at most 256 outstanding, a request due beyond that counts as an error (`not_sent_overload`).\n")
	w("- Lag: for each order of the 300/s step, the notification's `create_time` (recorded by notifications) minus the order's `update_time` (the transaction that wrote its event to the outbox), paired through `ListNotifications`.\n")
	w("- Start: a second instance of each service (`<tree>/bin/<service>`) with the running platform's data directory and Workload API, its own free ports, its own SQLite database (`<SERVICE>_DATABASE_URL`, migrated by a first start that is not measured: a SQLite database is held by one process) and `XDS_REGISTRATION_ADDR=off`; exec to the first 200 of `/readyz`, polled every 1 ms; 3 times each, in the first SQLite round.\n")
	w("- RssAnon: `/proc/<pid>/status` of each process, 2 s after the platform was ready and seeded.\n")
	for _, g := range rep.gobench {
		w("- %s: `%s`.\n", g.name, g.command)
	}
}
