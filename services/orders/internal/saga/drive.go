package saga

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"mercato.dev/services/orders/internal/order"
)

// start runs the saga of an order whose lease this process holds, in the background: detached
// from the request that started it (parent keeps only its values), bounded by RunTimeout, and
// stopped by Close.
func (s *Saga) start(parent context.Context, o order.Order) {
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), s.opts.RunTimeout)
		defer cancel()
		stop := context.AfterFunc(s.stop, cancel)
		defer stop()
		s.drive(ctx, o)
	}()
}

// drive runs the saga of o, whose lease this process holds, until it settles or a dependency
// is unavailable; then it gives the lease back for a later retry.
func (s *Saga) drive(ctx context.Context, o order.Order) {
	id := o.ID
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go s.keepLease(ctx, cancel, id)

	if o.Settled() { // settled between being listed and claimed
		defer s.waiters.wake(id, order.Order{}, false)
		s.release(ctx, o, o.Attempts, time.Time{})
		return
	}
	o, err := s.run(ctx, o)
	// Calls waiting here get the settled order as it was stored; any other end makes them read.
	defer func() { s.waiters.wake(id, o, err == nil) }()
	switch {
	case err == nil:
	case errors.Is(err, order.ErrLeaseLost) || errors.Is(context.Cause(ctx), order.ErrLeaseLost):
		s.log.Warn("saga lease lost; another process drives the order", "order_id", id)
	default:
		s.postpone(ctx, o, err)
	}
}

// run takes the saga's steps from where o is (as stored) until it settles, and returns the
// settled order as stored. Not every step is stored: see persists.
func (s *Saga) run(ctx context.Context, o order.Order) (order.Order, error) {
	if s.givenUp(o) {
		s.log.Warn("saga gives up", "order_id", o.ID, "attempts", o.Attempts, "age", s.now().Sub(o.CreateTime))
		next := o.Reject(order.ReasonDependencyUnavailable, o.MayHold())
		next.UpdateTime = s.now()
		if err := s.store.Advance(ctx, s.opts.Owner, o.Step, next); err != nil {
			return o, err
		}
		if next.Settled() {
			s.metrics.settled(next)
		}
		o = next
	}
	stored := o.Step
	for !o.Settled() {
		next, err := s.advance(ctx, o, stored)
		if err != nil {
			return o, err
		}
		s.log.Debug("saga step", "order_id", o.ID, "from", o.Step, "to", next.Step, "status", next.Status)
		if persists(next.Step) {
			stored = next.Step
			if next.Settled() {
				next.Lease = order.Lease{} // given up with the last step, as in the store
			}
		}
		if next.Step == order.StepStockReserved {
			s.fault(FaultKillAfterReserve)
		}
		o = next
	}
	return o, nil
}

// persists reports whether the saga stores the order when it reaches step. It stores what a
// resumed saga must know: that it may hold stock (customer checked: the reservation is
// attempted next), that it compensates, and the outcome. The reservation (which prices the
// order) is redone by a resumed saga, which is safe because it is idempotent per order and
// answers the prices it stored; cheaper than a commit. An order placed with the customer's
// token is created customer-checked, so a confirmed order costs two commits: the order as
// created and the outcome.
func persists(step order.Step) bool {
	return step != order.StepStockReserved
}

// advance takes one step and, when the saga stores the step it reached (persists), stores the
// order guarded by the step stored before (from); in the step's span.
func (s *Saga) advance(ctx context.Context, o order.Order, from order.Step) (order.Order, error) {
	ctx, span := startStep(ctx, o)
	next, err := s.step(ctx, o)
	if err == nil && persists(next.Step) {
		next.UpdateTime = s.now()
		err = s.store.Advance(ctx, s.opts.Owner, from, next)
	}
	endStep(span, next, err)
	if err == nil && next.Settled() {
		s.metrics.settled(next)
	}
	return next, err
}

// givenUp: a saga that is still placing the order has failed too often or for too long.
func (s *Saga) givenUp(o order.Order) bool {
	if o.Status != order.StatusPending || o.Step == order.StepCompensating {
		return false
	}
	return o.Attempts >= s.opts.MaxAttempts || s.now().Sub(o.CreateTime) > s.opts.GiveUpAfter
}

// step takes one step of the saga and returns the order after it. A business outcome of a
// dependency is a transition (most often a rejection); an unavailable dependency is an error
// and the order stays where it is. Any other failure rejects the order as INTERNAL, except
// while compensating, which only ever retries.
func (s *Saga) step(ctx context.Context, o order.Order) (order.Order, error) {
	next, err := s.attempt(ctx, o)
	if err == nil || transient(err) || o.Step == order.StepCompensating {
		return next, err
	}
	s.log.Error("saga step failed; rejecting the order", "order_id", o.ID, "step", o.Step, "error", err.Error())
	return o.Reject(order.ReasonInternal, o.MayHold()), nil
}

func (s *Saga) attempt(ctx context.Context, o order.Order) (order.Order, error) {
	switch o.Step {
	case order.StepCreated:
		return s.checkCustomer(ctx, o)
	case order.StepCustomerChecked, order.StepPriced: // priced: placed by a former version
		return s.reserve(ctx, o)
	case order.StepStockReserved:
		return s.authorize(ctx, o)
	case order.StepCompensating:
		return s.compensate(ctx, o)
	}
	return o, errors.New("saga: no step from " + string(o.Step))
}

func (s *Saga) checkCustomer(ctx context.Context, o order.Order) (order.Order, error) {
	switch err := s.customers.CheckCustomer(ctx, o.CustomerID); {
	case err == nil:
		return o.CustomerChecked(), nil
	case errors.Is(err, ErrCustomerNotFound):
		return o.Reject(order.ReasonCustomerNotFound, false), nil
	case errors.Is(err, ErrCustomerInactive):
		return o.Reject(order.ReasonCustomerInactive, false), nil
	default:
		return o, err
	}
}

// reserve holds the stock and prices the order at the prices the reservation answers: read in
// the transaction that reserved, and the stored ones when a resumed saga reserves again, so the
// amount it authorizes is the same on every run. A refusal (short or unknown product) moved no
// stock: all or none. A reservation without a price for every line (an inventory older than
// the contract, during a rollout) is no outcome: the saga keeps its step and tries again.
func (s *Saga) reserve(ctx context.Context, o order.Order) (order.Order, error) {
	prices, err := s.inventory.Reserve(ctx, o.ID, o.Items)
	switch {
	case err == nil:
		for _, it := range o.Items {
			if p, ok := prices[it.ProductID]; !ok || p.Currency == "" {
				return o, fmt.Errorf("%w: inventory reserved product %s without its price (a version before ReserveStock answered prices?)", ErrUnavailable, it.ProductID)
			}
		}
		return o.ReservedAt(prices), nil
	case errors.Is(err, ErrOutOfStock):
		return o.Reject(order.ReasonOutOfStock, false), nil
	case errors.Is(err, ErrProductNotFound):
		return o.Reject(order.ReasonProductNotFound, false), nil
	default:
		return o, err
	}
}

func (s *Saga) authorize(ctx context.Context, o order.Order) (order.Order, error) {
	id, err := s.payments.Authorize(ctx, Payment{OrderID: o.ID, CustomerID: o.CustomerID, Amount: *o.Total, Method: o.PaymentMethod})
	switch {
	case err == nil:
		return o.Confirm(id), nil
	case errors.Is(err, ErrDeclined):
		return o.Reject(order.ReasonPaymentDeclined, true), nil
	default:
		return o, err
	}
}

// compensate releases the stock and voids the payment; both are no-ops when nothing is held.
func (s *Saga) compensate(ctx context.Context, o order.Order) (order.Order, error) {
	if err := s.payments.Void(ctx, o.ID); err != nil {
		return o, err
	}
	if err := s.inventory.Release(ctx, o.ID); err != nil {
		return o, err
	}
	return o.Compensated(), nil
}

// transient: the failure says nothing about the order; try again later.
func transient(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// postpone gives the lease back after a run that could not finish, counting a failed attempt
// (not when the process is shutting down) and delaying the retry by the backoff.
func (s *Saga) postpone(ctx context.Context, o order.Order, cause error) {
	attempts, retryAt := o.Attempts, time.Time{}
	if s.stop.Err() == nil && !errors.Is(ctx.Err(), context.Canceled) {
		attempts++
		retryAt = s.now().Add(s.opts.backoff(attempts))
	}
	s.log.Warn("saga paused", "order_id", o.ID, "step", o.Step, "attempts", attempts, "retry_at", retryAt, "error", cause.Error())
	s.release(ctx, o, attempts, retryAt)
}

// release gives the lease back, even when ctx has ended.
func (s *Saga) release(ctx context.Context, o order.Order, attempts int, retryAt time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.store.Release(ctx, o.ID, s.opts.Owner, attempts, retryAt); err != nil {
		s.log.Error("release saga lease; it will expire", "order_id", o.ID, "error", err.Error())
	}
}

// keepLease renews the lease every third of its TTL while ctx lives, and cancels ctx with
// ErrLeaseLost when another process took it.
func (s *Saga) keepLease(ctx context.Context, cancel context.CancelCauseFunc, id uuid.UUID) {
	t := time.NewTicker(s.opts.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := s.store.Renew(ctx, id, s.lease(s.now()))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("renew saga lease", "order_id", id, "error", err.Error())
		case err == nil && !ok:
			cancel(order.ErrLeaseLost)
			return
		}
	}
}
