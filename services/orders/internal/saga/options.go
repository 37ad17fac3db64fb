package saga

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options tune the saga. Zero values take the defaults in brackets.
//
// When a saga gives up: a run that meets an unavailable dependency keeps its step and releases
// its lease for a retry after a backoff (RetryBase doubling per attempt, capped at RetryMax);
// the recovery loop resumes it then. Once it has failed MaxAttempts runs, or GiveUpAfter has
// passed since the order was placed, the next run rejects the order with
// DEPENDENCY_UNAVAILABLE, compensating first when it may hold stock or a payment.
// Compensation itself never gives up: it is retried until stock and payment are released.
type Options struct {
	Owner        string        // lease owner: this process instance [random]
	LeaseTTL     time.Duration // how long a lease lasts without renewal [10s]; renewed every third
	RunTimeout   time.Duration // deadline of one run of a saga, detached from any request [30s]
	RecoverEvery time.Duration // how often the recovery loop looks for orphaned sagas [1s]
	RecoverBatch int           // sagas claimed per look [32]
	Parallel     int           // runs the recovery loop starts at once [8]
	MaxAttempts  int           // failed runs before giving up [8]
	GiveUpAfter  time.Duration // age of an order after which its saga gives up [2m]
	RetryBase    time.Duration // backoff after the first failed run [250ms]
	RetryMax     time.Duration // longest backoff [10s]
	// Fault names a fault to inject (only in binaries built with -tags faultinject):
	// "kill-after-reserve" SIGKILLs the process right after the reservation is persisted.
	Fault  string
	Logger *slog.Logger
	// Registerer receives saga_outcomes_total [none].
	Registerer prometheus.Registerer
	Clock      func() time.Time
}

func (o *Options) setDefaults() {
	if o.Owner == "" {
		o.Owner = NewOwner("orders")
	}
	o.LeaseTTL = or(o.LeaseTTL, 10*time.Second)
	o.RunTimeout = or(o.RunTimeout, 30*time.Second)
	o.RecoverEvery = or(o.RecoverEvery, time.Second)
	o.RecoverBatch = or(o.RecoverBatch, 32)
	o.Parallel = or(o.Parallel, 8)
	o.MaxAttempts = or(o.MaxAttempts, 8)
	o.GiveUpAfter = or(o.GiveUpAfter, 2*time.Minute)
	o.RetryBase = or(o.RetryBase, 250*time.Millisecond)
	o.RetryMax = or(o.RetryMax, 10*time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
}

// Validate reports inconsistent options.
func (o Options) Validate() error {
	switch {
	case o.LeaseTTL < 0 || o.RunTimeout < 0 || o.RecoverEvery < 0 || o.GiveUpAfter < 0:
		return errors.New("saga: durations must not be negative")
	case o.LeaseTTL > 0 && o.LeaseTTL < 100*time.Millisecond:
		return errors.New("saga: LeaseTTL must be at least 100ms")
	case o.Fault != "" && o.Fault != FaultKillAfterReserve:
		return errors.New("saga: unknown fault " + o.Fault)
	}
	return nil
}

// FaultKillAfterReserve is the one fault the saga knows.
const FaultKillAfterReserve = "kill-after-reserve"

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// backoff is how long a saga waits after its attempts-th failed run.
func (o Options) backoff(attempts int) time.Duration {
	d := o.RetryBase
	for i := 1; i < attempts && d < o.RetryMax; i++ {
		d *= 2
	}
	return min(d, o.RetryMax)
}
