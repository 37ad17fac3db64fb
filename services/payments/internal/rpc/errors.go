package rpc

import (
	"context"
	"errors"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"mercato.dev/services/kit/server"
	"mercato.dev/services/payments/internal/payment"
)

// fail maps a use case's error to the Connect error the client sees; anything unexpected is
// logged and answered by server.Unexpected (unavailable or aborted when retryable, else
// internal), without its text.
func (h *Handler) fail(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, payment.ErrNotFound):
		return errNotFound()
	case errors.Is(err, payment.ErrOtherRequest):
		return connect.NewError(connect.CodeFailedPrecondition, payment.ErrOtherRequest)
	case ctx.Err() != nil:
		return connect.NewError(connect.CodeOf(ctx.Err()), ctx.Err())
	}
	h.logger.ErrorContext(ctx, "payments call failed", "error", err.Error())
	return server.Unexpected(err)
}

// errNotFound answers a missing payment and another customer's alike.
func errNotFound() error { return connect.NewError(connect.CodeNotFound, payment.ErrNotFound) }

// parseID parses a UUID that protovalidate already checked; a failure is still answered like
// a validation error, with the field's path.
func parseID(field, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err == nil {
		return id, nil
	}
	cerr := connect.NewError(connect.CodeInvalidArgument, errors.New(field+": value must be a valid UUID"))
	detail, derr := connect.NewErrorDetail(&validate.Violations{Violations: []*validate.Violation{{
		Field:   &validate.FieldPath{Elements: []*validate.FieldPathElement{{FieldName: proto.String(field)}}},
		RuleId:  proto.String("string.uuid"),
		Message: proto.String("value must be a valid UUID"),
	}}})
	if derr == nil {
		cerr.AddDetail(detail)
	}
	return uuid.Nil, cerr
}
