// Package notification is the notifications service's domain: one notification per order event
// (the stand-in for an email), recorded idempotently by event ID, and read back a page at a time,
// newest first, with an opaque keyset page token.
package notification

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Kind is the event a notification tells about.
type Kind string

// Kinds of notification, one per order event.
const (
	KindOrderConfirmed Kind = "order_confirmed"
	KindOrderRejected  Kind = "order_rejected"
	KindOrderCanceled  Kind = "order_canceled"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	return k == KindOrderConfirmed || k == KindOrderRejected || k == KindOrderCanceled
}

// Notification is one message to a customer, recorded for one event.
type Notification struct {
	ID         uuid.UUID // assigned by Record when zero
	EventID    uuid.UUID
	CustomerID uuid.UUID
	OrderID    uuid.UUID
	Kind       Kind
	Subject    string
	Body       string
	CreateTime time.Time // set by Record
}

// MaxSubjectLen is the longest subject the store keeps, in characters.
const MaxSubjectLen = 255

// Validate reports what makes n unrecordable.
func (n Notification) Validate() error {
	var errs []error
	for name, id := range map[string]uuid.UUID{"event_id": n.EventID, "customer_id": n.CustomerID, "order_id": n.OrderID} {
		if id == uuid.Nil {
			errs = append(errs, fmt.Errorf("%s is required", name))
		}
	}
	if !n.Kind.Valid() {
		errs = append(errs, fmt.Errorf("unknown kind %q", n.Kind))
	}
	if utf8.RuneCountInString(n.Subject) > MaxSubjectLen {
		errs = append(errs, fmt.Errorf("subject longer than %d characters", MaxSubjectLen))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// Errors of the use cases. Anything else is an infrastructure failure.
var (
	ErrInvalid      = errors.New("invalid notification")
	ErrBadPageToken = errors.New("invalid page token")
	ErrPageSize     = errors.New("page size out of range")
)

// Cursor is the keyset position of a notification in newest-first order: pages continue with
// notifications strictly older, or as old with a smaller ID.
type Cursor struct {
	CreateTime time.Time
	ID         uuid.UUID
}

// Store keeps notifications.
type Store interface {
	// Insert stores n unless a notification for n.EventID exists, reporting whether it did.
	Insert(ctx context.Context, n Notification) (created bool, err error)
	// List returns up to limit of the customer's notifications after cursor (nil: from the
	// newest), ordered by create time then ID, both descending.
	List(ctx context.Context, customerID uuid.UUID, after *Cursor, limit int) ([]Notification, error)
}
