package tracing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// OrderIDKey is the span attribute naming the order a saga step works on: the key by which an
// order's trace is found.
const OrderIDKey = "mercato.order.id"

// Jaeger is a client of Jaeger's HTTP query API.
type Jaeger struct {
	BaseURL string       // http://127.0.0.1:16686
	HTTP    *http.Client // [a client with a 10 s timeout]
}

// JaegerResponse is the envelope of /api/traces answers.
type JaegerResponse struct {
	Data   []JaegerTrace `json:"data"`
	Errors []struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	} `json:"errors"`
}

// JaegerTrace is one trace in Jaeger's JSON model.
type JaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     []JaegerSpan             `json:"spans"`
	Processes map[string]JaegerProcess `json:"processes"`
}

// JaegerSpan is a span in Jaeger's JSON model (times in microseconds).
type JaegerSpan struct {
	TraceID       string            `json:"traceID"`
	SpanID        string            `json:"spanID"`
	OperationName string            `json:"operationName"`
	References    []JaegerReference `json:"references"`
	StartTime     int64             `json:"startTime"`
	Duration      int64             `json:"duration"`
	Tags          []JaegerTag       `json:"tags"`
	ProcessID     string            `json:"processID"`
}

// JaegerReference links a span to its parent (CHILD_OF) or another span (FOLLOWS_FROM).
type JaegerReference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// JaegerTag is a key/value of a span or process.
type JaegerTag struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// JaegerProcess is the process (service) that recorded spans.
type JaegerProcess struct {
	ServiceName string      `json:"serviceName"`
	Tags        []JaegerTag `json:"tags"`
}

var (
	traceIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
	uuidPattern    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// Lookup returns the spans of the trace named by ref: a trace ID (32 hex digits), or an order
// ID (a UUID), whose trace is the one holding orders' saga spans for it (searched within
// lookback).
func (j Jaeger) Lookup(ctx context.Context, ref string, lookback time.Duration) ([]Span, error) {
	ref = strings.ToLower(strings.TrimSpace(ref))
	switch {
	case traceIDPattern.MatchString(ref):
		return j.Trace(ctx, ref)
	case uuidPattern.MatchString(ref):
		return j.OrderTrace(ctx, ref, lookback)
	}
	return nil, fmt.Errorf("%q is neither a trace ID (32 hex digits) nor an order ID (a UUID)", ref)
}

// Trace returns the spans of one trace.
func (j Jaeger) Trace(ctx context.Context, traceID string) ([]Span, error) {
	var res JaegerResponse
	if err := j.get(ctx, "/api/traces/"+url.PathEscape(traceID), &res); err != nil {
		return nil, err
	}
	if len(res.Data) == 0 {
		return nil, fmt.Errorf("trace %s not found", traceID)
	}
	return FromJaeger(res.Data[0]), nil
}

// OrderTrace returns the trace of the order: the one whose orders spans carry its ID. When
// several do (a saga resumed later by the recovery loop starts its own trace), the earliest.
func (j Jaeger) OrderTrace(ctx context.Context, orderID string, lookback time.Duration) ([]Span, error) {
	tags, _ := json.Marshal(map[string]string{OrderIDKey: orderID})
	q := url.Values{"service": {"orders"}, "tags": {string(tags)}, "limit": {"20"}, "lookback": {lookback.String()},
		"start": {fmt.Sprint(time.Now().Add(-lookback).UnixMicro())}, "end": {fmt.Sprint(time.Now().UnixMicro())}}
	var res JaegerResponse
	if err := j.get(ctx, "/api/traces?"+q.Encode(), &res); err != nil {
		return nil, err
	}
	if len(res.Data) == 0 {
		return nil, fmt.Errorf("no trace of order %s in the last %s (is tracing on: OTEL_EXPORTER_OTLP_ENDPOINT?)", orderID, lookback)
	}
	first := FromJaeger(res.Data[0])
	for _, t := range res.Data[1:] {
		if spans := FromJaeger(t); earliest(spans).Before(earliest(first)) {
			first = spans
		}
	}
	return first, nil
}

func earliest(spans []Span) time.Time {
	var t time.Time
	for i, s := range spans {
		if i == 0 || s.Start.Before(t) {
			t = s.Start
		}
	}
	return t
}

func (j Jaeger) get(ctx context.Context, path string, out *JaegerResponse) error {
	hc := j.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(j.BaseURL, "/")+path, nil)
	if err != nil {
		return err
	}
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("jaeger query API: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("jaeger query API: %w", err)
	}
	if res.StatusCode == http.StatusNotFound {
		return errors.New("jaeger query API: not found")
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("jaeger query API: %s: %s", res.Status, clip(strings.TrimSpace(string(body)), 200))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("jaeger query API: %w", err)
	}
	if len(out.Errors) > 0 {
		return fmt.Errorf("jaeger query API: %s", out.Errors[0].Msg)
	}
	return nil
}

// FromJaeger converts a trace of Jaeger's JSON model.
func FromJaeger(t JaegerTrace) []Span {
	out := make([]Span, 0, len(t.Spans))
	for _, js := range t.Spans {
		s := Span{
			TraceID: js.TraceID, SpanID: js.SpanID, Name: js.OperationName,
			Service:    t.Processes[js.ProcessID].ServiceName,
			Start:      time.UnixMicro(js.StartTime),
			Duration:   time.Duration(js.Duration) * time.Microsecond,
			Attributes: map[string]string{},
		}
		for _, r := range js.References {
			if r.RefType == "CHILD_OF" && s.ParentID == "" {
				s.ParentID = r.SpanID
			}
		}
		for _, tag := range js.Tags {
			v := fmt.Sprint(tag.Value)
			s.Attributes[tag.Key] = v
			switch tag.Key {
			case "span.kind":
				s.Kind = v
			case "error":
				s.Error = s.Error || v == "true"
			case "otel.status_code":
				s.Error = s.Error || v == "ERROR"
			}
		}
		out = append(out, s)
	}
	return out
}
