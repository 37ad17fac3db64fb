// Package hcm is Envoy's HTTP connection manager (envoy.filters.network.http_connection_manager)
// for one listener: it picks the route (RDS or inline), runs the HTTP filters in their configured
// order — header_mutation, cors, local_ratelimit, jwt_authn, buffer, each as Envoy runs it — and
// ends with the router, which proxies to the route's cluster with its timeout and retry policy.
// Its local replies (401, 403, 404, 413, 429, 503, 504, …) follow Envoy's, shaped by the
// manager's local_reply_config (package reply).
package hcm

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"mercato.dev/edge/internal/accesslog"
	"mercato.dev/edge/internal/jwt"
	"mercato.dev/edge/internal/reply"
	"mercato.dev/edge/internal/route"
	"mercato.dev/edge/internal/upstream"
)

// ErrWarming means the route configuration the manager names has not arrived yet: like Envoy, the
// listener waits (warms) until it has.
var ErrWarming = errors.New("route configuration not received yet")

// Observer records each request the manager handled.
type Observer interface {
	Request(cluster string, status int, elapsed time.Duration)
}

// Options are what a manager needs from the configuration around it.
type Options struct {
	Routes   map[string]*route.Table      // RDS route configurations by name
	Clusters map[string]*upstream.Cluster // by name
	Keys     *jwt.Keys                    // remote JWKS cache
	Logger   *slog.Logger
	// AccessLog, when set, writes the access lines (the same record, encoded without slog and
	// buffered); nil: they go through Logger at info level.
	AccessLog *accesslog.Logger
	Observer  Observer
}

// Manager is one compiled HttpConnectionManager.
type Manager struct {
	StatPrefix            string
	IdleTimeout           time.Duration // of downstream connections; 0: Envoy's 1h
	MaxConcurrentStreams  uint32        // per HTTP/2 connection; 0: the Go default
	RequestHeadersTimeout time.Duration // to receive a request's headers; 0: the listener's bound
	StreamIdleTimeout     time.Duration // between reads of a request body; 0: none

	replies   *reply.Config
	table     *route.Table
	filters   []filter
	clusters  map[string]*upstream.Cluster
	requestID bool
	proxy     *httputil.ReverseProxy
	logger    *slog.Logger
	access    *accesslog.Logger
	obs       Observer
	tracing   *tracing // nil: no spans
}

// RouteConfigName is the RDS route configuration m refers to, "" when its routes are inline.
func RouteConfigName(m *hcmv3.HttpConnectionManager) string {
	return m.GetRds().GetRouteConfigName()
}

// New compiles m. It returns ErrWarming when m's RDS route configuration is not in opts.Routes.
func New(m *hcmv3.HttpConnectionManager, opts Options) (*Manager, error) {
	if err := unsupported(m); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	mgr := &Manager{
		StatPrefix: m.GetStatPrefix(),
		clusters:   opts.Clusters,
		requestID:  m.GetGenerateRequestId() == nil || m.GetGenerateRequestId().GetValue(),
		logger:     opts.Logger,
		access:     opts.AccessLog,
		obs:        opts.Observer,
	}
	if d := m.GetCommonHttpProtocolOptions().GetIdleTimeout(); d != nil {
		mgr.IdleTimeout = d.AsDuration()
	}
	if n := m.GetHttp2ProtocolOptions().GetMaxConcurrentStreams(); n != nil {
		mgr.MaxConcurrentStreams = n.GetValue()
	}
	mgr.RequestHeadersTimeout = m.GetRequestHeadersTimeout().AsDuration()
	mgr.StreamIdleTimeout = m.GetStreamIdleTimeout().AsDuration()
	replies, err := reply.New(m.GetLocalReplyConfig())
	if err != nil {
		return nil, err
	}
	mgr.replies = replies
	switch rs := m.GetRouteSpecifier().(type) {
	case *hcmv3.HttpConnectionManager_Rds:
		if rs.Rds.GetConfigSource().GetAds() == nil {
			return nil, errors.New("RDS must come over ADS")
		}
		if mgr.table = opts.Routes[rs.Rds.GetRouteConfigName()]; mgr.table == nil {
			return nil, ErrWarming
		}
	case *hcmv3.HttpConnectionManager_RouteConfig:
		t, err := route.New(rs.RouteConfig)
		if err != nil {
			return nil, err
		}
		mgr.table = t
	default:
		return nil, fmt.Errorf("route specifier %T is not supported by the dev edge", rs)
	}
	filters, err := newFilters(m.GetHttpFilters(), opts.Keys)
	if err != nil {
		return nil, err
	}
	mgr.filters = filters
	if mgr.tracing, err = newTracing(m.GetTracing()); err != nil {
		return nil, err
	}
	mgr.proxy = mgr.newProxy()
	return mgr, nil
}

func unsupported(m *hcmv3.HttpConnectionManager) error {
	switch {
	case m.GetCodecType() == hcmv3.HttpConnectionManager_HTTP3:
		return errors.New("HTTP/3 is not supported by the dev edge")
	}
	return nil
}

// ServeHTTP handles one downstream request.
func (m *Manager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	growStack()
	start := time.Now()
	if m.StreamIdleTimeout > 0 && r.Body != nil && r.Body != http.NoBody {
		b := &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: m.StreamIdleTimeout}
		defer b.stop()
		r.Body = b
	}
	r, span := m.begin(r)
	x := &exchange{w: &responseWriter{ResponseWriter: w}, r: r, route: m.table.Lookup(r), m: m}
	for _, f := range m.filters {
		if f.decode(x) {
			break
		}
	}
	if m.obs != nil {
		cluster := ""
		if x.route != nil {
			cluster = x.route.Cluster
		}
		m.obs.Request(cluster, x.w.code(), time.Since(start))
	}
	m.observe(x, span, start)
}

// exchange is one request going through the filters.
type exchange struct {
	w     *responseWriter
	r     *http.Request
	route *route.Route
	m     *Manager
}

// reply answers the request with one of the edge's own replies.
func (x *exchange) reply(rep reply.Reply) { x.m.replies.Write(x.w, x.r, rep) }

// idleBody resets a request whose body stalls longer than the stream idle timeout: each read
// must complete within it.
//
// A timer of its own, reset before each read, sets the read deadline in the past when it fires
// (the pending read fails at once with os.ErrDeadlineExceeded). Setting a future deadline on
// every read instead costs an HTTP/2 request a message to its connection's serve loop, and a
// timer there, per read.
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration

	mu    sync.Mutex
	timer *time.Timer
	done  bool // EOF, error, or the handler returned: no read to watch
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if !b.done {
		if b.timer == nil {
			b.timer = time.AfterFunc(b.idle, b.expire)
		} else {
			b.timer.Reset(b.idle)
		}
	}
	b.mu.Unlock()
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.stop() // nothing more to read
	}
	return n, err
}

func (b *idleBody) expire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done { // never after the handler returned: its response writer is gone
		_ = b.rc.SetReadDeadline(time.Unix(1, 0))
	}
}

// stop disarms the timer for good.
func (b *idleBody) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	if b.timer != nil {
		b.timer.Stop()
	}
}

// perFilter returns the route's config for the filter named name (nil when none).
func (x *exchange) perFilter(name string) any {
	if x.route == nil {
		return nil
	}
	return x.route.PerFilter[name]
}
