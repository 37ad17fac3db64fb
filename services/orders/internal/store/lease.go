package store

import (
	"context"
	"fmt"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	entorder "mercato.dev/ent/orders/order"

	"mercato.dev/services/orders/internal/order"
)

// Claim takes the order's lease with one conditional UPDATE: it succeeds only when the lease
// is free (NULL) or expired at now, so of two processes claiming at once exactly one wins.
func (s *Store) Claim(ctx context.Context, id uuid.UUID, lease order.Lease, now time.Time) (order.Order, bool, error) {
	ok, err := s.exec(ctx, entsql.Dialect(s.dialect).Update(entorder.Table).
		Set(entorder.FieldLeaseOwner, lease.Owner).
		Set(entorder.FieldLeaseExpiresAt, order.Now(lease.ExpiresAt)).
		Where(entsql.And(
			entsql.EQ(entorder.FieldID, id),
			entsql.Or(entsql.IsNull(entorder.FieldLeaseExpiresAt), entsql.LT(entorder.FieldLeaseExpiresAt, order.Now(now))),
		)))
	if err != nil || !ok {
		return order.Order{}, false, err
	}
	o, err := s.Get(ctx, id)
	return o, err == nil, err
}

// Renew extends the lease lease.Owner holds.
func (s *Store) Renew(ctx context.Context, id uuid.UUID, lease order.Lease) (bool, error) {
	return s.exec(ctx, entsql.Dialect(s.dialect).Update(entorder.Table).
		Set(entorder.FieldLeaseExpiresAt, order.Now(lease.ExpiresAt)).
		Where(entsql.And(entsql.EQ(entorder.FieldID, id), entsql.EQ(entorder.FieldLeaseOwner, lease.Owner))))
}

// Release gives up owner's lease and records attempts; the lease stays taken (by nobody) until
// retryAt, so that no process retries the saga before its backoff ends.
func (s *Store) Release(ctx context.Context, id uuid.UUID, owner string, attempts int, retryAt time.Time) error {
	u := entsql.Dialect(s.dialect).Update(entorder.Table).
		SetNull(entorder.FieldLeaseOwner).
		Set(entorder.FieldAttempts, attempts).
		Where(entsql.And(entsql.EQ(entorder.FieldID, id), entsql.EQ(entorder.FieldLeaseOwner, owner)))
	if retryAt.IsZero() {
		u.SetNull(entorder.FieldLeaseExpiresAt)
	} else {
		u.Set(entorder.FieldLeaseExpiresAt, order.Now(retryAt))
	}
	_, err := s.exec(ctx, u)
	return err
}

// exec runs an UPDATE and reports whether it changed a row.
func (s *Store) exec(ctx context.Context, u *entsql.UpdateBuilder) (bool, error) {
	query, args := u.Query()
	res, err := s.c.ExecContext(ctx, query, args...)
	if err != nil {
		return false, fmt.Errorf("update lease: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("update lease: %w", err)
	}
	return n == 1, nil
}
