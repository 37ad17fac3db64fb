package hcm

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"

	"mercato.dev/edge/internal/ratelimit"
	"mercato.dev/edge/internal/reply"
	"mercato.dev/edge/internal/route"
)

// rateLimitFilter is envoy.filters.http.local_ratelimit: the route's bucket (or the filter's
// own) must hold a token, else the edge answers.
type rateLimitFilter struct {
	name string
	own  *ratelimit.Limiter
}

func (f rateLimitFilter) decode(x *exchange) bool {
	l := f.own
	switch c := x.perFilter(f.name).(type) {
	case route.Disabled:
		return false
	case *ratelimit.Limiter:
		l = c
	}
	if l.Allow() {
		return false
	}
	h := http.Header{"X-Envoy-Ratelimited": {"true"}}
	l.Headers.Apply(h)
	rep := reply.Reply{Status: l.Status, Body: "local_rate_limited", Header: h}
	if l.AsResource {
		exhausted := 8
		rep.GRPCStatus = &exhausted
	}
	x.reply(rep)
	return true
}

// bufferFilter is envoy.filters.http.buffer: the whole request body is received before the
// router starts, so a body over the limit is refused (413) before any upstream attempt, retry
// or per-try timeout.
type bufferFilter struct {
	name string
	max  int64
}

func (f bufferFilter) decode(x *exchange) bool {
	limit := f.max
	switch c := x.perFilter(f.name).(type) {
	case route.Disabled:
		return false
	case route.BodyLimit:
		if c.Disabled {
			return false
		}
		limit = c.Max
	}
	r := x.r
	if r.Body == nil || r.Body == http.NoBody {
		return false
	}
	if r.ContentLength > limit {
		x.reply(reply.Reply{Status: http.StatusRequestEntityTooLarge, Body: "Payload Too Large"})
		return true
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		x.reply(reply.Reply{Status: http.StatusRequestTimeout, Body: "stream timeout"})
		return true
	case err != nil:
		x.w.WriteHeader(499) // the client left: nobody reads an answer
		return true
	case int64(len(body)) > limit:
		x.reply(reply.Reply{Status: http.StatusRequestEntityTooLarge, Body: "Payload Too Large"})
		return true
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return false
}
