// Package rpc serves the notifications API (Connect, gRPC and gRPC-Web on one path): the
// authorization table, a thin handler, and the mapping of domain errors to Connect codes.
package rpc

import (
	"context"
	"errors"
	"log/slog"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	notificationsv1 "mercato.dev/proto/gen/go/mercato/notifications/v1"
	"mercato.dev/proto/gen/go/mercato/notifications/v1/notificationsv1connect"
	"mercato.dev/services/kit/authz"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/server"

	"mercato.dev/services/notifications/internal/notification"
)

// Rules is the authorization table of the notifications API: ListNotifications for the edge
// only (the owner or an admin, checked in the handler).
func Rules() authz.Rules {
	return authz.Rules{
		notificationsv1connect.NotificationServiceListNotificationsProcedure: authz.Allow(identity.Edge),
	}
}

// Register mounts the notifications API on srv with its rules.
func Register(srv *server.Server, svc *notification.Service, logger *slog.Logger) {
	path, h := notificationsv1connect.NewNotificationServiceHandler(&Handler{svc: svc, logger: logger}, srv.HandlerOptions()...)
	srv.Handle(path, h, Rules())
}

// Handler implements the notifications API.
type Handler struct {
	svc    *notification.Service
	logger *slog.Logger
}

var _ notificationsv1connect.NotificationServiceHandler = (*Handler)(nil)

// ListNotifications pages through a customer's notifications for the customer or an admin.
func (h *Handler) ListNotifications(ctx context.Context, req *notificationsv1.ListNotificationsRequest) (*notificationsv1.ListNotificationsResponse, error) {
	if err := claims.RequireOwner(ctx, req.GetCustomerId(), errNoCustomer()); err != nil {
		return nil, err
	}
	id, err := uuid.Parse(req.GetCustomerId())
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("customer_id: not a UUID"))
	}
	items, next, err := h.svc.List(ctx, id, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	res := &notificationsv1.ListNotificationsResponse{NextPageToken: next}
	for _, n := range items {
		res.Notifications = append(res.Notifications, toProto(n))
	}
	return res, nil
}

// errNoCustomer answers an end user asking for another customer's notifications: as if that
// customer did not exist, so that IDs cannot be probed.
func errNoCustomer() error {
	return connect.NewError(connect.CodeNotFound, errors.New("customer not found"))
}

// toConnect maps a use-case error to a Connect error, once; infrastructure errors are logged
// and answered by server.Unexpected (unavailable or aborted when retryable, else internal).
func (h *Handler) toConnect(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, notification.ErrBadPageToken):
		return fieldError("page_token", "page_token.valid", "not a page token from a previous page")
	case errors.Is(err, notification.ErrPageSize):
		return fieldError("page_size", "page_size.range", "must be 0 to 100")
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("canceled"))
	}
	h.logger.ErrorContext(ctx, "notifications call failed", "error", err.Error())
	return server.Unexpected(err)
}

// fieldError is invalid_argument with a buf.validate.Violations detail, shaped like the ones
// protovalidate sends, for the checks only the server can make (a page token's content).
func fieldError(field, rule, message string) error {
	err := connect.NewError(connect.CodeInvalidArgument, errors.New(field+": "+message))
	v := &validate.Violations{Violations: []*validate.Violation{{
		Field: &validate.FieldPath{Elements: []*validate.FieldPathElement{{
			FieldName: proto.String(field),
		}}},
		RuleId:  proto.String(rule),
		Message: proto.String(message),
	}}}
	if d, derr := connect.NewErrorDetail(v); derr == nil {
		err.AddDetail(d)
	}
	return err
}

var kinds = map[notification.Kind]notificationsv1.NotificationKind{
	notification.KindOrderConfirmed: notificationsv1.NotificationKind_NOTIFICATION_KIND_ORDER_CONFIRMED,
	notification.KindOrderRejected:  notificationsv1.NotificationKind_NOTIFICATION_KIND_ORDER_REJECTED,
	notification.KindOrderCanceled:  notificationsv1.NotificationKind_NOTIFICATION_KIND_ORDER_CANCELED,
}

func toProto(n notification.Notification) *notificationsv1.Notification {
	return &notificationsv1.Notification{
		NotificationId: n.ID.String(), EventId: n.EventID.String(), CustomerId: n.CustomerID.String(),
		OrderId: n.OrderID.String(), Kind: kinds[n.Kind], Subject: n.Subject, Body: n.Body,
		CreateTime: timestamppb.New(n.CreateTime),
	}
}
