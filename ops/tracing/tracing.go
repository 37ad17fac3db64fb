// Package tracing reads traces back for operators: a client of Jaeger's query API (the HTTP
// JSON API Jaeger serves on :16686, /api/traces) and a text waterfall of one trace — service,
// span, start offset, duration and status, indented by parentage. `mercato trace` uses both.
package tracing

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Span is one span of a trace, whatever store it came from.
type Span struct {
	TraceID, SpanID, ParentID string // lower-case hex; ParentID "" for a root
	Service                   string // service.name of the process that recorded it
	Name                      string
	Kind                      string // server, client, producer, consumer, internal ("" unknown)
	Start                     time.Time
	Duration                  time.Duration
	Error                     bool
	Attributes                map[string]string
}

// Render writes the waterfall of spans (one trace): each span under its parent, children in
// start order, with its offset from the trace's first span, duration, service, name and
// status, and a bar placing it on the trace's time line. Spans whose parent is missing are
// shown as roots, marked "(parent not in trace)".
func Render(w io.Writer, spans []Span) error {
	if len(spans) == 0 {
		return fmt.Errorf("tracing: no spans")
	}
	ids := make(map[string]bool, len(spans))
	start, end := spans[0].Start, spans[0].Start.Add(spans[0].Duration)
	for _, s := range spans {
		ids[s.SpanID] = true
		start = minTime(start, s.Start)
		end = maxTime(end, s.Start.Add(s.Duration))
	}
	children := map[string][]Span{}
	var roots []Span
	for _, s := range spans {
		if s.ParentID == "" || !ids[s.ParentID] {
			roots = append(roots, s)
			continue
		}
		children[s.ParentID] = append(children[s.ParentID], s)
	}
	byStart := func(a, b Span) int { return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.SpanID, b.SpanID)) }
	slices.SortFunc(roots, byStart)
	total := max(end.Sub(start), time.Microsecond)
	services := map[string]bool{}
	for _, s := range spans {
		services[s.Service] = true
	}
	fmt.Fprintf(w, "trace %s: %d spans, %d services, %s\n", spans[0].TraceID, len(spans), len(services), fmtDur(total))
	fmt.Fprintf(w, "%9s %9s  %-14s %-6s %-60s %s\n", "START", "DURATION", "SERVICE", "STATUS", "SPAN", "TIMELINE")
	var walk func(s Span, depth int)
	walk = func(s Span, depth int) {
		status := "ok"
		if s.Error {
			status = "ERROR"
		}
		name := strings.Repeat("  ", depth) + s.Name
		if s.ParentID != "" && !ids[s.ParentID] {
			name += " (parent not in trace)"
		}
		fmt.Fprintf(w, "%9s %9s  %-14s %-6s %-60s %s\n", fmtDur(s.Start.Sub(start)), fmtDur(s.Duration),
			clip(s.Service, 14), status, clip(name, 60), bar(s.Start.Sub(start), s.Duration, total, 30))
		kids := children[s.SpanID]
		slices.SortFunc(kids, byStart)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return nil
}

// bar is a width-column time line with the span's extent drawn.
func bar(offset, d, total time.Duration, width int) string {
	from := int(int64(offset) * int64(width) / int64(total))
	to := max(int(int64(offset+d)*int64(width)/int64(total)), from+1)
	from, to = min(from, width-1), min(to, width)
	return "|" + strings.Repeat(" ", from) + strings.Repeat("█", to-from) + strings.Repeat(" ", width-to) + "|"
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%dµs", d.Microseconds())
}

func clip(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
