package deactivation_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	customersv1 "mercato.dev/proto/gen/go/mercato/customers/v1"
	"mercato.dev/services/kit/claims"
	"mercato.dev/services/kit/deactivation"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/kit/events/eventstest"
	"mercato.dev/services/kit/identity"
	"mercato.dev/services/kit/kittest"
)

// waitLimit bounds every wait; the contract is 5 s, the test waits far longer and reports.
const waitLimit = 30 * time.Second

// TestFollowRefusesTokensIssuedBeforeDeactivation publishes deactivations as customers on the
// platform's mTLS broker (its permission table): a follower (orders, with an ordered consumer
// of its own) started after the first one learns of it from the stream, a running follower
// learns of the second within seconds, tokens issued at or before a deactivation are refused
// and tokens issued after it (a reactivated customer signing in again) pass.
func TestFollowRefusesTokensIssuedBeforeDeactivation(t *testing.T) {
	t.Parallel()
	b := eventstest.StartBroker(t, kittest.Start(t, nil), "", 0)
	_, js := b.Connect(t, identity.Service("customers"))
	_, follower := b.Connect(t, identity.Service("orders"))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := events.EnsureStreams(ctx, js, events.CustomersStream()); err != nil {
		t.Fatal(err)
	}
	early, late, bystander := uuid.New(), uuid.New(), uuid.New()
	issued := time.Now().Add(-time.Minute).Unix()
	publish(t, js, early, time.Now())

	list := deactivation.NewList()
	followed := make(chan error, 1)
	go func() {
		followed <- deactivation.Follow(ctx, follower, list, slog.New(slog.DiscardHandler))
	}()
	token := func(id uuid.UUID, iat int64) claims.Claims {
		return claims.Claims{Subject: id.String(), Roles: []string{claims.RoleCustomer}, IssuedAt: iat}
	}
	waitRefused(t, list, token(early, issued), "deactivated before the follower started")

	start := time.Now()
	publish(t, js, late, time.Now())
	waitRefused(t, list, token(late, issued), "deactivated while following")
	t.Logf("a deactivation took effect %s after it was published", time.Since(start).Round(time.Millisecond))

	if err := list.Check(token(bystander, issued)); err != nil {
		t.Errorf("another customer refused: %v", err)
	}
	if err := list.Check(token(late, time.Now().Add(2*time.Second).Unix())); err != nil {
		t.Errorf("a token issued after the deactivation (customer reactivated, signed in again) refused: %v", err)
	}
	cancel()
	if err := <-followed; err != nil {
		t.Errorf("Follow: %v", err)
	}
}

func publish(t *testing.T, js jetstream.JetStream, id uuid.UUID, at time.Time) {
	t.Helper()
	payload, err := proto.Marshal(&customersv1.CustomerDeactivated{EventId: uuid.NewString(), OccurTime: timestamppb.New(at), CustomerId: id.String()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(t.Context(), &nats.Msg{Subject: events.CustomerDeactivated, Data: payload}); err != nil {
		t.Fatal(err)
	}
}

func waitRefused(t *testing.T, list *deactivation.List, c claims.Claims, what string) {
	t.Helper()
	start := time.Now()
	for list.Check(c) == nil {
		if time.Since(start) > waitLimit {
			t.Fatalf("a token of a customer %s still passes after %s", what, waitLimit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
