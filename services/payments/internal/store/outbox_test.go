package store_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"buf.build/go/protovalidate"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"mercato.dev/ent/dbtest"
	ent "mercato.dev/ent/payments"
	"mercato.dev/ent/payments/migrate"
	"mercato.dev/ent/payments/outboxevent"
	paymentsv1 "mercato.dev/proto/gen/go/mercato/payments/v1"
	"mercato.dev/services/kit/events"
	"mercato.dev/services/payments/internal/payment"
	"mercato.dev/services/payments/internal/store"
)

// outboxFixture is the use cases on a store whose relay notifications are counted.
type outboxFixture struct {
	fixture
	notified *atomic.Int32
}

func newOutboxFixture(t *testing.T, url string) outboxFixture {
	t.Helper()
	db := dbtest.Open(t, url, migrate.Migrations)
	client := ent.NewClient(ent.Driver(db.Driver()))
	n := &atomic.Int32{}
	st, err := store.New(client, db.Dialect(), store.WithNotify(func() { n.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	return outboxFixture{fixture{ps: payment.New(st), client: client}, n}
}

// events returns the subjects of the order's outbox events, oldest first, checking each
// payload against the contract's rules.
func (f outboxFixture) events(t *testing.T, order uuid.UUID) []string {
	t.Helper()
	rows, err := f.client.OutboxEvent.Query().Order(outboxevent.ByCreateTime()).All(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, r := range rows {
		var ev paymentsv1.PaymentAuthorized // payment, order, customer, amount: the same numbers in every payment event
		if err := proto.Unmarshal(r.Payload, &ev); err != nil {
			t.Fatalf("event %s: %v", r.ID, err)
		}
		if ev.GetOrderId() != order.String() {
			continue
		}
		if ev.GetEventId() != r.ID.String() || ev.GetAmount().GetAmountMinor() == 0 || ev.GetPaymentId() == "" {
			t.Errorf("%s event %s: %v", r.Subject, r.ID, &ev)
		}
		subjects = append(subjects, r.Subject)
	}
	return subjects
}

func TestOutboxAnnouncesEachChangeOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		f := newOutboxFixture(t, url)
		ctx := t.Context()
		req := request("pm_card_visa", 2500)
		for range 2 { // the second authorization answers the first payment and announces nothing
			if _, err := f.ps.Authorize(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		const voids = 8 // concurrent: one guarded update wins
		var wg sync.WaitGroup
		for range voids {
			wg.Go(func() {
				if _, err := f.ps.Void(ctx, req.OrderID); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := f.events(t, req.OrderID); len(got) != 2 || got[0] != events.PaymentAuthorized || got[1] != events.PaymentVoided {
			t.Errorf("events %v, want [authorized voided]", got)
		}
		if n := f.notified.Load(); n != 2 {
			t.Errorf("relay notified %d times, want 2", n)
		}

		declined := request(payment.MethodInsufficientFunds, 700)
		if _, err := f.ps.Authorize(ctx, declined); err != nil {
			t.Fatal(err)
		}
		if _, err := f.ps.Void(ctx, declined.OrderID); err != nil {
			t.Fatal(err)
		}
		if got := f.events(t, declined.OrderID); len(got) != 1 || got[0] != events.PaymentDeclined {
			t.Errorf("declined payment's events %v, want [declined]", got)
		}
		row, err := f.client.OutboxEvent.Query().Where(outboxevent.Subject(events.PaymentDeclined)).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ev paymentsv1.PaymentDeclined
		if err := proto.Unmarshal(row.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		if err := protovalidate.Validate(&ev); err != nil || ev.GetReason() != paymentsv1.DeclineReason_DECLINE_REASON_INSUFFICIENT_FUNDS {
			t.Errorf("PaymentDeclined %v: %v", &ev, err)
		}
	})
}

func TestConcurrentAuthorizationsAnnounceOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		const calls = 20
		f := newOutboxFixture(t, url)
		req := request("pm_card_visa", 4200)
		f.warm(t, calls)
		var wg sync.WaitGroup
		for range calls {
			wg.Go(func() {
				if _, err := f.ps.Authorize(t.Context(), req); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := f.events(t, req.OrderID); len(got) != 1 || got[0] != events.PaymentAuthorized {
			t.Errorf("events %v, want one authorized", got)
		}
	})
}
