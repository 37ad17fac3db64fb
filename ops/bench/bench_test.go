package bench

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSumMetric(t *testing.T) {
	t.Parallel()
	text := `# HELP outbox_backlog_events Outbox events not yet sent.
# TYPE outbox_backlog_events gauge
outbox_backlog_events 3
outbox_backlog_events_other 100
events_handled_total{consumer="notifications",stream="ORDERS"} 7
events_handled_total{consumer="x",stream="a}b"} 2.5
`
	for name, want := range map[string]float64{"outbox_backlog_events": 3, "events_handled_total": 9.5, "missing": 0} {
		got, err := sumMetric(strings.NewReader(text), name)
		if err != nil || got != want {
			t.Errorf("sumMetric(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := sumMetric(strings.NewReader("x{a=\"b\"} nope\n"), "x"); err == nil {
		t.Error("a malformed sample was summed without error")
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	got := summarize(d)
	want := Latency{P50: 50, P90: 90, P99: 99, Max: 100, Mean: 50.5}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
}

func TestTreeFindsChildrenAndCountsCPU(t *testing.T) {
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	procs, err := Tree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range procs {
		found = found || (p.PID == child.Process.Pid && p.Name == "sleep")
	}
	if !found || procs[0].PID != os.Getpid() {
		t.Fatalf("Tree(self) = %+v: want this process first and the child sleep %d", procs, child.Process.Pid)
	}
	before, err := Snapshot(procs)
	if err != nil {
		t.Fatal(err)
	}
	spin(300 * time.Millisecond)
	after, err := Snapshot(procs)
	if err != nil {
		t.Fatal(err)
	}
	cpu := CPUBetween(procs, before, after, 10)
	self := procs[0].Name
	// 300 ms of spinning is 30 ticks of this process (fewer if the machine is busy and the
	// spin lost the CPU, but never none), and the sleeping child spends about nothing.
	if cpu.TotalSeconds <= 0 || cpu.PerProcess[self] <= 0 || cpu.PerProcess["sleep"] > cpu.PerProcess[self] {
		t.Errorf("CPU over a 300 ms spin: %+v", cpu)
	}
	if kb, err := RSSAnon(os.Getpid()); err != nil || kb <= 0 {
		t.Errorf("RSSAnon(self) = %d, %v", kb, err)
	}
}

func spin(d time.Duration) {
	x := 0
	for start := time.Now(); time.Since(start) < d; {
		for i := range 10000 {
			x += i
		}
	}
	_ = x
}

func TestClosedSendsTotalAndCountsErrors(t *testing.T) {
	t.Parallel()
	p := &Pool{conns: []*Clients{{}, {}}}
	var seq atomic.Int64
	op := func(_ context.Context, _ *Clients, i int64) (string, error) {
		if i%5 == 0 {
			return "", errors.New("boom")
		}
		return "CONFIRMED", nil
	}
	res := Closed(context.Background(), p, op, 4, 0, 20, &seq, time.Second)
	if res.Sent != 20 || res.OK != 16 || res.Errors != 4 || res.Outcomes["CONFIRMED"] != 16 || len(res.ErrorSample) != 4 {
		t.Errorf("Closed: %+v", res)
	}
}

func TestOpenMeasuresFromTheScheduleAndBoundsInFlight(t *testing.T) {
	t.Parallel()
	p := &Pool{conns: []*Clients{{}}}
	var seq atomic.Int64
	const took = 40 * time.Millisecond
	op := func(ctx context.Context, _ *Clients, _ int64) (string, error) {
		time.Sleep(took)
		return "OK", nil
	}
	// 20 requests due over 100 ms, each taking 40 ms, at most 2 at once: most are not sent.
	res := Open(context.Background(), p, op, 200, 100*time.Millisecond, 2, &seq, time.Second)
	if res.Sent != 20 || res.OK < 2 || res.ErrorCodes["not_sent_overload"] != res.Errors || res.OK+res.Errors != 20 || res.Errors < 10 {
		t.Errorf("Open: %+v", res)
	}
	if res.Latency.P50 < float64(took/time.Millisecond) {
		t.Errorf("latency p50 %.1f ms is below the call's %s", res.Latency.P50, took)
	}
}

func TestFreePortsMoveEveryListener(t *testing.T) {
	t.Parallel()
	env, err := FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if !platformVar(kv) || seen[v] {
			t.Errorf("%s: not a platform variable, or a port given twice", kv)
		}
		seen[v], seen[k] = true, true
	}
	for _, k := range []string{"XDS_PUBLIC_ADDR", "BROKER_ADDR", "BROKER_ADMIN_ADDR", "ORDERS_ADMIN_ADDR", "NOTIFICATIONS_ADDR", "EDGE_ADMIN_ADDR"} {
		if !seen[k] {
			t.Errorf("FreePorts does not set %s", k)
		}
	}
	p := &Platform{Env: env}
	if !strings.HasPrefix(p.EdgeURL(), "https://localhost:") || p.EdgeURL() == "https://localhost:8443" {
		t.Errorf("EdgeURL = %s", p.EdgeURL())
	}
	if (&Platform{}).AdminAddr("payments") != "127.0.0.1:9104" {
		t.Errorf("default payments admin = %s", (&Platform{}).AdminAddr("payments"))
	}
}
