package ads

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/spiffe/go-spiffe/v2/spiffegrpc/grpccredentials"
	"github.com/spiffe/go-spiffe/v2/spiffetls"
)

// guard decides, per stream, who may receive what: the peer's SPIFFE ID (from the mTLS
// handshake) is read when the stream opens, and every request's node is checked against it.
// Only the edge's ID may receive the edge snapshot. It also watches ACKs and NACKs.
type guard struct {
	edgeID  spiffeid.ID
	logger  *slog.Logger
	metrics *Metrics

	mu        sync.Mutex
	streams   map[int64]*streamState
	published map[Kind]publication
}

type streamState struct {
	peer   spiffeid.ID
	kind   Kind
	node   string
	acked  map[string]string // type URL → last version ACKed
	sent   map[string]sent   // type URL → last response
	nacked map[string]string // type URL → last version NACKed (logged once)
}

type sent struct{ nonce, version string }

type publication struct {
	version string
	at      time.Time
}

func newGuard(edgeID spiffeid.ID, logger *slog.Logger, metrics *Metrics) *guard {
	return &guard{edgeID: edgeID, logger: logger, metrics: metrics, streams: map[int64]*streamState{}, published: map[Kind]publication{}}
}

func (g *guard) callbacks() server.CallbackFuncs {
	return server.CallbackFuncs{
		StreamOpenFunc:        g.open,
		DeltaStreamOpenFunc:   g.open,
		StreamClosedFunc:      g.closed,
		DeltaStreamClosedFunc: g.closed,
		StreamRequestFunc: func(id int64, req *discovery.DiscoveryRequest) error {
			if err := g.check(id, req.GetNode()); err != nil {
				return err
			}
			g.observe(id, req)
			return nil
		},
		StreamResponseFunc: g.recordResponse,
		StreamDeltaRequestFunc: func(id int64, req *discovery.DeltaDiscoveryRequest) error {
			return g.check(id, req.GetNode())
		},
	}
}

// open records the peer's SPIFFE ID; a stream without one is refused.
func (g *guard) open(ctx context.Context, id int64, _ string) error {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return g.refuse("no_peer", status.Error(codes.Unauthenticated, "no peer on the stream"))
	}
	peerID, err := PeerID(p)
	if err != nil {
		return g.refuse("no_peer", status.Errorf(codes.Unauthenticated, "peer identity: %v", err))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.streams[id] = &streamState{peer: peerID, acked: map[string]string{}, sent: map[string]sent{}, nacked: map[string]string{}}
	g.metrics.streams.Inc()
	return nil
}

func (g *guard) closed(id int64, _ *core.Node) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.streams[id]; ok {
		delete(g.streams, id)
		g.metrics.streams.Dec()
	}
}

// check classifies the request's node (the stream's first node when the request has none)
// and refuses unknown nodes and edge nodes whose peer is not the edge.
func (g *guard) check(id int64, node *core.Node) error {
	g.mu.Lock()
	st, ok := g.streams[id]
	g.mu.Unlock()
	if !ok {
		return g.refuse("no_peer", status.Error(codes.Unauthenticated, "stream without a peer identity"))
	}
	if node == nil {
		if st.kind == Unknown {
			return g.refuse("no_node", status.Error(codes.InvalidArgument, "the first request must carry the node"))
		}
		return nil
	}
	kind := KindOf(node)
	switch {
	case kind == Unknown:
		return g.refuse("unknown_node", status.Errorf(codes.PermissionDenied,
			"node %q is neither an edge (id edge…) nor a proxyless gRPC client (id grpc-…)", node.GetId()))
	case kind == Edge && st.peer != g.edgeID:
		g.logger.Warn("edge snapshot refused", "node", node.GetId(), "peer", st.peer.String())
		return g.refuse("not_edge", status.Errorf(codes.PermissionDenied,
			"node %q asks for the edge snapshot, which only %s may receive; %s may not", node.GetId(), g.edgeID, st.peer))
	}
	g.mu.Lock()
	if st.kind != kind || st.node != node.GetId() {
		g.logger.Info("xds client", "node", node.GetId(), "kind", string(kind), "peer", st.peer.String())
	}
	st.kind, st.node = kind, node.GetId()
	g.mu.Unlock()
	return nil
}

func (g *guard) refuse(reason string, err error) error {
	g.metrics.refused.WithLabelValues(reason).Inc()
	return err
}

// observe counts NACKs and measures, for each ACK of the newest version of a kind, the time
// since that version was published.
func (g *guard) observe(id int64, req *discovery.DiscoveryRequest) {
	if req.GetResponseNonce() == "" {
		return // a subscription, not an answer
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.streams[id]
	if st == nil {
		return
	}
	if detail := req.GetErrorDetail(); detail != nil {
		g.metrics.nacks.WithLabelValues(string(st.kind), req.GetTypeUrl()).Inc()
		rejected := st.sent[req.GetTypeUrl()]
		if rejected.nonce != req.GetResponseNonce() {
			return
		}
		if st.nacked[req.GetTypeUrl()] != rejected.version {
			st.nacked[req.GetTypeUrl()] = rejected.version
			g.logger.Error("xds client rejected resources (NACK); it keeps its last accepted version",
				"node", st.node, "type", req.GetTypeUrl(), "rejected_version", rejected.version,
				"accepted_version", req.GetVersionInfo(), "error", detail.GetMessage())
		}
		// The snapshot cache answers any request whose version differs from the snapshot's, so
		// it would resend the rejected version at once, forever. Presenting the NACK as a
		// request at the rejected version makes the stream wait for the next snapshot instead.
		req.VersionInfo = rejected.version
		return
	}
	pub := g.published[st.kind]
	if req.GetVersionInfo() != pub.version || st.acked[req.GetTypeUrl()] == pub.version {
		return
	}
	st.acked[req.GetTypeUrl()] = pub.version
	g.metrics.pushAck.WithLabelValues(string(st.kind)).Observe(time.Since(pub.at).Seconds())
}

// recordResponse records the last response of each type on a stream, to recognise what a NACK rejects.
func (g *guard) recordResponse(_ context.Context, id int64, _ *discovery.DiscoveryRequest, res *discovery.DiscoveryResponse) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if st := g.streams[id]; st != nil {
		st.sent[res.GetTypeUrl()] = sent{nonce: res.GetNonce(), version: res.GetVersionInfo()}
	}
}

// published records that version became kind's snapshot at.
func (g *guard) publish(kind Kind, version string, at time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.published[kind] = publication{version: version, at: at}
}

// PeerID is the SPIFFE ID the peer presented in the mTLS handshake.
func PeerID(p *peer.Peer) (spiffeid.ID, error) {
	if id, ok := grpccredentials.PeerIDFromPeer(p); ok {
		return id, nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return spiffeid.ID{}, fmt.Errorf("not a TLS connection (%T)", p.AuthInfo)
	}
	return spiffetls.PeerIDFromConnectionState(info.State)
}

// Metrics are the ADS server's Prometheus metrics.
type Metrics struct {
	streams prometheus.Gauge
	refused *prometheus.CounterVec
	nacks   *prometheus.CounterVec
	pushAck *prometheus.HistogramVec
}

// NewMetrics registers the ADS metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		streams: prometheus.NewGauge(prometheus.GaugeOpts{Name: "xds_ads_streams", Help: "Open ADS streams."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xds_ads_refused_total", Help: "ADS streams refused, by reason.",
		}, []string{"reason"}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xds_nacks_total", Help: "Responses rejected by xDS clients, by node kind and type URL.",
		}, []string{"kind", "type_url"}),
		pushAck: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "xds_push_ack_seconds",
			Help:    "Time from publishing a snapshot version to a client's ACK of it, per resource type.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"kind"}),
	}
	reg.MustRegister(m.streams, m.refused, m.nacks, m.pushAck)
	return m
}
