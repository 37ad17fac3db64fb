// Package rpc serves the customers API (Connect, gRPC and gRPC-Web on one path) and the JWKS
// on the service's mTLS listener: thin handlers that call one use case each, the authorization
// table of both, and the one place where domain errors become Connect codes.
package rpc

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/proto/gen/go/mercato/customers/v1/customersv1connect"
	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/server"

	"mercato.dev/services/customers/internal/customer"
	"mercato.dev/services/customers/internal/password"
	"mercato.dev/services/customers/internal/token"
)

// JWKSPath is where the edge fetches the keys that verify access tokens.
const JWKSPath = "/.well-known/jwks.json"

// Rules is the authorization table of the customer API (ARCHITECTURE.md): CreateCustomer and
// SignIn for the edge (anonymous), GetCustomer and UpdateCustomer for the edge (the owner or an
// admin, checked in the handler) and GetCustomer also for orders.
func Rules() authz.Rules {
	edge := identity.Edge
	return authz.Rules{
		customersv1connect.CustomerServiceCreateCustomerProcedure: authz.Allow(edge),
		customersv1connect.CustomerServiceSignInProcedure:         authz.Allow(edge),
		customersv1connect.CustomerServiceGetCustomerProcedure:    authz.Allow(edge, identity.Service("orders")),
		customersv1connect.CustomerServiceUpdateCustomerProcedure: authz.Allow(edge),
	}
}

// JWKSRules lets only the edge fetch the JWKS.
func JWKSRules() authz.Rules {
	return authz.Rules{JWKSPath: authz.Allow(identity.Edge)}
}

// Register mounts the customer API and the JWKS on srv with their rules; the sign-in metrics
// go to reg.
func Register(srv *server.Server, svc *customer.Service, keys *token.Keyring, logger *slog.Logger, reg prometheus.Registerer) error {
	guard, err := newSignInGuard(logger, reg)
	if err != nil {
		return err
	}
	path, h := customersv1connect.NewCustomerServiceHandler(&Handler{svc: svc, logger: logger, signIn: guard}, srv.HandlerOptions()...)
	srv.Handle(path, h, Rules())
	srv.Handle("/.well-known/", JWKSHandler(keys), JWKSRules())
	return nil
}

// Handler implements the customer API.
type Handler struct {
	svc    *customer.Service
	logger *slog.Logger
	signIn *signInGuard
}

var _ customersv1connect.CustomerServiceHandler = (*Handler)(nil)

// CreateCustomer signs a customer up.
func (h *Handler) CreateCustomer(ctx context.Context, req *customersv1.CreateCustomerRequest) (*customersv1.CreateCustomerResponse, error) {
	c, err := h.svc.Create(ctx, customer.NewCustomer{
		Email: req.GetEmail(), Password: req.GetPassword(), DisplayName: req.GetDisplayName(),
	})
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &customersv1.CreateCustomerResponse{Customer: toProto(c)}, nil
}

// GetCustomer returns a customer to its owner, an admin, or the orders service.
func (h *Handler) GetCustomer(ctx context.Context, req *customersv1.GetCustomerRequest) (*customersv1.GetCustomerResponse, error) {
	if err := claims.RequireOwner(ctx, req.GetCustomerId(), errNotFound(), identity.Service("orders")); err != nil {
		return nil, err
	}
	id, err := parseID(req.GetCustomerId())
	if err != nil {
		return nil, err
	}
	c, err := h.svc.Get(ctx, id)
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &customersv1.GetCustomerResponse{Customer: toProto(c)}, nil
}

// UpdateCustomer changes a customer's name or email, for its owner or an admin.
func (h *Handler) UpdateCustomer(ctx context.Context, req *customersv1.UpdateCustomerRequest) (*customersv1.UpdateCustomerResponse, error) {
	if err := claims.RequireOwner(ctx, req.GetCustomerId(), errNotFound()); err != nil {
		return nil, err
	}
	changes := customer.Changes{DisplayName: req.DisplayName, Email: req.Email}
	if req.Status != nil {
		if err := claims.RequireAdmin(ctx); err != nil {
			return nil, err
		}
		changes.Status = statusFromProto(req.GetStatus())
	}
	id, err := parseID(req.GetCustomerId())
	if err != nil {
		return nil, err
	}
	c, err := h.svc.Update(ctx, id, changes)
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &customersv1.UpdateCustomerResponse{Customer: toProto(c)}, nil
}

// statusFromProto maps a status protovalidate has already checked (defined, not unspecified).
func statusFromProto(s customersv1.CustomerStatus) *customer.Status {
	st := customer.StatusActive
	if s == customersv1.CustomerStatus_CUSTOMER_STATUS_INACTIVE {
		st = customer.StatusInactive
	}
	return &st
}

// SignIn exchanges credentials for an access token, throttled per account and per client
// (signin.go).
func (h *Handler) SignIn(ctx context.Context, req *customersv1.SignInRequest) (*customersv1.SignInResponse, error) {
	a, err := h.signIn.admit(ctx, req.GetEmail())
	if err != nil {
		return nil, err
	}
	c, tok, err := h.svc.SignIn(ctx, req.GetEmail(), req.GetPassword())
	h.signIn.done(ctx, a, err)
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &customersv1.SignInResponse{
		AccessToken: tok.Value, TokenType: "Bearer",
		ExpiresIn: int64(tok.ExpiresIn.Seconds()), Customer: toProto(c),
	}, nil
}

// errBadCredentials is the one answer to a wrong email, a wrong password and an inactive
// account alike, as the contract says (SignIn: "with no hint which one it was").
var errBadCredentials = connect.NewError(connect.CodeUnauthenticated, errors.New("wrong email or password"))

// errNotFound answers a customer that does not exist, and another customer's ID alike, so that
// an end user cannot tell which IDs exist.
func errNotFound() error { return connect.NewError(connect.CodeNotFound, customer.ErrNotFound) }

// toConnect maps a use-case error to a Connect error, once. Infrastructure errors are logged
// and reach the client as server.Unexpected makes them: unavailable or aborted when the
// database is unreachable or a transaction conflicted (retryable), else a bare internal error.
func (h *Handler) toConnect(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, customer.ErrNotFound):
		return errNotFound()
	case errors.Is(err, customer.ErrEmailTaken):
		return connect.NewError(connect.CodeAlreadyExists, customer.ErrEmailTaken)
	case errors.Is(err, customer.ErrBadCredentials), errors.Is(err, customer.ErrInactive):
		return errBadCredentials
	case errors.Is(err, password.ErrBusy):
		return connect.NewError(connect.CodeUnavailable, errors.New("too many sign-ins in progress; try again shortly"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("canceled"))
	}
	h.logger.ErrorContext(ctx, "customers call failed", "error", err.Error())
	return server.Unexpected(err)
}

// parseID parses an ID protovalidate has already checked; failing here is a contract bug.
func parseID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.UUID{}, connect.NewError(connect.CodeInvalidArgument, errors.New("customer_id: not a UUID"))
	}
	return id, nil
}

func toProto(c customer.Customer) *customersv1.Customer {
	status := customersv1.CustomerStatus_CUSTOMER_STATUS_ACTIVE
	if c.Status == customer.StatusInactive {
		status = customersv1.CustomerStatus_CUSTOMER_STATUS_INACTIVE
	}
	return &customersv1.Customer{
		CustomerId: c.ID.String(), Email: c.Email, DisplayName: c.DisplayName, Roles: c.Roles,
		Status: status, CreateTime: timestamppb.New(c.CreateTime), UpdateTime: timestamppb.New(c.UpdateTime),
	}
}
