package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"mercato.dev/ops/bench"
)

// runLoadgen runs <root>/bin/loadgen against p with args, its output passed through, and
// returns its results.
func runLoadgen(ctx context.Context, root string, p *bench.Platform, args ...string) ([]bench.Result, error) {
	out, err := os.CreateTemp("", "loadgen-*.json")
	if err != nil {
		return nil, err
	}
	out.Close()
	defer os.Remove(out.Name())
	cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", "loadgen"), append(append(p.LoadgenArgs(), "-json", out.Name()), args...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	runErr := cmd.Run()
	var results []bench.Result
	if b, err := os.ReadFile(out.Name()); err == nil && len(b) > 0 {
		if err := json.Unmarshal(b, &results); err != nil {
			return nil, fmt.Errorf("loadgen results: %w", err)
		}
	}
	if runErr != nil {
		return results, fmt.Errorf("%s: loadgen %v: %w", p.Name, args, runErr)
	}
	return results, nil
}
