// Package registration serves mercato.xds.v1.RegistrationService: services register, heartbeat
// and deregister their endpoints. Transport authorization (the kit's rules) lets every service
// identity in; the handler then allows a caller only into the cluster whose SPIFFE ID in
// routes.yaml is the caller's own.
package registration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"connectrpc.com/connect"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/protobuf/types/known/durationpb"

	xdsv1 "mercato.dev/proto/gen/go/mercato/xds/v1"
	"mercato.dev/proto/gen/go/mercato/xds/v1/xdsv1connect"
	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/identity"

	"mercato.dev/xds/internal/registry"
)

// Registry is what the handler needs of the endpoint registry.
type Registry interface {
	Register(cluster, id, host string, addr netip.Addr, port uint32) (registry.Instance, error)
	Heartbeat(cluster, id string) (registry.Instance, error)
	Deregister(cluster, id string)
	TTL() time.Duration
}

// Clusters says which SPIFFE ID owns a cluster, per the current routes.yaml.
type Clusters func(cluster string) (spiffeid.ID, bool)

// Resolver turns a registered host name into the IP address EDS carries.
type Resolver func(ctx context.Context, host string) (netip.Addr, error)

// Handler implements the registration API.
type Handler struct {
	registry Registry
	clusters Clusters
	resolve  Resolver
	logger   *slog.Logger
}

var _ xdsv1connect.RegistrationServiceHandler = (*Handler)(nil)

// New returns a handler. resolve may be nil: names are then looked up with the system resolver.
func New(reg Registry, clusters Clusters, resolve Resolver, logger *slog.Logger) *Handler {
	if resolve == nil {
		resolve = LookupHost
	}
	return &Handler{registry: reg, clusters: clusters, resolve: resolve, logger: logger}
}

// Rules lets each of callers (the services' SPIFFE IDs) call every method; which cluster a
// caller may touch is the handler's decision.
func Rules(callers []spiffeid.ID) authz.Rules {
	return authz.Rules{
		xdsv1connect.RegistrationServiceRegisterProcedure:   authz.Allow(callers...),
		xdsv1connect.RegistrationServiceHeartbeatProcedure:  authz.Allow(callers...),
		xdsv1connect.RegistrationServiceDeregisterProcedure: authz.Allow(callers...),
	}
}

// Register adds or refreshes an endpoint of the caller's own cluster.
func (h *Handler) Register(ctx context.Context, req *xdsv1.RegisterRequest) (*xdsv1.RegisterResponse, error) {
	if err := h.authorize(ctx, req.GetCluster()); err != nil {
		return nil, err
	}
	addr, err := h.resolve(ctx, req.GetHost())
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("host %q: %w", req.GetHost(), err))
	}
	inst, err := h.registry.Register(req.GetCluster(), req.GetInstanceId(), req.GetHost(), addr, req.GetPort())
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	h.logger.InfoContext(ctx, "endpoint registered", "cluster", inst.Cluster, "instance", inst.ID, "address", net.JoinHostPort(inst.Address.String(), fmt.Sprint(inst.Port)))
	ttl := h.registry.TTL()
	return &xdsv1.RegisterResponse{
		InstanceId:        inst.ID,
		HeartbeatInterval: durationpb.New(ttl / 3),
		Ttl:               durationpb.New(ttl),
	}, nil
}

// Heartbeat keeps an endpoint of the caller's cluster alive.
func (h *Handler) Heartbeat(ctx context.Context, req *xdsv1.HeartbeatRequest) (*xdsv1.HeartbeatResponse, error) {
	if err := h.authorize(ctx, req.GetCluster()); err != nil {
		return nil, err
	}
	if _, err := h.registry.Heartbeat(req.GetCluster(), req.GetInstanceId()); err != nil {
		if errors.Is(err, registry.ErrUnknownInstance) {
			return nil, connect.NewError(connect.CodeNotFound, err)
		}
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	return &xdsv1.HeartbeatResponse{Ttl: durationpb.New(h.registry.TTL())}, nil
}

// Deregister removes an endpoint of the caller's cluster.
func (h *Handler) Deregister(ctx context.Context, req *xdsv1.DeregisterRequest) (*xdsv1.DeregisterResponse, error) {
	if err := h.authorize(ctx, req.GetCluster()); err != nil {
		return nil, err
	}
	h.registry.Deregister(req.GetCluster(), req.GetInstanceId())
	h.logger.InfoContext(ctx, "endpoint deregistered", "cluster", req.GetCluster(), "instance", req.GetInstanceId())
	return &xdsv1.DeregisterResponse{}, nil
}

// authorize allows the caller only into the cluster routes.yaml gives its SPIFFE ID.
func (h *Handler) authorize(ctx context.Context, cluster string) error {
	caller, ok := identity.Caller(ctx)
	if !ok {
		return connect.NewError(connect.CodePermissionDenied, errors.New("no caller identity"))
	}
	owner, declared := h.clusters(cluster)
	if !declared {
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("cluster %q is not declared in routes.yaml", cluster))
	}
	if caller != owner {
		h.logger.WarnContext(ctx, "registration refused", "cluster", cluster, "caller", caller.String(), "owner", owner.String())
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s may not register endpoints of cluster %q", caller, cluster))
	}
	return nil
}

// LookupHost resolves host (an IP address or a DNS name) to one address, IPv4 first.
func LookupHost(ctx context.Context, host string) (netip.Addr, error) {
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.Unmap(), nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	if len(addrs) == 0 {
		return netip.Addr{}, errors.New("no address")
	}
	return addrs[0], nil
}
