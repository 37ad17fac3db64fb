package saga

import (
	"context"
	"errors"
	"time"

	"mercato.dev/services/orders/internal/order"
)

// Place places the order r asks for and runs its saga, or finds the order the same request
// placed before under the same idempotency key, whatever its state. It waits for the saga to
// settle until shortly before ctx's deadline and answers the order as it is then: CONFIRMED,
// REJECTED with a reason, or PENDING when the deadline came first (the saga carries on in the
// background). The key used before with another request is order.ErrKeyReused.
//
// Concurrent identical calls race on the store's unique (customer, key): one creates the order
// and drives it; the others read it and wait the same way.
func (s *Saga) Place(ctx context.Context, r order.Request) (order.Order, error) {
	now := s.now()
	o := order.New(r, now, s.lease(now))
	switch err := s.store.Create(ctx, o); {
	case err == nil:
		return s.run0(ctx, o)
	case errors.Is(err, ErrDuplicate):
		first, err := s.store.GetByKey(ctx, r.CustomerID, r.IdempotencyKey)
		if err != nil {
			return order.Order{}, err
		}
		if first.RequestHash != o.RequestHash {
			return first, order.ErrKeyReused
		}
		o = first
	default:
		return order.Order{}, err
	}
	return s.await(ctx, o, placed)
}

// run0 drives the order this call created and waits for it: the run hands over the order it
// settled, so the answer needs no read; a run that pauses (a dependency is unavailable) leaves
// the call to wait the general way.
func (s *Saga) run0(ctx context.Context, o order.Order) (order.Order, error) {
	w, done := s.waiters.wait(o.ID) // before the run starts, so that its wake cannot be missed
	defer done()
	waitCtx, cancel := context.WithDeadline(ctx, answerBy(ctx, s.opts.RunTimeout))
	defer cancel()
	s.start(ctx, o)
	select {
	case <-w.ch:
		if settled, ok := w.result(); ok {
			return settled, nil
		}
	case <-waitCtx.Done():
		return s.refresh(ctx, o), nil
	}
	return s.await(ctx, o, placed)
}

// placed: the order is no longer pending.
func placed(o order.Order) bool { return o.Status != order.StatusPending }

// await re-reads o until done(o) or shortly before ctx's deadline, and returns it as it is
// then. Runs in this process wake it at once; runs elsewhere are seen by polling. When the
// saga is unsettled and its lease free (its driver crashed, or it waits for a retry), await
// takes it over.
func (s *Saga) await(ctx context.Context, o order.Order, done func(order.Order) bool) (order.Order, error) {
	waitCtx, cancel := context.WithDeadline(ctx, answerBy(ctx, s.opts.RunTimeout))
	defer cancel()
	poll := 20 * time.Millisecond
	for !done(o) {
		s.sleep(waitCtx, o, &poll)
		if waitCtx.Err() != nil {
			return s.refresh(ctx, o), nil
		}
		next, err := s.store.Get(ctx, o.ID)
		if err != nil {
			return o, err
		}
		o = next
	}
	return o, nil
}

// sleep takes the saga over if it needs a driver, then waits for a run in this process to wake
// o, for the poll interval (which it doubles, up to 500ms), or for ctx to end.
func (s *Saga) sleep(ctx context.Context, o order.Order, poll *time.Duration) {
	w, done := s.waiters.wait(o.ID)
	defer done()
	if err := s.resume(ctx, o); err != nil && ctx.Err() == nil {
		s.log.Warn("take over saga", "order_id", o.ID, "error", err.Error()) // the recovery loop will
	}
	t := time.NewTimer(*poll)
	defer t.Stop()
	select {
	case <-w.ch:
	case <-t.C:
		*poll = min(2**poll, 500*time.Millisecond)
	case <-ctx.Done():
	}
}

// refresh is o as stored now, or o when the read fails at the end of the call.
func (s *Saga) refresh(ctx context.Context, o order.Order) order.Order {
	if fresh, err := s.store.Get(ctx, o.ID); err == nil {
		return fresh
	}
	return o
}

// resume takes over an unsettled saga whose lease is free and drives it in the background.
func (s *Saga) resume(ctx context.Context, o order.Order) error {
	now := s.now()
	if o.Settled() || !o.Lease.Free(now) {
		return nil
	}
	claimed, ok, err := s.store.Claim(ctx, o.ID, s.lease(now), now)
	if err != nil || !ok {
		return err
	}
	s.start(ctx, claimed)
	return nil
}

// answerBy is when a call must stop waiting to answer in time: its deadline less a margin
// (a tenth of the time left, at most 200ms) for the last read and the answer.
func answerBy(ctx context.Context, def time.Duration) time.Time {
	dl, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(def)
	}
	return dl.Add(-min(time.Until(dl)/10, 200*time.Millisecond))
}
