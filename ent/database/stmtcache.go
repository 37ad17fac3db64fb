package database

import (
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
)

// maxCachedStmts bounds each SQLite connection's statement cache. ent writes a fixed set of
// statement shapes (IN lists vary with their length), so a service uses a few dozen.
const maxCachedStmts = 128

// sqliteConnector opens SQLite connections that keep their prepared statements: SQLite compiles
// every statement text it is given, and without a cache that compilation is redone for every
// query (about a fifth of a service's CPU under load). database/sql caches nothing unless the
// program prepares statements itself, which ent does not.
type sqliteConnector struct {
	drv driver.Driver
	dsn string
}

func (c sqliteConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn)
}

func (c sqliteConnector) Driver() driver.Driver { return c.drv }

// sqliteConn is the part of modernc.org/sqlite's connection that database/sql uses.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is a SQLite connection with a cache of prepared statements by text. database/sql
// uses a connection from one goroutine at a time; a statement whose rows are still open (a
// second query with the same text inside one transaction) is not reused: that query prepares
// its own.
type cachingConn struct {
	sqliteConn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	stmt interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	}
	busy bool // its rows are open
}

func newCachingConn(c driver.Conn) (driver.Conn, error) {
	sc, ok := c.(sqliteConn)
	if !ok {
		_ = c.Close()
		return nil, errors.New("database: the SQLite driver's connection lacks " + reflect.TypeFor[sqliteConn]().String())
	}
	return &cachingConn{sqliteConn: sc, stmts: map[string]*cachedStmt{}}, nil
}

// stmt returns the cached statement for query, preparing and caching it if needed; nil when it
// is busy (the caller then runs the query uncached).
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if s, ok := c.stmts[query]; ok {
		if s.busy {
			return nil, nil
		}
		return s, nil
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	full, ok := st.(interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	})
	if !ok {
		_ = st.Close()
		return nil, errors.New("database: the SQLite driver's statement lacks context methods")
	}
	s := &cachedStmt{stmt: full}
	if len(c.stmts) >= maxCachedStmts {
		c.evict()
	}
	c.stmts[query] = s
	return s, nil
}

// evict drops one idle statement (any: the cache only bounds memory).
func (c *cachingConn) evict() {
	for q, s := range c.stmts {
		if !s.busy {
			_ = s.stmt.Close()
			delete(c.stmts, q)
			return
		}
	}
}

// statementContext is the context a statement runs with: ctx without its cancellation, or
// ctx's error when it has ended already. The SQLite driver starts a goroutine per statement and
// per BEGIN to interrupt it when its context ends; the statements here run in-process for
// microseconds, and that goroutine is about a twentieth of a point read (GetProduct's read by
// primary key, BenchmarkProduct in services/inventory: 19.6 → 18.7 µs, medians of 5
// interleaved runs). Cancellation keeps its effect where it matters:
// database/sql waits for a connection only while the context lasts, closes a query's rows and
// rolls a transaction back when it ends, and checks it before each statement. A statement
// already running is no longer cut short; a wait for another process's file lock inside one
// is bounded by busy_timeout.
func statementContext(ctx context.Context) (context.Context, error) {
	if ctx.Done() == nil {
		return ctx, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}

// BeginTx begins a transaction; see statementContext.
func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	ctx, err := statementContext(ctx)
	if err != nil {
		return nil, err
	}
	return c.sqliteConn.BeginTx(ctx, opts)
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ctx, err := statementContext(ctx)
	if err != nil {
		return nil, err
	}
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.execOnce(ctx, query, args)
	}
	return s.stmt.ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	ctx, err := statementContext(ctx)
	if err != nil {
		return nil, err
	}
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.queryOnce(ctx, query, args)
	}
	rows, err := s.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	s.busy = true
	return &cachedRows{Rows: rows, release: func() { s.busy = false }}, nil
}

func (c *cachingConn) execOnce(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := c.sqliteConn.(driver.ExecerContext); ok {
		return e.ExecContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *cachingConn) queryOnce(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := c.sqliteConn.(driver.QueryerContext); ok {
		return q.QueryContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

// Close finalizes the cached statements, then closes the connection.
func (c *cachingConn) Close() error {
	var errs []error
	for q, s := range c.stmts {
		errs = append(errs, s.stmt.Close())
		delete(c.stmts, q)
	}
	return errors.Join(append(errs, c.sqliteConn.Close())...)
}

// cachedRows hands its statement back to the cache when closed, and passes on the column type
// information the driver's rows give.
type cachedRows struct {
	driver.Rows
	release func()
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close() // resets the statement for its next use
	if r.release != nil {
		r.release()
		r.release = nil
	}
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
