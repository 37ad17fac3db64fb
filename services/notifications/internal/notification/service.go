package notification

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Page sizes of List.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// Service runs the notification use cases.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns the use cases over store. now may be nil (time.Now).
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// Record stores n once per event: recording an event already recorded changes nothing and
// reports created=false, so a redelivered event is harmless.
func (s *Service) Record(ctx context.Context, n Notification) (created bool, err error) {
	if err := n.Validate(); err != nil {
		return false, err
	}
	if n.ID == uuid.Nil {
		n.ID = uuid.Must(uuid.NewV7()) // time-ordered: appended to the index (ent/internal/ids)
	}
	// UTC and microseconds: the precision both SQLite and PostgreSQL keep exactly, so page
	// tokens built from stored times compare as the database does.
	n.CreateTime = s.now().UTC().Truncate(time.Microsecond)
	created, err = s.store.Insert(ctx, n)
	if err != nil {
		return false, fmt.Errorf("record notification for event %s: %w", n.EventID, err)
	}
	return created, nil
}

// List returns one page of the customer's notifications, newest first, and the token of the
// next page ("" on the last one). pageSize 0 means DefaultPageSize.
func (s *Service) List(ctx context.Context, customerID uuid.UUID, pageSize int, pageToken string) ([]Notification, string, error) {
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	if pageSize < 0 || pageSize > MaxPageSize {
		return nil, "", fmt.Errorf("%w: %d", ErrPageSize, pageSize)
	}
	after, err := DecodePageToken(pageToken)
	if err != nil {
		return nil, "", err
	}
	items, err := s.store.List(ctx, customerID, after, pageSize+1)
	if err != nil {
		return nil, "", fmt.Errorf("list notifications of %s: %w", customerID, err)
	}
	if len(items) <= pageSize {
		return items, "", nil
	}
	items = items[:pageSize]
	last := items[len(items)-1]
	return items, EncodePageToken(Cursor{CreateTime: last.CreateTime, ID: last.ID}), nil
}
