package app_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffegrpc/grpccredentials"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	xdsv1 "mercato.dev/proto/gen/go/mercato/xds/v1"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"

	"mercato.dev/xds/internal/app"
)

const getPaymentRoute = "  - {path: /mercato.payments.v1.PaymentService/GetPayment, cluster: payments, auth: jwt}\n"

// publicRoute returns the route of path in the public route configuration, nil if none.
func publicRoute(t *testing.T, got *received, path string) *route.Route {
	t.Helper()
	rc := unpackAs[*route.RouteConfiguration](t, got.resources["public"])
	for _, r := range rc.GetVirtualHosts()[0].GetRoutes() {
		if r.GetMatch().GetPath() == path {
			return r
		}
	}
	return nil
}

// TestRoutesEditReachesEdge edits routes.yaml under a connected edge: a valid edit (a new
// route, a changed timeout) arrives as one new version of every resource type; a broken edit
// changes nothing and is reported in /readyz and the metrics until it is fixed.
func TestRoutesEditReachesEdge(t *testing.T) {
	env := kittest.Start(t, testIDs)
	initial := repoRoutes(t, getPaymentRoute, "")
	p := startPlane(t, env, initial)
	edge := openADS(t, env, identity.Edge, p.ADSAddr(), "edge", edgeSubscriptions)
	first := edge.mustWait(resource.RouteType, 10*time.Second, "initial routes", any1)
	if publicRoute(t, first, "/mercato.payments.v1.PaymentService/GetPayment") != nil {
		t.Fatal("GetPayment routed before the edit")
	}
	v0 := first.version

	edited := repoRoutes(t, "    timeout: 10s", "    timeout: 12s")
	start := time.Now()
	writeRoutes(t, p.routes, edited)
	got := edge.mustWait(resource.RouteType, 10*time.Second, "edited routes", func(r *received) bool { return r.version != v0 })
	t.Logf("routes.yaml edit reached the edge in %s (version %s → %s)", got.at.Sub(start).Round(time.Millisecond), v0, got.version)
	if got.at.Sub(start) > time.Second {
		t.Errorf("edit took %s to arrive, want under 1s", got.at.Sub(start))
	}
	r := publicRoute(t, got, "/mercato.payments.v1.PaymentService/GetPayment")
	if r == nil || r.GetRoute().GetCluster() != "payments" {
		t.Errorf("new route: %v", r)
	}
	if d := publicRoute(t, got, "/mercato.orders.v1.OrderService/CreateOrder").GetRoute().GetTimeout().AsDuration(); d != 12*time.Second {
		t.Errorf("CreateOrder timeout %s, want the edited 12s", d)
	}
	for _, typ := range []string{resource.ListenerType, resource.ClusterType, resource.EndpointType} {
		edge.mustWait(typ, 5*time.Second, "version of "+typ, func(r *received) bool { return r.version == got.version })
	}

	// A broken edit: nothing changes on the edge; the problem is reported with its path.
	before := len(edge.versions(resource.RouteType))
	writeRoutes(t, p.routes, strings.Replace(edited, "auth: anonymous", "auth: anonymus", 1))
	eventually(t, 5*time.Second, "readyz reports the problem", func() bool {
		code, body := readyz(t, p)
		return code == http.StatusServiceUnavailable && strings.Contains(body, `routes[0].auth`) && strings.Contains(body, "anonymus")
	})
	_, body := readyz(t, p)
	t.Logf("readyz while routes.yaml is broken: %s", strings.TrimSpace(body))
	if v := metric(t, p, "xds_routes_valid "); v != "0" {
		t.Errorf("xds_routes_valid = %q, want 0", v)
	}
	if v := metric(t, p, `xds_snapshot_version_info{kind="edge",version="`+got.version+`"}`); v != "1" {
		t.Errorf("served edge version is no longer %s (metric %q)", got.version, v)
	}
	time.Sleep(300 * time.Millisecond)
	if after := len(edge.versions(resource.RouteType)); after != before {
		t.Errorf("a broken edit pushed %d new route versions", after-before)
	}
	if !strings.Contains(p.logs.String(), "routes rejected") {
		t.Error("the rejection was not logged")
	}

	// Fixing the file clears the report; the same content as before means the same version.
	writeRoutes(t, p.routes, edited)
	eventually(t, 5*time.Second, "readyz green again", func() bool { code, _ := readyz(t, p); return code == http.StatusOK })
	if v := metric(t, p, "xds_routes_valid "); v != "1" {
		t.Errorf("xds_routes_valid = %q after the fix, want 1", v)
	}
	if vs := p.Plane.Versions(); vs["edge"] != got.version {
		t.Errorf("version after restoring the same content: %s, want %s", vs["edge"], got.version)
	}
}

// TestEndpointChurn registers two inventory instances; one keeps heartbeating, the other
// goes silent and must leave the edge's EDS within the TTL.
func TestEndpointChurn(t *testing.T) {
	const ttl = time.Second
	env := kittest.Start(t, testIDs)
	p := startPlane(t, env, repoRoutes(t), func(c *app.Config) { c.EndpointTTL = ttl })
	edge := openADS(t, env, identity.Edge, p.ADSAddr(), "edge", edgeSubscriptions)
	reg := registrar(t, env, inventoryID, p)
	ctx := context.Background()

	live, err := reg.Register(ctx, &xdsv1.RegisterRequest{Cluster: "inventory", Host: "127.0.0.1", Port: 9001})
	if err != nil {
		t.Fatal(err)
	}
	silent, err := reg.Register(ctx, &xdsv1.RegisterRequest{Cluster: "inventory", Host: "localhost", Port: 9002})
	if err != nil {
		t.Fatal(err)
	}
	lastBeat := time.Now()
	if live.GetTtl().AsDuration() != ttl || live.GetHeartbeatInterval().AsDuration() != ttl/3 {
		t.Errorf("terms: ttl %s, heartbeat %s", live.GetTtl().AsDuration(), live.GetHeartbeatInterval().AsDuration())
	}
	ports := func(r *received) []uint32 {
		var out []uint32
		for _, l := range unpackAs[*endpoint.ClusterLoadAssignment](t, r.resources["inventory"]).GetEndpoints() {
			for _, e := range l.GetLbEndpoints() {
				out = append(out, e.GetEndpoint().GetAddress().GetSocketAddress().GetPortValue())
			}
		}
		slices.Sort(out)
		return out
	}
	edge.mustWait(resource.EndpointType, 5*time.Second, "both endpoints", func(r *received) bool { return slices.Equal(ports(r), []uint32{9001, 9002}) })

	stop := make(chan struct{})
	beats := make(chan error, 1)
	go func() {
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				beats <- nil
				return
			case <-tick.C:
				if _, err := reg.Heartbeat(ctx, &xdsv1.HeartbeatRequest{Cluster: "inventory", InstanceId: live.GetInstanceId()}); err != nil {
					beats <- err
					return
				}
			}
		}
	}()
	got := edge.mustWait(resource.EndpointType, 5*ttl, "silent endpoint expired", func(r *received) bool { return slices.Equal(ports(r), []uint32{9001}) })
	gone := got.at.Sub(lastBeat)
	t.Logf("silent endpoint left EDS %s after its last heartbeat (TTL %s)", gone.Round(time.Millisecond), ttl)
	if gone > ttl+500*time.Millisecond {
		t.Errorf("expiry took %s, want about the TTL %s", gone, ttl)
	}
	time.Sleep(2 * ttl) // the heartbeating one stays
	close(stop)
	if err := <-beats; err != nil {
		t.Fatalf("heartbeat of the live endpoint: %v", err)
	}
	if now := edge.last(resource.EndpointType); !slices.Equal(ports(now), []uint32{9001}) {
		t.Errorf("endpoints %v after %s of heartbeats, want [9001]", ports(now), 2*ttl)
	}
	_, err = reg.Heartbeat(ctx, &xdsv1.HeartbeatRequest{Cluster: "inventory", InstanceId: silent.GetInstanceId()})
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("heartbeat of the expired instance: %v, want not_found", err)
	}
}

// TestRegistrationOnlyForOwnCluster: a service may register only in the cluster whose SPIFFE
// ID it holds; an edge or an undeclared cluster gets nothing either.
func TestRegistrationOnlyForOwnCluster(t *testing.T) {
	env := kittest.Start(t, testIDs)
	p := startPlane(t, env, repoRoutes(t))
	ctx := context.Background()
	tests := []struct {
		name    string
		caller  spiffeid.ID
		cluster string
		want    connect.Code
	}{
		{"another service's cluster", ordersID, "inventory", connect.CodePermissionDenied},
		{"the edge", identity.Edge, "inventory", connect.CodePermissionDenied},
		{"undeclared cluster", inventoryID, "search", connect.CodeNotFound},
		{"own cluster", inventoryID, "inventory", 0},
	}
	for _, tc := range tests {
		_, err := registrar(t, env, tc.caller, p).Register(ctx, &xdsv1.RegisterRequest{Cluster: tc.cluster, Host: "127.0.0.1", Port: 9000})
		if got := connect.CodeOf(err); (err == nil) != (tc.want == 0) || (err != nil && got != tc.want) {
			t.Errorf("%s: %s registering %q: %v, want %v", tc.name, tc.caller, tc.cluster, err, tc.want)
		}
	}
	_, err := registrar(t, env, ordersID, p).Heartbeat(ctx, &xdsv1.HeartbeatRequest{Cluster: "inventory", InstanceId: "i-1"})
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("orders heartbeating in inventory: %v, want permission_denied", err)
	}
	if insts := p.Registry.Instances()["inventory"]; len(insts) != 1 {
		t.Errorf("inventory instances %v, want the one registered by inventory", insts)
	}
}

// TestADSRefusals: a client outside the trust domain cannot open ADS; a service asking for
// the edge snapshot, or an unknown node, is refused; a service as proxyless client is served.
func TestADSRefusals(t *testing.T) {
	env := kittest.Start(t, testIDs)
	p := startPlane(t, env, repoRoutes(t))

	t.Run("service as edge", func(t *testing.T) {
		c := openADS(t, env, ordersID, p.ADSAddr(), "edge", edgeSubscriptions)
		err := c.streamErr(5 * time.Second)
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "only spiffe://mercato.local/edge") {
			t.Errorf("stream error %v, want permission denied", err)
		}
		if c.responses() != 0 {
			t.Errorf("received %d responses", c.responses())
		}
	})
	t.Run("service as edge over delta xDS", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stream, err := discovery.NewAggregatedDiscoveryServiceClient(dialADS(t, env.Source(t, ordersID), p.ADSAddr())).DeltaAggregatedResources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&discovery.DeltaDiscoveryRequest{Node: &core.Node{Id: "edge"}, TypeUrl: resource.ClusterType}); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); status.Code(err) != codes.PermissionDenied {
			t.Errorf("delta stream: %v, want permission denied", err)
		}
	})
	t.Run("unknown node", func(t *testing.T) {
		err := openADS(t, env, ordersID, p.ADSAddr(), "orders-1", edgeSubscriptions).streamErr(5 * time.Second)
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("stream error %v, want permission denied", err)
		}
	})
	t.Run("service as proxyless client", func(t *testing.T) {
		c := openADS(t, env, ordersID, p.ADSAddr(), "grpc-orders", map[string][]string{resource.ListenerType: {"inventory.mercato.local"}})
		c.mustWait(resource.ListenerType, 5*time.Second, "proxyless listener", func(r *received) bool { return r.resources["inventory.mercato.local"] != nil })
	})
	t.Run("outside the trust domain", func(t *testing.T) {
		evilID := spiffeid.RequireFromString("spiffe://evil.example/edge")
		evil := kittest.Start(t, []spiffeid.ID{evilID}, kittest.WithTrustDomain(evilID.TrustDomain()))
		evilSrc := evil.Source(t, evilID)
		// The client trusts the control plane (it has mercato.local's bundle too): only the
		// server's check of the client can refuse it.
		mercato, err := env.Source(t, ordersID).GetX509BundleForTrustDomain(identity.TrustDomain)
		if err != nil {
			t.Fatal(err)
		}
		ownBundle, err := evilSrc.GetX509BundleForTrustDomain(evilID.TrustDomain())
		if err != nil {
			t.Fatal(err)
		}
		creds := grpccredentials.MTLSClientCredentials(evilSrc, x509bundle.NewSet(mercato, ownBundle), tlsconfig.AuthorizeID(identity.XDS))
		cc, err := grpc.NewClient(p.ADSAddr(), grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		c := openADSConn(t, cc, "edge", edgeSubscriptions)
		err = c.streamErr(5 * time.Second)
		if status.Code(err) != codes.Unavailable || c.responses() != 0 {
			t.Errorf("stream error %v after %d responses, want unavailable (handshake refused) and none", err, c.responses())
		}
		t.Logf("client of evil.example: %v", err)
	})
	if v := metric(t, p, `xds_ads_refused_total{reason="not_edge"}`); v != "2" {
		t.Errorf(`xds_ads_refused_total{reason="not_edge"} = %q, want 2`, v)
	}
}

// TestPushLatency measures, over repeated registrations, the time from a registry change to
// the edge's ACK of the new EDS version, on the client and from the server's histogram.
func TestPushLatency(t *testing.T) {
	const rounds = 20
	env := kittest.Start(t, testIDs)
	p := startPlane(t, env, repoRoutes(t))
	edge := openADS(t, env, identity.Edge, p.ADSAddr(), "edge", edgeSubscriptions)
	edge.mustWait(resource.EndpointType, 10*time.Second, "initial endpoints", any1)
	reg := registrar(t, env, inventoryID, p)
	var lat []time.Duration
	for i := range rounds {
		prev := edge.last(resource.EndpointType).version
		start := time.Now()
		res, err := reg.Register(context.Background(), &xdsv1.RegisterRequest{Cluster: "inventory", Host: "127.0.0.1", Port: uint32(10000 + i)})
		if err != nil {
			t.Fatal(err)
		}
		got := edge.mustWait(resource.EndpointType, 5*time.Second, "new endpoint", func(r *received) bool { return r.version != prev })
		lat = append(lat, got.at.Sub(start))
		if _, err := reg.Deregister(context.Background(), &xdsv1.DeregisterRequest{Cluster: "inventory", InstanceId: res.GetInstanceId()}); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(lat)
	t.Logf("registration → edge EDS update + ACK over %d rounds: p50 %s, max %s (incl. the Register RPC)", rounds, lat[rounds/2].Round(10*time.Microsecond), lat[rounds-1].Round(10*time.Microsecond))
	if lat[rounds/2] > 500*time.Millisecond {
		t.Errorf("median push latency %s", lat[rounds/2])
	}
	count := metric(t, p, `xds_push_ack_seconds_count{kind="edge"}`)
	sum := metric(t, p, `xds_push_ack_seconds_sum{kind="edge"}`)
	t.Logf("server side, publish → ACK per resource type: %s ACKs, %ss in total", count, sum)
	if count == "" || count == "0" {
		t.Error("no ACKs measured by the server")
	}
}

// TestNACKedVersionIsNotResent: a client that rejects everything keeps its state; the server
// counts the NACK and waits for the next version instead of resending the rejected one.
func TestNACKedVersionIsNotResent(t *testing.T) {
	env := kittest.Start(t, testIDs)
	p := startPlane(t, env, repoRoutes(t))
	c := openADS(t, env, identity.Edge, p.ADSAddr(), "edge", edgeSubscriptions, nackAll)
	c.mustWait(resource.ClusterType, 5*time.Second, "clusters", any1)
	time.Sleep(500 * time.Millisecond)
	if n := len(c.versions(resource.ClusterType)); n != 1 {
		t.Errorf("the rejected cluster version was sent %d times", n)
	}
	if v := metric(t, p, `xds_nacks_total{kind="edge",type_url="type.googleapis.com/envoy.config.cluster.v3.Cluster"}`); v != "1" {
		t.Errorf("cluster NACKs counted: %q, want 1", v)
	}
	prev := c.last(resource.EndpointType).version
	if _, err := registrar(t, env, inventoryID, p).Register(context.Background(), &xdsv1.RegisterRequest{Cluster: "inventory", Host: "127.0.0.1", Port: 9000}); err != nil {
		t.Fatal(err)
	}
	c.mustWait(resource.EndpointType, 5*time.Second, "the next version after a NACK", func(r *received) bool { return r.version != prev })
}

// TestClusterRemovalMovesRoutesFirst removes a cluster and its route from routes.yaml: the
// edge first gets routes without it (the cluster still there), and the cluster goes only
// after the removal grace.
func TestClusterRemovalMovesRoutesFirst(t *testing.T) {
	const grace = 400 * time.Millisecond
	env := kittest.Start(t, testIDs)
	p := startPlane(t, env, repoRoutes(t), func(c *app.Config) { c.RemovalGrace = grace })
	edge := openADS(t, env, identity.Edge, p.ADSAddr(), "edge", edgeSubscriptions)
	edge.mustWait(resource.ClusterType, 5*time.Second, "clusters", func(r *received) bool { return r.resources["notifications"] != nil })
	const listNotifications = "/mercato.notifications.v1.NotificationService/ListNotifications"
	writeRoutes(t, p.routes, repoRoutes(t,
		"  notifications:\n    spiffe_id: spiffe://mercato.local/svc/notifications\n", "",
		"  - {path: "+listNotifications+", cluster: notifications, auth: jwt}\n", ""))
	routesGone := edge.mustWait(resource.RouteType, 5*time.Second, "routes without notifications", func(r *received) bool {
		return publicRoute(t, r, listNotifications) == nil
	})
	if c := edge.last(resource.ClusterType); c.resources["notifications"] == nil {
		t.Fatal("the cluster went no later than its route")
	}
	clusterGone := edge.mustWait(resource.ClusterType, 5*time.Second, "cluster removed", func(r *received) bool { return r.resources["notifications"] == nil })
	gap := clusterGone.at.Sub(routesGone.at)
	t.Logf("route removed, cluster followed %s later (grace %s)", gap.Round(time.Millisecond), grace)
	if gap < grace*3/4 {
		t.Errorf("cluster removed %s after its route, want about %s", gap, grace)
	}
	if edge.last(resource.EndpointType).resources["notifications"] != nil {
		edge.mustWait(resource.EndpointType, time.Second, "endpoints removed", func(r *received) bool { return r.resources["notifications"] == nil })
	}
}

// TestStartRefusesInvalidRoutes: with no last good configuration, an invalid file is fatal.
func TestStartRefusesInvalidRoutes(t *testing.T) {
	env := kittest.Start(t, testIDs)
	dir := t.TempDir()
	routes := dir + "/routes.yaml"
	writeRoutes(t, routes, repoRoutes(t, "cluster: inventory", "cluster: inventroy"))
	_, err := app.New(context.Background(), app.Config{
		ADSAddr: "127.0.0.1:0", RegistrationAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		RoutesFile: routes, DataDir: dir, EndpointTTL: time.Second,
	}, env.Source(t, identity.XDS), nil)
	if err == nil || !strings.Contains(err.Error(), `.cluster (line`) || !strings.Contains(err.Error(), `"inventroy" is not a declared cluster`) {
		t.Errorf("New = %v, want the routes problem", err)
	}
}

// TestWarmUpLetsServicesRegisterFirst: after a (re)start, ADS waits for the warm-up, so the
// first EDS an edge receives already has the endpoints registered meanwhile.
func TestWarmUpLetsServicesRegisterFirst(t *testing.T) {
	const warmUp = 500 * time.Millisecond
	env := kittest.Start(t, testIDs)
	start := time.Now()
	p := startPlane(t, env, repoRoutes(t), func(c *app.Config) { c.WarmUp = warmUp })
	if _, err := registrar(t, env, inventoryID, p).Register(context.Background(), &xdsv1.RegisterRequest{Cluster: "inventory", Host: "127.0.0.1", Port: 9000}); err != nil {
		t.Fatalf("registration during the warm-up: %v", err)
	}
	if since := time.Since(start); since >= warmUp {
		t.Fatalf("registered %s after start: not during the warm-up", since)
	}
	edge := openADS(t, env, identity.Edge, p.ADSAddr(), "edge", edgeSubscriptions) // its handshake waits for ADS
	first := edge.mustWait(resource.EndpointType, 5*time.Second, "first EDS", any1)
	if first.at.Sub(start) < warmUp {
		t.Errorf("first EDS %s after start, before the warm-up %s", first.at.Sub(start), warmUp)
	}
	if eds := edge.versions(resource.EndpointType); len(eds) != 1 {
		t.Errorf("%d EDS versions, want the first one to be complete", len(eds))
	}
	cla := unpackAs[*endpoint.ClusterLoadAssignment](t, first.resources["inventory"])
	if len(cla.GetEndpoints()) != 1 {
		t.Errorf("first EDS of inventory: %v, want the endpoint registered during the warm-up", cla)
	}
}
