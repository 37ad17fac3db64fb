package saga

import (
	"context"
	"time"
)

// Recover is the recovery loop (run it with the runtime's Go): every RecoverEvery it claims
// orders whose saga is unsettled and whose lease is free or expired — left half-way by a
// crash, or waiting for a retry — and drives them, at most Parallel at once. It returns nil
// when ctx ends.
func (s *Saga) Recover(ctx context.Context) error {
	t := time.NewTicker(s.opts.RecoverEvery)
	defer t.Stop()
	slots := make(chan struct{}, s.opts.Parallel)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s.recoverOnce(ctx, slots)
	}
}

func (s *Saga) recoverOnce(ctx context.Context, slots chan struct{}) {
	now := s.now()
	ids, err := s.store.Unfinished(ctx, now, s.opts.RecoverBatch)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("list unfinished sagas", "error", err.Error())
		}
		return
	}
	for _, id := range ids {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		now := s.now()
		o, ok, err := s.store.Claim(ctx, id, s.lease(now), now)
		if err != nil || !ok {
			<-slots
			continue
		}
		s.log.Info("resuming saga", "order_id", id, "step", o.Step, "attempts", o.Attempts)
		s.running.Add(1)
		go func() {
			defer s.running.Done()
			defer func() { <-slots }()
			ctx, cancel := context.WithTimeout(ctx, s.opts.RunTimeout)
			defer cancel()
			s.drive(ctx, o)
		}()
	}
}
