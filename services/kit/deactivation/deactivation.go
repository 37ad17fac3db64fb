// Package deactivation makes a customer's deactivation take effect in every service within
// seconds, without a call to customers on each request: customers publishes
// mercato.customers.v1.CustomerDeactivated through its outbox (stream CUSTOMERS), and each
// service follows that stream into a [List] and refuses, before any handler runs, the end-user
// claims of a token issued at or before the customer's deactivation (unauthenticated).
//
// An access token lives at most [TokenLifetime], so a deactivation matters for that long only:
// every process replays the stream from that far back when it starts (a process started after
// the event still learns of it) and forgets older entries. A customer reactivated later signs
// in again and gets a token issued after the deactivation, which passes: reactivation needs no
// event. Each process follows the stream with its own ordered (ephemeral) consumer, since every
// replica needs every deactivation in its own memory; a shared durable consumer would split
// them between replicas.
package deactivation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/events"
)

// TokenLifetime is the longest an access token lives (the JWT contract: 15 minutes), with a
// minute of clock skew.
const TokenLifetime = 16 * time.Minute

// ErrDeactivated refuses the claims of a token issued before its customer was deactivated.
var ErrDeactivated = errors.New("the customer's account is deactivated; this token is no longer valid")

// List is the deactivations of the last TokenLifetime, by customer ID.
type List struct {
	mu  sync.RWMutex
	at  map[uuid.UUID]time.Time
	now func() time.Time
}

// NewList returns an empty list.
func NewList() *List { return &List{at: map[uuid.UUID]time.Time{}, now: time.Now} }

// Add records that the customer was deactivated at (the later one wins) and forgets the
// entries older than TokenLifetime.
func (l *List) Add(customer uuid.UUID, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if at.After(l.at[customer]) {
		l.at[customer] = at
	}
	cutoff := l.now().Add(-TokenLifetime)
	for id, t := range l.at {
		if t.Before(cutoff) {
			delete(l.at, id)
		}
	}
}

// Check refuses the claims of a token issued at or before its customer's deactivation (a
// token without an issue time counts as issued before).
func (l *List) Check(c claims.Claims) error {
	id, err := uuid.Parse(c.Subject)
	if err != nil {
		return nil // no customer: owner checks refuse it anyway
	}
	l.mu.RLock()
	at, ok := l.at[id]
	l.mu.RUnlock()
	if ok && c.IssuedAt <= at.Unix() {
		return ErrDeactivated
	}
	return nil
}

// Follow reads the CUSTOMERS stream's deactivations of the last TokenLifetime into l, then
// every new one as it is published, until ctx ends. The stream is customers' to create (the
// bus permission table lets the others only follow it): until it exists, and whenever the
// broker loses the consumer, Follow starts over a second later.
func Follow(ctx context.Context, js jetstream.JetStream, l *List, log *slog.Logger) error {
	for ctx.Err() == nil {
		err := follow(ctx, js, l, log)
		if ctx.Err() != nil {
			break
		}
		level := slog.LevelWarn
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			level = slog.LevelDebug // customers has not created it yet
		}
		log.Log(ctx, level, "following customer deactivations: starting over", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

func follow(ctx context.Context, js jetstream.JetStream, l *List, log *slog.Logger) error {
	since := time.Now().Add(-TokenLifetime)
	cons, err := js.OrderedConsumer(ctx, events.CustomersStream().Name, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.CustomerDeactivated},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &since,
	})
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("messages: %w", err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		msg, err := it.Next()
		if err != nil {
			return err
		}
		id, at, err := Decode(msg.Data())
		if err != nil {
			log.Error("unreadable customer deactivation, skipped", "subject", msg.Subject(), "error", err)
			continue
		}
		l.Add(id, at)
		log.Info("customer deactivated: refusing the tokens issued before", "customer_id", id.String(), "at", at)
	}
}

// Decode reads a CustomerDeactivated payload.
func Decode(payload []byte) (uuid.UUID, time.Time, error) {
	var ev customersv1.CustomerDeactivated
	if err := proto.Unmarshal(payload, &ev); err != nil {
		return uuid.Nil, time.Time{}, err
	}
	id, err := uuid.Parse(ev.GetCustomerId())
	if err != nil {
		return uuid.Nil, time.Time{}, fmt.Errorf("customer_id: %w", err)
	}
	if ev.GetOccurTime() == nil {
		return uuid.Nil, time.Time{}, errors.New("no occur_time")
	}
	return id, ev.GetOccurTime().AsTime(), nil
}
