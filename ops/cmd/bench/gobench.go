package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"mercato.dev/ops/bench"
)

// servingBench is the Go benchmark that serves GetProduct through a kit server, a trivial
// net/http handler and grpc-go over the same mTLS + HTTP/2. A tree that lacks it (the baseline)
// gets a copy for the run: it uses only APIs the baseline has.
const servingBench = "services/inventory/internal/rpc/serving_bench_test.go"

// servingStoreFile builds the store the benchmark serves from (servingStore); a tree without it
// gets baselineServingStore, the construction of before store.WithDriver.
const servingStoreFile = "services/inventory/internal/rpc/serving_store_test.go"

const baselineServingStore = `package rpc_test

import (
	"mercato.dev/ent/database"
	ent "mercato.dev/ent/inventory"
	"mercato.dev/services/inventory/internal/store"
)

// servingStore: written by ops/cmd/bench for a tree that predates it.
func servingStore(db *database.DB) *store.Store {
	return store.New(ent.NewClient(ent.Driver(db.Driver())))
}
`

// goBenchmark is one row of the table from a Go benchmark.
type goBenchmark struct {
	name, target, baseline, current, command string
}

// runGoBenchmarks runs BenchmarkServing in each tree and derives the kit/net/http and
// kit/grpc-go ratios of requests per second.
func runGoBenchmarks(ctx context.Context, o suiteOptions, trees []tree) []goBenchmark {
	cmdline := fmt.Sprintf("go test -run '^$' -bench BenchmarkServing -benchtime %s -count 1 ./%s", o.goBenchTime, filepath.Dir(servingBench))
	vsHTTP := goBenchmark{name: "`GetProduct` through a kit server vs a trivial `net/http` handler over the same mTLS + h2 (req/s ratio)", target: "≥ 0.5×", command: cmdline,
		baseline: "not run", current: "not run"}
	vsGRPC := goBenchmark{name: "Connect (kit server) vs grpc-go serving `GetProduct` from the same store (req/s ratio; report only)", target: "—", command: cmdline,
		baseline: "not run", current: "not run"}
	for _, t := range trees {
		fmt.Printf("\n== %s: %s\n", t.name, cmdline)
		ns, err := servingNs(ctx, o, t)
		httpCell, grpcCell := "— ("+firstLine(fmt.Sprint(err))+")", "—"
		if err == nil {
			ratio := ns["nethttp"] / ns["kit"]
			mark := "missed "
			if ratio >= 0.5 {
				mark = "**met** "
			}
			if t.name == "baseline" {
				mark = ""
			}
			httpCell = fmt.Sprintf("%s%.2f× (kit %.0f/s, net/http %.0f/s)", mark, ratio, 1e9/ns["kit"], 1e9/ns["nethttp"])
			grpcCell = fmt.Sprintf("%.2f× (kit %.0f/s, grpc-go %.0f/s)", ns["grpc"]/ns["kit"], 1e9/ns["kit"], 1e9/ns["grpc"])
		}
		if t.name == "baseline" {
			vsHTTP.baseline, vsGRPC.baseline = httpCell, grpcCell
		} else {
			vsHTTP.current, vsGRPC.current = httpCell, grpcCell
		}
	}
	return []goBenchmark{vsHTTP, vsGRPC}
}

// servingNs runs the benchmark in tree t and returns ns/op of each sub-benchmark.
func servingNs(ctx context.Context, o suiteOptions, t tree) (map[string]float64, error) {
	dst := filepath.Join(t.root, servingBench)
	if _, err := os.Stat(dst); errors.Is(err, os.ErrNotExist) {
		src, err := os.ReadFile(filepath.Join(o.root, servingBench))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, src, 0o644); err != nil {
			return nil, err
		}
		defer os.Remove(dst)
	}
	storeFile := filepath.Join(t.root, servingStoreFile)
	if _, err := os.Stat(storeFile); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(storeFile, []byte(baselineServingStore), 0o644); err != nil {
			return nil, err
		}
		defer os.Remove(storeFile)
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "BenchmarkServing", "-benchtime", o.goBenchTime, "-count", "1", "./"+filepath.Dir(servingBench))
	cmd.Dir = t.root
	cmd.Env = bench.CleanEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	fmt.Print(out.String())
	if err != nil {
		return nil, fmt.Errorf("go test: %w: %s", err, lastLine(out.String()))
	}
	ns := parseBench(out.String())
	for _, k := range []string{"kit", "nethttp", "grpc"} {
		if ns[k] <= 0 {
			return nil, fmt.Errorf("no result for BenchmarkServing/%s", k)
		}
	}
	return ns, nil
}

// parseBench reads "BenchmarkServing/<name>-<procs>  N  X ns/op" lines.
func parseBench(out string) map[string]float64 {
	ns := map[string]float64{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkServing/") || f[3] != "ns/op" {
			continue
		}
		name := strings.TrimPrefix(f[0], "BenchmarkServing/")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
		if v, err := strconv.ParseFloat(f[2], 64); err == nil {
			ns[name] = v
		}
	}
	return ns
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
