package database_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"mercato.dev/ent/database"
	"mercato.dev/ent/dbtest"
	"mercato.dev/ent/orders"
	"mercato.dev/ent/orders/migrate"
)

func TestOperation(t *testing.T) {
	t.Parallel()
	cases := []struct{ query, op, table string }{
		{`INSERT INTO "orders" ("id", "status") VALUES ($1, $2)`, "INSERT", "orders"},
		{`UPDATE "orders" SET "status" = ? WHERE "id" = ?`, "UPDATE", "orders"},
		{`DELETE FROM "outbox_events" WHERE id = 'x'`, "DELETE", "outbox_events"},
		{`SELECT "orders"."id", "orders"."status" FROM "orders" WHERE "orders"."id" = $1 LIMIT 2`, "SELECT", "orders"},
		{`select 1`, "SELECT", ""},
		{`SELECT x FROM `, "SELECT", ""},
		{``, "", ""},
	}
	for _, c := range cases {
		if op, table := database.Operation(c.query); op != c.op || table != c.table {
			t.Errorf("Operation(%q) = %q, %q; want %q, %q", c.query, op, table, c.op, c.table)
		}
	}
}

// TestTracedDriver: inside a recording span, an ent transaction yields a transaction span
// parenting one span per statement, named by operation and table, carrying no values; outside
// one, no span at all.
func TestTracedDriver(t *testing.T) { // not parallel: it sets the global tracer provider
	ctx := context.Background()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	otel.SetTracerProvider(tp)
	db, err := database.Open(ctx, dbtest.SQLite(t), migrate.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	client := orders.NewClient(orders.Driver(db.Driver()))
	const secret = "secret-value-never-in-spans"

	if _, err := client.Order.Query().Count(ctx); err != nil { // no span in ctx: no span made
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans outside a trace, want 0", n)
	}

	ctx, parent := tp.Tracer("test").Start(ctx, "step")
	tx, err := client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Order.Query().Count(ctx); err != nil {
		t.Fatal(err)
	}
	_, _ = tx.Order.Update().SetRejectReason(secret).Save(ctx)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	parent.End()

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		byName[s.Name()] = s
		for _, a := range s.Attributes() {
			if a.Value.Emit() == secret {
				t.Errorf("span %s carries a value: %s", s.Name(), a.Key)
			}
		}
	}
	txSpan, ok := byName["db.transaction"]
	if !ok {
		t.Fatalf("no transaction span among %v", names(rec.Ended()))
	}
	if txSpan.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("transaction span's parent is not the caller's span")
	}
	for _, name := range []string{"SELECT orders", "UPDATE orders"} {
		s, ok := byName[name]
		if !ok {
			t.Errorf("no span %q among %v", name, names(rec.Ended()))
			continue
		}
		if s.Parent().SpanID() != txSpan.SpanContext().SpanID() {
			t.Errorf("%s is not a child of the transaction span", name)
		}
		if !hasAttr(s.Attributes(), attribute.String("db.collection.name", "orders")) {
			t.Errorf("%s attributes %v lack db.collection.name=orders", name, s.Attributes())
		}
	}
	if !hasAttr(txSpan.Attributes(), attribute.String("db.transaction.outcome", "commit")) {
		t.Errorf("transaction span attributes %v lack the commit outcome", txSpan.Attributes())
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name()
	}
	return out
}

func hasAttr(attrs []attribute.KeyValue, want attribute.KeyValue) bool {
	for _, a := range attrs {
		if a == want {
			return true
		}
	}
	return false
}
