package stack_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mercato.dev/ops/stack"
)

// helperEnv makes this test binary a stack component that runs until SIGTERM, writing its pid
// to <dir>/<name>.pid when it starts and the time to <dir>/<name>.stopped when it stops — or,
// while <dir>/<name>.crash exists, exits with status 3 at once.
const helperEnv = "MERCATO_STACK_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper(os.Getenv("HELPER_DIR"), os.Getenv("HELPER_NAME")))
	}
	os.Exit(m.Run())
}

func runHelper(dir, name string) int {
	if _, err := os.Stat(filepath.Join(dir, name+".crash")); err == nil {
		fmt.Println("crashing on purpose")
		return 3
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	if err := os.WriteFile(filepath.Join(dir, name+".pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return 1
	}
	<-term
	_ = os.WriteFile(filepath.Join(dir, name+".stopped"), []byte(time.Now().Format(time.RFC3339Nano)), 0o644)
	return 0
}

// waitLimit bounds every wait; generous for a loaded two-core machine.
const waitLimit = 30 * time.Second

// TestSupervision runs three helper processes under the stack: killing one gets it back after
// its backoff while the others keep their pids; a component that crashes on every start is left
// stopped after five crashes with a message while the others keep serving; cancelling stops
// every live component, in reverse order.
func TestSupervision(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	component := func(name string) stack.Component {
		return stack.Component{Name: name, Path: self, Env: []string{helperEnv + "=1", "HELPER_DIR=" + dir, "HELPER_NAME=" + name},
			Ready: func(context.Context) error { _, err := os.Stat(filepath.Join(dir, name+".pid")); return err }}
	}
	logs := &syncBuffer{}
	s := &stack.Stack{
		Components:   []stack.Component{component("first"), component("victim"), component("last")},
		LogDir:       filepath.Join(dir, "logs"),
		ReadyTimeout: waitLimit,
		Logger:       slog.New(slog.NewTextHandler(logs, nil)),
		Restart:      stack.RestartPolicy{Backoff: 200 * time.Millisecond, MaxBackoff: time.Second, Limit: 5, Window: time.Minute},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-ran:
		t.Fatalf("Run: %v\n%s", err, logs)
	case <-time.After(waitLimit):
		t.Fatalf("not ready after %s\n%s", waitLimit, logs)
	}
	first, last := readPid(t, dir, "first"), readPid(t, dir, "last")

	// Kill the victim: back after the first backoff (200 ms), with a new pid.
	victim := readPid(t, dir, "victim")
	os.Remove(filepath.Join(dir, "victim.pid"))
	killed := time.Now()
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	again := waitFor(t, logs, func() bool { _, err := os.Stat(filepath.Join(dir, "victim.pid")); return err == nil })
	t.Logf("victim back %s after SIGKILL (backoff 200ms)", again.Sub(killed).Round(time.Millisecond))
	if pid := readPid(t, dir, "victim"); pid == victim {
		t.Errorf("victim still has pid %d", pid)
	}
	if !strings.Contains(logs.String(), "victim exited unexpectedly (signal: killed): restarting in 200ms") {
		t.Errorf("the crash and its exit status are not reported:\n%s", logs)
	}

	// The victim now crashes at every start: five crashes within the window, then it stays down.
	if err := os.WriteFile(filepath.Join(dir, "victim.crash"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(readPid(t, dir, "victim"), syscall.SIGKILL)
	waitFor(t, logs, func() bool {
		return strings.Contains(logs.String(), "victim crashed 5 times within 1m0s: left stopped")
	})
	for name, pid := range map[string]int{"first": first, "last": last} {
		if err := syscall.Kill(pid, 0); err != nil || readPid(t, dir, name) != pid {
			t.Errorf("%s (pid %d) stopped serving while the victim crash-looped: %v", name, pid, err)
		}
	}
	select {
	case err := <-ran:
		t.Fatalf("Run returned while the others still serve: %v", err)
	default:
	}

	// Ctrl-C: every live component stops, last first.
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatalf("Run did not return after cancel\n%s", logs)
	}
	stoppedAt := func(name string) time.Time {
		b, err := os.ReadFile(filepath.Join(dir, name+".stopped"))
		if err != nil {
			t.Fatalf("%s was not stopped with SIGTERM: %v", name, err)
		}
		at, _ := time.Parse(time.RFC3339Nano, string(b))
		return at
	}
	if f, l := stoppedAt("first"), stoppedAt("last"); !l.Before(f) {
		t.Errorf("last stopped at %s, first at %s: want reverse order", l, f)
	}
}

func readPid(t *testing.T, dir, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitFor polls cond until it holds, failing after waitLimit; it returns when it held.
func waitFor(t *testing.T, logs *syncBuffer, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %s\n%s", waitLimit, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Now()
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
