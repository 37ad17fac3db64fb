package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	"mercato.dev/services/kit/claims"

	"mercato.dev/services/customers/internal/customer"
	"mercato.dev/services/customers/internal/password"
	"mercato.dev/services/customers/internal/throttle"
)

// Sign-in throttling. Per account: two attempts at once, five failures free, then a backoff
// from 1 s doubling to 15 min, whoever the attempts come from. Per client address (from the
// edge only): eight attempts at once (offices behind one NAT), twenty failures free, then the
// same backoff. Failures are forgotten after 15 quiet minutes; a success clears the account.
var (
	accountPolicy = throttle.Policy{Free: 5, Base: time.Second, Max: 15 * time.Minute, InFlight: 2, Forget: 15 * time.Minute}
	clientPolicy  = throttle.Policy{Free: 20, Base: time.Second, Max: 15 * time.Minute, InFlight: 8, Forget: 15 * time.Minute}
)

// maxThrottleKeys bounds each throttle table (~100 bytes a key).
const maxThrottleKeys = 100_000

// signInGuard throttles, logs and counts sign-in attempts.
type signInGuard struct {
	accounts, clients *throttle.Throttle
	logger            *slog.Logger
	failures          *prometheus.CounterVec // by reason
	throttled         *prometheus.CounterVec // by scope
}

func newSignInGuard(logger *slog.Logger, reg prometheus.Registerer) (*signInGuard, error) {
	g := &signInGuard{
		accounts: throttle.New(accountPolicy, maxThrottleKeys),
		clients:  throttle.New(clientPolicy, maxThrottleKeys),
		logger:   logger,
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "customers_sign_in_failures_total",
			Help: "Failed sign-ins by reason (bad_credentials: unknown email or wrong password; inactive).",
		}, []string{"reason"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "customers_sign_in_throttled_total",
			Help: "Sign-ins refused before checking the password, by scope (account, client, hashing).",
		}, []string{"scope"}),
	}
	for _, c := range []prometheus.Collector{g.failures, g.throttled} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register sign-in metrics: %w", err)
		}
	}
	return g, nil
}

// attempt is one admitted sign-in.
type attempt struct {
	account, client string // throttle keys; client "" when the edge sent no address
}

// admit admits a sign-in for email from the caller's client address, or returns the
// resource_exhausted error to answer.
func (g *signInGuard) admit(ctx context.Context, email string) (attempt, error) {
	a := attempt{account: customer.NormalizeEmail(email)}
	if addr, ok := claims.ClientAddress(ctx); ok {
		a.client = addr.String()
		if r := g.clients.Begin(a.client); r != nil {
			return attempt{}, g.refuse(ctx, "client", a, r)
		}
	}
	if r := g.accounts.Begin(a.account); r != nil {
		if a.client != "" {
			g.clients.End(a.client, throttle.Neutral)
		}
		return attempt{}, g.refuse(ctx, "account", a, r)
	}
	return a, nil
}

func (g *signInGuard) refuse(ctx context.Context, scope string, a attempt, r *throttle.Refusal) error {
	g.throttled.WithLabelValues(scope).Inc()
	g.logger.WarnContext(ctx, "sign-in throttled", "scope", scope, "email", a.account, "client", a.client, "retry_after", r.RetryAfter.String())
	msg := "too many sign-in attempts at once; try again shortly"
	if r.RetryAfter > 0 {
		msg = fmt.Sprintf("too many failed sign-ins; try again in %d s", int(math.Ceil(r.RetryAfter.Seconds())))
	}
	return connect.NewError(connect.CodeResourceExhausted, errors.New(msg))
}

// done records the outcome: a failure is logged (never the password) and counted.
func (g *signInGuard) done(ctx context.Context, a attempt, err error) {
	outcome, reason := throttle.Neutral, "" // an error of ours or a timeout proves nothing
	switch {
	case err == nil:
		outcome = throttle.Success
	case errors.Is(err, customer.ErrBadCredentials):
		outcome, reason = throttle.Failure, "bad_credentials"
	case errors.Is(err, customer.ErrInactive):
		outcome, reason = throttle.Failure, "inactive"
	case errors.Is(err, password.ErrBusy):
		g.throttled.WithLabelValues("hashing").Inc()
	}
	g.accounts.End(a.account, outcome)
	if a.client != "" {
		clientOutcome := outcome
		if outcome == throttle.Success { // one good account must not clear a guessing client
			clientOutcome = throttle.Neutral
		}
		g.clients.End(a.client, clientOutcome)
	}
	if outcome != throttle.Failure {
		return
	}
	g.failures.WithLabelValues(reason).Inc()
	g.logger.WarnContext(ctx, "sign-in failed", "reason", reason, "email", a.account, "client", a.client)
}
