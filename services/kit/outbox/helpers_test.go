package outbox_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"mercato.dev/ent/database"
	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/orders"
	ordersmigrate "mercato.dev/ent/orders/migrate"
	"mercato.dev/ent/orders/outboxevent"
	"mercato.dev/services/kit/outbox"
)

func TestMain(m *testing.M) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	os.Exit(m.Run())
}

// fixture is an orders database with its outbox table, the ent client a service writes it
// with, and the relay's store on it.
type fixture struct {
	db     *database.DB
	client *orders.Client
	store  *outbox.SQLStore
}

func newFixture(t testing.TB, url string) fixture {
	t.Helper()
	db := dbtest.Open(t, url, ordersmigrate.Migrations)
	store, err := outbox.NewSQLStore(db.SQL(), db.Dialect(), "outbox_events")
	if err != nil {
		t.Fatal(err)
	}
	return fixture{db: db, client: orders.NewClient(orders.Driver(db.Driver())), store: store}
}

// insert writes events in one ent transaction, the way a service does next to its state
// change.
func (f fixture) insert(t testing.TB, evs ...outbox.Event) {
	t.Helper()
	ctx := context.Background()
	tx, err := f.client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 500
	for len(evs) > 0 {
		n := min(chunk, len(evs))
		builders := make([]*orders.OutboxEventCreate, n)
		for i, ev := range evs[:n] {
			builders[i] = tx.OutboxEvent.Create().
				SetID(uuid.MustParse(ev.ID)).SetSubject(ev.Subject).SetPayload(ev.Payload).
				SetHeaders(ev.Headers).SetCreateTime(ev.CreateTime)
		}
		if err := tx.OutboxEvent.CreateBulk(builders...).Exec(ctx); err != nil {
			_ = tx.Rollback()
			t.Fatal(err)
		}
		evs = evs[n:]
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// row reads one outbox row through ent.
func (f fixture) row(t testing.TB, id string) *orders.OutboxEvent {
	t.Helper()
	r, err := f.client.OutboxEvent.Get(context.Background(), uuid.MustParse(id))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// unsent counts the rows not yet sent.
func (f fixture) unsent(t testing.TB) int {
	t.Helper()
	n, err := f.client.OutboxEvent.Query().Where(outboxevent.StatusNEQ(outboxevent.StatusSent)).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testEvents makes n events on subject, created a millisecond apart from base.
func testEvents(n int, subject string, base time.Time) []outbox.Event {
	evs := make([]outbox.Event, n)
	for i := range evs {
		evs[i] = outbox.Event{
			ID:         uuid.Must(uuid.NewV7()).String(),
			Subject:    subject,
			Payload:    fmt.Appendf(nil, "event %d", i),
			Headers:    map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
			CreateTime: base.Add(time.Duration(i) * time.Millisecond).UTC(),
		}
	}
	return evs
}

func ids(evs []outbox.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}
