// Package clients adapts the Connect clients of customers, inventory and payments to the
// saga's small interfaces: it turns the answers their contracts define into the saga's
// business outcomes, and transport-class failures into saga.ErrUnavailable.
package clients

import (
	"errors"
	"fmt"

	"connectrpc.com/connect"

	"mercato.dev/services/orders/internal/saga"
)

// fail wraps a call's error: a transport-class failure (the dependency is down, slow,
// overloaded, or failed unexpectedly) also matches saga.ErrUnavailable, so the saga keeps its
// step and retries; anything else is a refusal the saga cannot get past.
func fail(call string, err error) error {
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeResourceExhausted,
		connect.CodeAborted, connect.CodeCanceled, connect.CodeUnknown, connect.CodeInternal:
		return fmt.Errorf("%s: %w: %w", call, saga.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", call, err)
}

func isCode(err error, code connect.Code) bool {
	var ce *connect.Error
	return errors.As(err, &ce) && ce.Code() == code
}
