package server

import (
	"errors"

	"connectrpc.com/connect"

	"mercato.dev/ent/database"
)

// Unexpected is the answer to an error a handler did not expect (its caller logs it): a lost or
// refused database connection is unavailable and a transaction conflict aborted — both
// retryable, and safe to retry where the request carries an idempotency key or only reads —
// and anything else internal. The database's own message never reaches the client.
func Unexpected(err error) *connect.Error {
	switch database.Classify(err) {
	case database.Unavailable:
		return connect.NewError(connect.CodeUnavailable, errors.New("database unavailable, retry"))
	case database.Conflict:
		return connect.NewError(connect.CodeAborted, errors.New("conflict with a concurrent request, retry"))
	}
	return connect.NewError(connect.CodeInternal, errors.New("internal error"))
}
