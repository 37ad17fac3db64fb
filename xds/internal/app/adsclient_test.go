package app_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffegrpc/grpccredentials"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
)

// adsClient is a raw SotW ADS stream that subscribes like Envoy (LDS and CDS wildcard, RDS
// and EDS by name) and ACKs every response, recording what it received.
type adsClient struct {
	t      *testing.T
	stream discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node   *core.Node
	subs   map[string][]string
	nack   bool // reject every response instead of accepting it

	mu      sync.Mutex
	cond    *sync.Cond
	latest  map[string]*received
	history []*received
	err     error
}

type received struct {
	typeURL   string
	version   string
	resources map[string]*anypb.Any
	at        time.Time
}

// edgeSubscriptions are an Envoy's subscriptions with the repository's clusters.
var edgeSubscriptions = map[string][]string{
	resource.ListenerType: nil,
	resource.ClusterType:  nil,
	resource.RouteType:    {"public"},
	resource.EndpointType: {"customers", "inventory", "notifications", "orders", "payments"},
}

// dialADS connects to the control plane's ADS port as id.
func dialADS(t *testing.T, src interface {
	x509svid.Source
	x509bundle.Source
}, addr string) *grpc.ClientConn {
	t.Helper()
	creds := grpccredentials.MTLSClientCredentials(src, src, tlsconfig.AuthorizeID(identity.XDS))
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// openADS opens a stream for nodeID as env's id and subscribes.
func openADS(t *testing.T, env *kittest.Env, id spiffeid.ID, addr, nodeID string, subs map[string][]string, opts ...func(*adsClient)) *adsClient {
	t.Helper()
	return openADSConn(t, dialADS(t, env.Source(t, id), addr), nodeID, subs, opts...)
}

func nackAll(c *adsClient) { c.nack = true }

func openADSConn(t *testing.T, cc *grpc.ClientConn, nodeID string, subs map[string][]string, opts ...func(*adsClient)) *adsClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := &adsClient{t: t, node: &core.Node{Id: nodeID}, subs: subs, latest: map[string]*received{}}
	for _, o := range opts {
		o(c)
	}
	c.cond = sync.NewCond(&c.mu)
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		c.fail(err)
		return c
	}
	c.stream = stream
	for _, typ := range []string{resource.ListenerType, resource.ClusterType, resource.RouteType, resource.EndpointType} {
		names, ok := subs[typ]
		if !ok {
			continue
		}
		if err := stream.Send(&discovery.DiscoveryRequest{Node: c.node, TypeUrl: typ, ResourceNames: names}); err != nil {
			if errors.Is(err, io.EOF) {
				// The server ended the stream (a refusal after the first request): Send reports
				// only EOF, the stream's status comes from Recv.
				_, err = stream.Recv()
			}
			c.fail(err)
			return c
		}
	}
	go c.receive()
	return c
}

func (c *adsClient) receive() {
	for {
		res, err := c.stream.Recv()
		if err != nil {
			c.fail(err)
			return
		}
		got := &received{typeURL: res.GetTypeUrl(), version: res.GetVersionInfo(), resources: map[string]*anypb.Any{}, at: time.Now()}
		for _, a := range res.GetResources() {
			got.resources[resourceName(c.t, a)] = a
		}
		// ACK: the version and nonce just received, the same subscription. A NACK names the
		// nonce but keeps the version accepted before, with the reason.
		answer := &discovery.DiscoveryRequest{
			Node: c.node, TypeUrl: res.GetTypeUrl(), VersionInfo: res.GetVersionInfo(),
			ResponseNonce: res.GetNonce(), ResourceNames: c.subs[res.GetTypeUrl()],
		}
		if c.nack {
			answer.VersionInfo = c.acceptedVersion(res.GetTypeUrl())
			answer.ErrorDetail = &status.Status{Code: int32(codes.InvalidArgument), Message: "test client rejects everything"}
		}
		if err := c.stream.Send(answer); err != nil {
			c.fail(err)
			return
		}
		c.mu.Lock()
		c.latest[got.typeURL] = got
		c.history = append(c.history, got)
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

func (c *adsClient) acceptedVersion(string) string { return "" } // a NACKing client never accepted anything

func (c *adsClient) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	if c.cond != nil {
		c.cond.Broadcast()
	}
}

// wait blocks until the latest response of typeURL satisfies ok, the stream fails, or
// timeout passes.
func (c *adsClient) wait(typeURL string, timeout time.Duration, ok func(*received) bool) (*received, error) {
	deadline := time.AfterFunc(timeout, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
	defer deadline.Stop()
	start := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if got := c.latest[typeURL]; got != nil && ok(got) {
			return got, nil
		}
		if c.err != nil {
			return nil, c.err
		}
		if time.Since(start) >= timeout {
			return nil, context.DeadlineExceeded
		}
		c.cond.Wait()
	}
}

// mustWait is wait that fails the test.
func (c *adsClient) mustWait(typeURL string, timeout time.Duration, what string, ok func(*received) bool) *received {
	c.t.Helper()
	got, err := c.wait(typeURL, timeout, ok)
	if err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
	return got
}

// streamErr waits for the stream to fail and returns why (nil if it is still open after timeout).
func (c *adsClient) streamErr(timeout time.Duration) error {
	_, err := c.wait("never", timeout, func(*received) bool { return false })
	if err == context.DeadlineExceeded {
		return nil
	}
	return err
}

// last is the latest response of typeURL (nil before the first).
func (c *adsClient) last(typeURL string) *received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.latest[typeURL]
}

// responses counts every response received.
func (c *adsClient) responses() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.history)
}

func (c *adsClient) versions(typeURL string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.history {
		if r.typeURL == typeURL {
			out = append(out, r.version)
		}
	}
	return out
}

func any1(*received) bool { return true }

func resourceName(t *testing.T, a *anypb.Any) string {
	m, err := a.UnmarshalNew()
	if err != nil {
		t.Errorf("unpack %s: %v", a.GetTypeUrl(), err)
		return ""
	}
	if named, ok := m.(interface{ GetName() string }); ok {
		return named.GetName()
	}
	if cla, ok := m.(interface{ GetClusterName() string }); ok {
		return cla.GetClusterName()
	}
	return string(proto.MessageName(m))
}

// unpackAs decodes a received resource.
func unpackAs[T proto.Message](t *testing.T, a *anypb.Any) T {
	t.Helper()
	var zero T
	if a == nil {
		t.Fatalf("resource missing")
		return zero
	}
	m, err := a.UnmarshalNew()
	if err != nil {
		t.Fatal(err)
	}
	out, ok := m.(T)
	if !ok {
		t.Fatalf("resource is %T", m)
	}
	return out
}
