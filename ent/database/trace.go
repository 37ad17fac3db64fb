package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"entgo.io/ent/dialect"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracer is looked up at each use (only for sampled work): a process or test that installs a
// new global provider gets its spans.
func tracer() trace.Tracer { return otel.Tracer("mercato.dev/ent/database") }

// tracedDriver wraps an ent driver with OpenTelemetry spans: one client span per statement,
// named "<OPERATION> <table>" ("UPDATE orders"), and one per transaction, from begin to commit
// or rollback, parenting the statements run in it. Spans carry the operation and the table,
// never the query text or its values. A statement or transaction whose context holds no
// recording span starts none: database spans exist only inside a sampled trace, which keeps
// an untraced call free of their cost (with parent-based sampling, the only kind where that
// matters, such a span would not have been sampled anyway).
type tracedDriver struct {
	dialect.Driver
	system string
}

// Traced wraps drv with spans (see tracedDriver).
func Traced(drv dialect.Driver) dialect.Driver {
	system := "sqlite"
	if drv.Dialect() == dialect.Postgres {
		system = "postgresql"
	}
	return &tracedDriver{Driver: drv, system: system}
}

func (d *tracedDriver) Exec(ctx context.Context, query string, args, v any) error {
	ctx, span := d.start(ctx, query)
	return end(span, d.Driver.Exec(ctx, query, args, v))
}

func (d *tracedDriver) Query(ctx context.Context, query string, args, v any) error {
	ctx, span := d.start(ctx, query)
	return end(span, d.Driver.Query(ctx, query, args, v))
}

// ExecContext serves ent's client.ExecContext (raw statements).
func (d *tracedDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ex, ok := d.Driver.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	})
	if !ok {
		return nil, errors.New("database: driver has no ExecContext")
	}
	ctx, span := d.start(ctx, query)
	res, err := ex.ExecContext(ctx, query, args...)
	return res, end(span, err)
}

// QueryContext serves ent's client.QueryContext (raw queries).
func (d *tracedDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q, ok := d.Driver.(interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	})
	if !ok {
		return nil, errors.New("database: driver has no QueryContext")
	}
	ctx, span := d.start(ctx, query)
	rows, err := q.QueryContext(ctx, query, args...)
	return rows, end(span, err)
}

func (d *tracedDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	return d.BeginTx(ctx, nil)
}

// BeginTx starts a transaction and its span.
func (d *tracedDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	b, ok := d.Driver.(interface {
		BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error)
	})
	if !ok {
		return nil, errors.New("database: driver has no BeginTx")
	}
	var span trace.Span
	if trace.SpanFromContext(ctx).IsRecording() {
		ctx, span = tracer().Start(ctx, "db.transaction", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("db.system.name", d.system)))
	}
	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		if span != nil {
			_ = end(span, err)
		}
		return nil, err
	}
	if span == nil {
		return tx, nil
	}
	return &tracedTx{Tx: tx, d: d, span: span}, nil
}

// tracedTx parents its statements' spans and ends its own at commit or rollback.
type tracedTx struct {
	dialect.Tx
	d    *tracedDriver
	span trace.Span
	ops  []string // "INSERT orders", in order, without repeats in a row
}

// under is ctx with the transaction's span as the parent of the statement about to run.
func (t *tracedTx) under(ctx context.Context, query string) (context.Context, trace.Span) {
	op, table := Operation(query)
	if name := strings.TrimSpace(op + " " + table); len(t.ops) == 0 || t.ops[len(t.ops)-1] != name {
		t.ops = append(t.ops, name)
	}
	return t.d.start(trace.ContextWithSpan(ctx, t.span), query)
}

func (t *tracedTx) Exec(ctx context.Context, query string, args, v any) error {
	ctx, span := t.under(ctx, query)
	return end(span, t.Tx.Exec(ctx, query, args, v))
}

func (t *tracedTx) Query(ctx context.Context, query string, args, v any) error {
	ctx, span := t.under(ctx, query)
	return end(span, t.Tx.Query(ctx, query, args, v))
}

// ExecContext serves ent's tx client.ExecContext.
func (t *tracedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ex, ok := t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	})
	if !ok {
		return nil, errors.New("database: transaction has no ExecContext")
	}
	ctx, span := t.under(ctx, query)
	res, err := ex.ExecContext(ctx, query, args...)
	return res, end(span, err)
}

// QueryContext serves ent's tx client.QueryContext.
func (t *tracedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q, ok := t.Tx.(interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	})
	if !ok {
		return nil, errors.New("database: transaction has no QueryContext")
	}
	ctx, span := t.under(ctx, query)
	rows, err := q.QueryContext(ctx, query, args...)
	return rows, end(span, err)
}

func (t *tracedTx) Commit() error   { return t.finish("commit", t.Tx.Commit()) }
func (t *tracedTx) Rollback() error { return t.finish("rollback", t.Tx.Rollback()) }

func (t *tracedTx) finish(outcome string, err error) error {
	t.span.SetAttributes(attribute.String("db.transaction.outcome", outcome),
		attribute.StringSlice("db.operations", t.ops))
	return end(t.span, err)
}

// start begins a statement's span when ctx holds a recording one; the span returned may be nil.
func (d *tracedDriver) start(ctx context.Context, query string) (context.Context, trace.Span) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil
	}
	op, table := Operation(query)
	attrs := []attribute.KeyValue{attribute.String("db.system.name", d.system), attribute.String("db.operation.name", op)}
	if table != "" {
		attrs = append(attrs, attribute.String("db.collection.name", table))
	}
	return tracer().Start(ctx, strings.TrimSpace(op+" "+table), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// end ends span (when there is one) with err's status, and returns err.
func end(span trace.Span, err error) error {
	if span == nil {
		return err
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		span.RecordError(err)
		span.SetStatus(codes.Error, fmt.Sprintf("%T", err)) // the type only: messages may quote values
	}
	span.End()
	return err
}

// Operation returns a statement's operation (SELECT, INSERT, …) and the table it acts on
// ("" when it cannot tell), read from the query text without its values.
func Operation(query string) (op, table string) {
	fields := strings.Fields(query[:min(len(query), 256)])
	if len(fields) == 0 {
		return "", ""
	}
	op = strings.ToUpper(fields[0])
	after := func(keyword string, words []string) string {
		for i, w := range words {
			if strings.EqualFold(w, keyword) && i+1 < len(words) {
				return identifier(words[i+1])
			}
		}
		return ""
	}
	switch op {
	case "INSERT", "REPLACE":
		return op, after("INTO", fields)
	case "UPDATE":
		if len(fields) > 1 {
			return op, identifier(fields[1])
		}
	case "DELETE":
		return op, after("FROM", fields)
	case "SELECT":
		if i := strings.Index(query, " FROM "); i >= 0 {
			if rest := strings.Fields(query[i+6 : min(len(query), i+6+128)]); len(rest) > 0 {
				return op, identifier(rest[0])
			}
		}
	}
	return op, ""
}

// identifier strips quoting and anything after the name (a parenthesis, a comma).
func identifier(s string) string {
	if i := strings.IndexAny(s, "(,;"); i >= 0 {
		s = s[:i]
	}
	return strings.NewReplacer(`"`, "", "`", "").Replace(s)
}
