package hcm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"sync"

	"mercato.dev/edge/internal/reply"
	"mercato.dev/edge/internal/route"
	"mercato.dev/edge/internal/upstream"
)

// errRouteTimeout is the cause of a request that outlived its route's timeout.
var errRouteTimeout = errors.New("upstream request timeout")

// routerFilter is envoy.filters.http.router: it answers what has no route, then proxies.
type routerFilter struct{}

func (routerFilter) decode(x *exchange) bool {
	x.m.forward(x)
	return true
}

type targetKey struct{}

// target is what the proxy's hooks need to know about the request in flight.
type target struct {
	route   *route.Route
	cluster *upstream.Cluster
}

func (m *Manager) forward(x *exchange) {
	rt := x.route
	switch {
	case rt == nil:
		x.reply(reply.Reply{Status: http.StatusNotFound})
		return
	case rt.Direct != nil:
		rt.ResponseHeaders.Apply(x.w.Header())
		x.w.WriteHeader(rt.Direct.Status)
		_, _ = x.w.Write([]byte(rt.Direct.Body))
		return
	}
	c := m.clusters[rt.Cluster]
	if c == nil {
		x.reply(reply.Reply{Status: rt.NotFoundStatus})
		return
	}
	rt.RequestHeaders.ApplyRequest(x.r)
	if len(rt.ResponseHeaders) > 0 {
		x.w.onHeaders(rt.ResponseHeaders.Apply)
	}
	ctx := context.WithValue(x.r.Context(), targetKey{}, &target{route: rt, cluster: c})
	if d := rt.TimeoutFor(x.r); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, errRouteTimeout)
		defer cancel()
	}
	m.proxy.ServeHTTP(x.w, x.r.WithContext(ctx))
}

func (m *Manager) newProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:      m.rewrite,
		Transport:    roundTripper{},
		ErrorHandler: m.proxyError,
		BufferPool:   bufferPool{},
		ErrorLog:     slog.NewLogLogger(m.logger.Handler(), slog.LevelDebug),
	}
}

func (m *Manager) rewrite(pr *httputil.ProxyRequest) {
	t := pr.In.Context().Value(targetKey{}).(*target)
	pr.Out.URL.Scheme = "https"
	pr.Out.URL.Host = t.cluster.Name() // the cluster picks the endpoint per attempt
	if p := t.route.RewritePath(pr.In.URL.Path); p != pr.In.URL.Path {
		pr.Out.URL.Path, pr.Out.URL.RawPath = p, ""
	}
	pr.Out.Host = pr.In.Host
	if t.route.HostRewrite != "" {
		pr.Out.Host = t.route.HostRewrite
	}
	pr.SetXForwarded()
	if m.requestID && pr.Out.Header.Get("X-Request-Id") == "" {
		pr.Out.Header.Set("X-Request-Id", newRequestID())
	}
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type roundTripper struct{}

func (roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	t := req.Context().Value(targetKey{}).(*target)
	return t.cluster.RoundTrip(req, t.route.Retry)
}

// proxyError answers a request the cluster could not carry, as Envoy's router does.
func (m *Manager) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	setFlag(w, responseFlag(r, err))
	var overflow *upstream.Overflow
	var connect *upstream.ConnectError
	switch {
	case errors.As(err, &overflow):
		m.replies.Write(w, r, reply.Reply{Status: http.StatusServiceUnavailable, Body: "upstream connect error or disconnect/reset before headers. reset reason: overflow",
			Header: http.Header{"X-Envoy-Overloaded": {"true"}}})
	case errors.Is(context.Cause(r.Context()), errRouteTimeout), errors.Is(err, upstream.ErrPerTryTimeout):
		m.replies.Write(w, r, reply.Reply{Status: http.StatusGatewayTimeout, Body: "upstream request timeout"})
	case errors.Is(err, upstream.ErrNoHealthyUpstream):
		m.replies.Write(w, r, reply.Reply{Status: http.StatusServiceUnavailable, Body: "no healthy upstream"})
	case r.Context().Err() != nil:
		// The client left: nobody reads an answer.
		w.WriteHeader(499)
	case errors.As(err, &connect):
		m.logger.Debug("upstream connect failure", "error", err.Error())
		m.replies.Write(w, r, reply.Reply{Status: http.StatusServiceUnavailable, Body: "upstream connect error or disconnect/reset before headers. reset reason: connection failure"})
	default:
		m.logger.Debug("upstream reset", "error", err.Error())
		m.replies.Write(w, r, reply.Reply{Status: http.StatusServiceUnavailable, Body: "upstream connect error or disconnect/reset before headers. reset reason: connection termination"})
	}
}

// bufferPool recycles the proxy's copy buffers.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }
