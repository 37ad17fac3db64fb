// Package xdsclient is an aggregated (ADS) state-of-the-world xDS client, as Envoy runs it: one
// gRPC stream carries CDS and LDS (wildcard), then EDS for the clusters' service names and RDS
// for the listeners' route configurations. Each response is handed whole to a Watcher; an
// accepted one is ACKed with its version, a rejected one NACKed with the reason and the last
// accepted version, so the control plane knows which configuration the edge serves. When the
// stream breaks, the client reconnects with backoff and resubscribes from the versions it has,
// while the edge goes on serving them.
package xdsclient

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"
)

// Watcher applies what the control plane sends.
type Watcher interface {
	// Update applies the complete set of resources of typeURL; an error rejects them (NACK)
	// and the previous set stays in force.
	Update(typeURL, version string, resources []*anypb.Any) error
	// Names lists the resources of typeURL (RDS, EDS) the current configuration needs.
	Names(typeURL string) []string
}

// Options tune a Client.
type Options struct {
	Node   *corev3.Node
	Logger *slog.Logger
	// Observe, when set, is told of every response: err nil for an ACK, the reason of a NACK.
	Observe func(typeURL, version string, err error)
	// MaxBackoff bounds the wait between reconnections [10s].
	MaxBackoff time.Duration
}

// Client is one edge's subscription to the control plane.
type Client struct {
	conn grpc.ClientConnInterface
	w    Watcher
	opts Options

	mu    sync.Mutex // the per-type state and the stream's sending side
	types map[string]*typeState
}

type typeState struct {
	version string // last accepted
	nonce   string // of the last response
	names   []string
	sent    bool // a request for this type went out on the current stream

	// A control plane that answers a NACK by sending the same version again (go-control-plane's
	// snapshot cache does) would loop as fast as the network allows: a NACK of the version
	// rejected last time is sent after a growing delay instead (Envoy rate-limits likewise).
	nacked    string // version of the last NACK
	nackDelay time.Duration
	nackTimer *time.Timer
}

// NACK pacing bounds.
const (
	firstNackDelay = 250 * time.Millisecond
	maxNackDelay   = 5 * time.Second
)

// Wildcard types first, then the ones whose names they determine (Envoy's order).
var (
	wildcardTypes  = []string{resourcev3.ClusterType, resourcev3.ListenerType}
	dependentTypes = []string{resourcev3.EndpointType, resourcev3.RouteType}
)

// New returns a client over conn.
func New(conn grpc.ClientConnInterface, w Watcher, opts Options) *Client {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	c := &Client{conn: conn, w: w, opts: opts, types: map[string]*typeState{}}
	for _, t := range append(slices.Clone(wildcardTypes), dependentTypes...) {
		c.types[t] = &typeState{}
	}
	return c
}

// Run keeps a stream open until ctx ends.
func (c *Client) Run(ctx context.Context) error {
	backoff := 250 * time.Millisecond
	for {
		started := time.Now()
		err := c.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > 30*time.Second {
			backoff = 250 * time.Millisecond
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		c.opts.Logger.Warn("xDS stream ended; reconnecting", "error", errString(err), "in", wait.Round(time.Millisecond).String())
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, c.opts.MaxBackoff)
	}
}

func errString(err error) string {
	if err == nil {
		return "closed by the server"
	}
	return err.Error()
}

type stream = grpc.BidiStreamingClient[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]

func (c *Client) session(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := discoveryv3.NewAggregatedDiscoveryServiceClient(c.conn).StreamAggregatedResources(ctx, grpc.WaitForReady(true))
	if err != nil {
		return err
	}
	defer c.stopTimers()
	if err := c.open(s); err != nil {
		return err
	}
	c.opts.Logger.Info("xDS stream open")
	for {
		res, err := s.Recv()
		if err != nil {
			return err
		}
		if err := c.handle(s, res); err != nil {
			return err
		}
	}
}

// open subscribes on a new stream, from the versions already accepted.
func (c *Client) open(s stream) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.types {
		st.sent, st.nonce = false, ""
	}
	for _, t := range wildcardTypes {
		if err := c.send(s, t, nil, nil); err != nil {
			return err
		}
	}
	return c.subscribeDependents(s)
}

func (c *Client) stopTimers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.types {
		if st.nackTimer != nil {
			st.nackTimer.Stop()
			st.nackTimer = nil
		}
	}
}

// handle applies one response and answers it, then follows any change of the names needed.
func (c *Client) handle(s stream, res *discoveryv3.DiscoveryResponse) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.types[res.GetTypeUrl()]
	if st == nil {
		return c.send(s, res.GetTypeUrl(), nil, &statuspb.Status{Code: int32(codes.InvalidArgument), Message: "type not subscribed"})
	}
	st.nonce = res.GetNonce()
	err := c.w.Update(res.GetTypeUrl(), res.GetVersionInfo(), res.GetResources())
	if c.opts.Observe != nil {
		c.opts.Observe(res.GetTypeUrl(), res.GetVersionInfo(), err)
	}
	if st.nackTimer != nil {
		st.nackTimer.Stop()
		st.nackTimer = nil
	}
	if err != nil {
		return c.nack(s, res, err)
	}
	c.opts.Logger.Info("xDS update applied (ACK)", "type", res.GetTypeUrl(), "version", res.GetVersionInfo(), "resources", len(res.GetResources()))
	st.version, st.nacked, st.nackDelay = res.GetVersionInfo(), "", 0
	if err := c.send(s, res.GetTypeUrl(), st.names, nil); err != nil {
		return err
	}
	return c.subscribeDependents(s)
}

// nack rejects res, keeping the last accepted version; the same version rejected again is
// NACKed after a growing delay.
func (c *Client) nack(s stream, res *discoveryv3.DiscoveryResponse, err error) error {
	typeURL, st := res.GetTypeUrl(), c.types[res.GetTypeUrl()]
	detail := &statuspb.Status{Code: int32(codes.InvalidArgument), Message: err.Error()}
	if st.nacked != res.GetVersionInfo() {
		c.opts.Logger.Warn("xDS update rejected (NACK)", "type", typeURL, "version", res.GetVersionInfo(), "kept", st.version, "error", err.Error())
		st.nacked, st.nackDelay = res.GetVersionInfo(), 0
		return c.send(s, typeURL, st.names, detail)
	}
	st.nackDelay = min(max(2*st.nackDelay, firstNackDelay), maxNackDelay)
	st.nackTimer = time.AfterFunc(st.nackDelay, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		_ = c.send(s, typeURL, st.names, detail) // a failure ends the stream's Recv too
	})
	return nil
}

// subscribeDependents asks for the EDS and RDS names the configuration now needs, when they changed.
func (c *Client) subscribeDependents(s stream) error {
	for _, t := range dependentTypes {
		st := c.types[t]
		names := c.w.Names(t)
		slices.Sort(names)
		if st.sent && slices.Equal(names, st.names) {
			continue
		}
		if !st.sent && len(names) == 0 {
			continue // nothing needed yet: an empty list would be a wildcard request
		}
		if err := c.send(s, t, names, nil); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) send(s stream, typeURL string, names []string, detail *statuspb.Status) error {
	st := c.types[typeURL]
	req := &discoveryv3.DiscoveryRequest{
		Node:          c.opts.Node,
		TypeUrl:       typeURL,
		ResourceNames: names,
		ErrorDetail:   detail,
	}
	if st != nil {
		req.VersionInfo, req.ResponseNonce = st.version, st.nonce
		st.names, st.sent = names, true
	}
	if err := s.Send(req); err != nil {
		return errors.Join(errors.New("send discovery request"), err)
	}
	return nil
}
