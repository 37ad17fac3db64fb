package main

import (
	"strings"
	"testing"

	"mercato.dev/ops/bench"
)

func TestParseBench(t *testing.T) {
	t.Parallel()
	out := "goos: linux\nBenchmarkServing/kit-2         \t    2634\t   2633720 ns/op\nBenchmarkServing/nethttp-2 6616 715764 ns/op\nBenchmarkServing/grpc 7275 1164290 ns/op\nPASS\n"
	got := parseBench(out)
	if got["kit"] != 2633720 || got["nethttp"] != 715764 || got["grpc"] != 1164290 || len(got) != 3 {
		t.Errorf("parseBench = %v", got)
	}
}

func TestReportMarksTargetsAndRatios(t *testing.T) {
	t.Parallel()
	orders := func(rate, cpuUs float64) []bench.Result {
		return []bench.Result{
			{Name: "orders closed c=1", PerSecond: rate / 2, CPU: &bench.CPU{PerOpMicros: cpuUs * 2, Drained: true}},
			{Name: "orders closed c=16", PerSecond: rate, CPU: &bench.CPU{PerOpMicros: cpuUs, Drained: true}},
		}
	}
	rep := report{
		opts:  suiteOptions{rounds: 1},
		trees: []tree{{name: "baseline"}, {name: "current"}},
		runs: []platformRun{
			{tree: "baseline", round: 1, db: "sqlite", results: orders(60, 25000)},
			{tree: "current", round: 1, db: "sqlite", results: orders(600, 2000)},
		},
	}
	md := rep.markdown()
	for _, want := range []string{
		"| CPU per `CreateOrder`, all processes together (closed loop c=16) | ≤ 2.5 ms | 25.0 ms<br>60 orders/s | **met** 2.00 ms<br>600 orders/s | 12.5× better |",
		"| 60.0/s<br>c=16; 0 errors in all closed steps | **met** 600/s<br>c=16; 0 errors in all closed steps | 10.0× better |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

// A figure is the median of its rounds: one stalled round of three does not move it.
func TestReportTakesTheMedianOfRounds(t *testing.T) {
	t.Parallel()
	c16 := func(cpuUs float64) []bench.Result {
		return []bench.Result{{Name: "orders closed c=16", PerSecond: 500, CPU: &bench.CPU{PerOpMicros: cpuUs, Drained: true}}}
	}
	rep := report{
		opts:  suiteOptions{rounds: 3},
		trees: []tree{{name: "baseline"}, {name: "current"}},
		runs: []platformRun{
			{tree: "baseline", round: 1, db: "sqlite", results: c16(20000)},
			{tree: "current", round: 1, db: "sqlite", results: c16(2200)},
			{tree: "baseline", round: 2, db: "sqlite", results: c16(20000)},
			{tree: "current", round: 2, db: "sqlite", results: c16(3400)}, // the stalled round
			{tree: "baseline", round: 3, db: "sqlite", results: c16(20000)},
			{tree: "current", round: 3, db: "sqlite", results: c16(2300)},
		},
	}
	want := "**met** 2.30 ms (2.20–3.40)"
	if md := rep.markdown(); !strings.Contains(md, want) {
		t.Errorf("report lacks %q:\n%s", want, md)
	}
	for _, c := range []struct {
		vals []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{4, 1}, 2.5}, {[]float64{9, 1, 5}, 5}, {[]float64{1, 100, 2, 3}, 2.5}} {
		if got := middle(c.vals); got != c.want {
			t.Errorf("middle(%v) = %v, want %v", c.vals, got, c.want)
		}
	}
}

func TestDatabaseURL(t *testing.T) {
	t.Parallel()
	for server, want := range map[string]string{
		"postgres://postgres@127.0.0.1:5432":             "postgres://postgres@127.0.0.1:5432/bench_x?sslmode=disable",
		"postgres://postgres@/?host=/var/run/postgresql": "postgres://postgres@/bench_x?host=%2Fvar%2Frun%2Fpostgresql&sslmode=disable",
		"postgresql://u@h:1/ignored?sslmode=require":     "postgresql://u@h:1/bench_x?sslmode=require",
	} {
		if got, err := databaseURL(server, "bench_x"); err != nil || got != want {
			t.Errorf("databaseURL(%s) = %s, %v; want %s", server, got, err, want)
		}
	}
	if _, err := databaseURL("mysql://x", "y"); err == nil {
		t.Error("a mysql URL was accepted")
	}
}
