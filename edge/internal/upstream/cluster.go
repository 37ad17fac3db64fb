package upstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"time"

	"mercato.dev/edge/internal/reply"
)

// maxRetryBody is the largest request body kept for retries, like Envoy's per-connection buffer
// limit: a larger request is sent once.
const maxRetryBody = 1 << 20

// Cluster is one cluster of one configuration version.
type Cluster struct {
	Settings  *Settings
	st        *state
	transport transport
	hosts     []*host
	obs       Observer
}

// Name is the cluster's name.
func (c *Cluster) Name() string { return c.Settings.Name }

// Endpoints lists the cluster's endpoints and whether each is ejected now.
func (c *Cluster) Endpoints() map[string]bool {
	now := time.Now()
	out := make(map[string]bool, len(c.hosts))
	for _, h := range c.hosts {
		out[h.addr] = h.state.ejected(now)
	}
	return out
}

// RoundTrip sends req (whose URL path and headers are final; the endpoint is chosen here),
// retrying per policy (nil: no retries). The response body must be closed.
func (c *Cluster) RoundTrip(req *http.Request, policy *RetryPolicy) (*http.Response, error) {
	var perTry time.Duration
	var retries int
	if policy != nil {
		perTry, retries = policy.PerTryTimeout, policy.NumRetries
	}
	var b body
	if retries > 0 {
		var err error
		if b, err = bufferBody(req); err != nil {
			return nil, err
		}
	} else {
		b = body{rest: req.Body}
	}
	res, err := c.attempt(req, b, perTry)
	for n := 1; n <= retries && b.replayable(); n++ {
		if req.Context().Err() != nil || !c.retriable(policy, res, err) {
			break
		}
		if !tryAcquire(&c.st.retries, c.Settings.Limits.MaxRetries) {
			c.obs.Overflow(c.Name(), "max_retries")
			break
		}
		discard(res)
		c.obs.Retry(c.Name())
		if err := sleep(req.Context(), policy.backoff(n)); err != nil {
			c.st.retries.Add(-1)
			return nil, err
		}
		res, err = c.attempt(req, b, perTry)
		c.st.retries.Add(-1)
	}
	return res, err
}

// retriable reports whether an attempt's outcome calls for a retry under policy.
func (c *Cluster) retriable(policy *RetryPolicy, res *http.Response, err error) bool {
	var o *Overflow
	switch {
	case err == nil:
		return policy.retryResponse(res)
	case errors.As(err, &o), errors.Is(err, ErrNoHealthyUpstream):
		return false
	default:
		return policy.retryError(err)
	}
}

// body is a request body, kept whole in buf when it fits (replayable), or its first bytes in
// buf followed by the unread rest.
type body struct {
	buf  []byte
	rest io.ReadCloser // nil when buf is the whole body
}

func (b body) replayable() bool { return b.rest == nil }

func bufferBody(req *http.Request) (body, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return body{}, nil
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, maxRetryBody+1))
	if err != nil {
		return body{}, err
	}
	if len(buf) > maxRetryBody {
		return body{buf: buf, rest: req.Body}, nil
	}
	return body{buf: buf}, nil
}

func (b body) reader() io.ReadCloser {
	switch {
	case b.rest == nil && b.buf == nil:
		return http.NoBody
	case b.rest == nil:
		return io.NopCloser(bytes.NewReader(b.buf))
	case len(b.buf) == 0:
		return b.rest
	default:
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b.buf), b.rest), b.rest}
	}
}

func discard(res *http.Response) {
	if res != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		_ = res.Body.Close()
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// attempt sends req once to the next endpoint, within the breakers and perTry (0: none).
func (c *Cluster) attempt(req *http.Request, b body, perTry time.Duration) (*http.Response, error) {
	h := c.pick()
	if h == nil {
		return nil, ErrNoHealthyUpstream
	}
	lim := c.Settings.Limits
	if !tryAcquire(&c.st.active, lim.MaxRequests) {
		c.obs.Overflow(c.Name(), "max_requests")
		return nil, &Overflow{Cluster: c.Name(), Breaker: "max_requests"}
	}
	done := func() { c.st.active.Add(-1) }
	var ctx context.Context
	var cancel context.CancelFunc
	if perTry > 0 {
		ctx, cancel = context.WithTimeoutCause(req.Context(), perTry, ErrPerTryTimeout)
	} else {
		ctx, cancel = context.WithCancel(req.Context())
	}
	// A request is pending while its endpoint has no established connection to carry it.
	if h.state.conns.Load() == 0 {
		if !tryAcquire(&c.st.pending, lim.MaxPending) {
			cancel()
			done()
			c.obs.Overflow(c.Name(), "max_pending_requests")
			return nil, &Overflow{Cluster: c.Name(), Breaker: "max_pending_requests"}
		}
		unpend := sync.OnceFunc(func() { c.st.pending.Add(-1) })
		defer unpend()
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { unpend() }})
	}
	out := req.WithContext(ctx)
	u := *req.URL
	u.Scheme, u.Host = "https", h.addr
	out.URL = &u
	out.Body = b.reader()
	if b.replayable() {
		out.GetBody = func() (io.ReadCloser, error) { return b.reader(), nil }
	}
	res, err := c.transport.RoundTrip(out)
	if err != nil {
		err = attemptError(err, ctx, req.Context())
		cancel()
		done()
		if !errors.Is(req.Context().Err(), context.Canceled) { // a client that left says nothing of the endpoint
			c.record(h, true)
		}
		return nil, err
	}
	failed, known := outcome(res.StatusCode, res.Header)
	if known {
		c.record(h, failed)
	}
	res.Body = &trackedBody{ReadCloser: res.Body, finish: func(eof bool) {
		cancel()
		done()
		if !known && eof {
			failed, _ := outcome(http.StatusOK, res.Trailer)
			c.record(h, failed)
		}
	}}
	return res, nil
}

// attemptError names why an attempt failed: its per-try timeout, the caller's context (route
// timeout, client gone), or the transport's own error (connect failure, reset, overflow).
func attemptError(err error, attempt, parent context.Context) error {
	switch {
	case parent.Err() != nil:
		return context.Cause(parent)
	case errors.Is(context.Cause(attempt), ErrPerTryTimeout):
		return ErrPerTryTimeout
	}
	return err
}

// outcome classifies a response for outlier detection as Envoy does: a 5xx fails; a gRPC
// response is judged by its grpc-status mapped to HTTP, which for a response with a body is
// only known from its trailers (known false).
func outcome(status int, h http.Header) (failed, known bool) {
	if status >= 500 {
		return true, true
	}
	if !reply.IsGRPCContentType(h.Get("Content-Type")) && h.Get("Grpc-Status") == "" {
		return false, true
	}
	gs := h.Get("Grpc-Status")
	if gs == "" {
		return false, false
	}
	n, err := strconv.Atoi(gs)
	if err != nil {
		return true, true
	}
	return reply.HTTPStatus(n) >= 500, true
}

// trackedBody runs finish once, when the body is read to the end or closed.
type trackedBody struct {
	io.ReadCloser
	once   sync.Once
	finish func(eof bool)
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(func() { b.finish(true) })
	}
	return n, err
}

func (b *trackedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.finish(false) })
	return err
}

// pick chooses the next endpoint round robin (or at random) among those not ejected; when fewer
// than the panic threshold are healthy, among all of them, as Envoy does.
func (c *Cluster) pick() *host {
	n := len(c.hosts)
	if n == 0 {
		return nil
	}
	now := time.Now()
	healthy := 0
	for _, h := range c.hosts {
		if !h.state.ejected(now) {
			healthy++
		}
	}
	panicMode := float64(healthy)*100 < c.Settings.PanicThreshold*float64(n)
	if healthy == 0 && !panicMode {
		return nil
	}
	start := int(c.st.rr.Add(1) % uint64(n))
	if c.Settings.Random {
		start = rand.N(n)
	}
	for i := range n {
		h := c.hosts[(start+i)%n]
		if panicMode || !h.state.ejected(now) {
			return h
		}
	}
	return nil
}

// record feeds one outcome of an endpoint to consecutive-5xx outlier detection.
func (c *Cluster) record(h *host, failed bool) {
	o := c.Settings.Outlier
	if o == nil {
		return
	}
	if !failed {
		h.state.consecutive.Store(0)
		return
	}
	if h.state.consecutive.Add(1) < o.Consecutive5xx {
		return
	}
	if o.Enforcing < 100 && rand.N(uint32(100)) >= o.Enforcing {
		return
	}
	c.eject(h, o)
}

// eject takes h out of load balancing for base_ejection_time × times ejected (capped), unless
// that would eject more than max_ejection_percent of the cluster.
func (c *Cluster) eject(h *host, o *OutlierSettings) {
	c.st.ejectMu.Lock()
	defer c.st.ejectMu.Unlock()
	now := time.Now()
	if h.state.ejected(now) {
		return
	}
	ejected := 0
	for _, x := range c.hosts {
		if x.state.ejected(now) {
			ejected++
		}
	}
	if 100*(ejected+1) > int(o.MaxEjectionPercent)*len(c.hosts) && !(o.AlwaysEjectOne && ejected == 0) {
		return
	}
	n := h.state.ejections.Add(1)
	d := min(o.BaseEjectionTime*time.Duration(n), max(o.MaxEjectionTime, o.BaseEjectionTime))
	h.state.ejectedUntil.Store(now.Add(d).UnixNano())
	h.state.consecutive.Store(0)
	c.obs.Ejected(c.Name(), h.addr)
}
