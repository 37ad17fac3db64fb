package rpc

import (
	"context"
	"errors"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	inventoryv1 "mercato.dev/proto/gen/go/mercato/inventory/v1"
	"mercato.dev/services/inventory/internal/stock"
	"mercato.dev/services/kit/server"
)

// fail maps a use case's error to the Connect error the client sees. Business conflicts get
// their own code (and a typed detail for a shortage); anything unexpected is logged and
// answered by server.Unexpected (unavailable or aborted for a lost database connection or a
// conflict, else internal), without its text.
func (h *Handler) fail(ctx context.Context, err error) error {
	var short *stock.ShortageError
	switch {
	case errors.As(err, &short):
		return shortageError(short)
	case errors.Is(err, stock.ErrProductNotFound):
		return connect.NewError(connect.CodeNotFound, stock.ErrProductNotFound)
	case errors.Is(err, stock.ErrSKUTaken):
		return connect.NewError(connect.CodeAlreadyExists, stock.ErrSKUTaken)
	case errors.Is(err, stock.ErrReleased), errors.Is(err, stock.ErrOtherItems):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case ctx.Err() != nil:
		return connect.NewError(connect.CodeOf(ctx.Err()), ctx.Err())
	}
	h.logger.ErrorContext(ctx, "inventory call failed", "error", err.Error())
	return server.Unexpected(err)
}

// shortageError is failed_precondition with one InsufficientStock detail per short product
// (see errors.proto for why not resource_exhausted).
func shortageError(short *stock.ShortageError) error {
	cerr := connect.NewError(connect.CodeFailedPrecondition, errors.New("insufficient stock"))
	for _, s := range short.Shortages {
		detail, err := connect.NewErrorDetail(&inventoryv1.InsufficientStock{
			ProductId: s.ProductID.String(), Requested: s.Requested, Available: s.Available,
		})
		if err == nil {
			cerr.AddDetail(detail)
		}
	}
	return cerr
}

// parseID parses a UUID that protovalidate already checked; a failure is still answered like
// a validation error.
func parseID(field, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, invalidField(field, "string.uuid", "value must be a valid UUID")
	}
	return id, nil
}

// invalidField is invalid_argument with the same detail protovalidate attaches, for the few
// checks only the handler can make (a page token's content).
func invalidField(field, ruleID, message string) error {
	cerr := connect.NewError(connect.CodeInvalidArgument, errors.New(field+": "+message))
	detail, err := connect.NewErrorDetail(&validate.Violations{Violations: []*validate.Violation{{
		Field:   &validate.FieldPath{Elements: []*validate.FieldPathElement{{FieldName: proto.String(field)}}},
		RuleId:  proto.String(ruleID),
		Message: proto.String(message),
	}}})
	if err == nil {
		cerr.AddDetail(detail)
	}
	return cerr
}
