package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Admin is where the drain conditions are read: the services' admin listeners (plain HTTP,
// loopback) serving Prometheus text on /metrics.
type Admin struct {
	Orders        string // http://127.0.0.1:9103
	Payments      string // http://127.0.0.1:9104
	Notifications string // http://127.0.0.1:9105
}

// MetricSum fetches base+"/metrics" and sums every sample of the named metric.
func MetricSum(ctx context.Context, base, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("metrics %s: %w", base, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("metrics %s: HTTP %d", base, res.StatusCode)
	}
	return sumMetric(res.Body, name)
}

// sumMetric sums the samples of one metric in the Prometheus text format.
func sumMetric(r io.Reader, name string) (float64, error) {
	var sum float64
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := s.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue // another metric with this prefix
		}
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("metric %s: %q: %w", name, line, err)
		}
		sum += v
	}
	return sum, s.Err()
}

// Handled is the number of events notifications has handled so far.
func (a Admin) Handled(ctx context.Context) (float64, error) {
	return MetricSum(ctx, a.Notifications, "events_handled_total")
}

// Backlog is the number of outbox events orders and payments have not yet published.
func (a Admin) Backlog(ctx context.Context) (float64, error) {
	var total float64
	for _, base := range []string{a.Orders, a.Payments} {
		v, err := MetricSum(ctx, base, "outbox_backlog_events")
		if err != nil {
			return 0, err
		}
		total += v
	}
	return total, nil
}

// WaitDrained polls until both outbox backlogs are empty and notifications has handled at least
// want events more than it had at handledBefore, or until timeout. It reports how long it took
// and, when it gave up, why.
func (a Admin) WaitDrained(ctx context.Context, handledBefore float64, want int, timeout time.Duration) (time.Duration, string) {
	start := time.Now()
	deadline := start.Add(timeout)
	var last string
	for {
		backlog, errB := a.Backlog(ctx)
		handled, errH := a.Handled(ctx)
		switch {
		case errB != nil:
			last = errB.Error()
		case errH != nil:
			last = errH.Error()
		case backlog == 0 && handled-handledBefore >= float64(want):
			return time.Since(start), ""
		default:
			last = fmt.Sprintf("outbox backlog %.0f, notifications handled %.0f of %d", backlog, handled-handledBefore, want)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Since(start), fmt.Sprintf("not drained after %s: %s", timeout, last)
		}
		time.Sleep(50 * time.Millisecond) // each poll costs the services a /metrics scrape
	}
}
