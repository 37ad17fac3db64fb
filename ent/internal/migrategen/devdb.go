package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver
	_ "modernc.org/sqlite"             // "sqlite" driver

	"mercato.dev/ent/database"
	"mercato.dev/ent/internal/pgtemp"
)

// devDB is an empty database of one dialect on which migration directories are replayed.
type devDB interface {
	dialect() string
	dir() string // the dialect's directory in a service's migrations
	open(ctx context.Context) (drv dialect.Driver, cleanup func(), err error)
}

// sqliteDev is an in-memory SQLite database.
type sqliteDev struct{}

func (sqliteDev) dialect() string { return dialect.SQLite }
func (sqliteDev) dir() string     { return database.SQLiteDir }

func (sqliteDev) open(ctx context.Context) (dialect.Driver, func(), error) {
	db, err := sql.Open("sqlite", ":memory:?_pragma=foreign_keys(1)")
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(1) // every connection would be another in-memory database
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, err
	}
	return entsql.OpenDB(dialect.SQLite, db), func() { db.Close() }, nil
}

// postgresDev is a temporary database on the local PostgreSQL server (pgtemp.ServerURL).
type postgresDev struct{}

func (postgresDev) dialect() string { return dialect.Postgres }
func (postgresDev) dir() string     { return database.PostgresDir }

func (postgresDev) open(ctx context.Context) (dialect.Driver, func(), error) {
	dbURL, drop, err := pgtemp.Create(ctx, pgtemp.ServerURL(), "mercato_migrategen")
	if err != nil {
		return nil, nil, err
	}
	// Schema scope: statements are written unqualified, for whatever schema the service uses.
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, nil, err
	}
	q := u.Query()
	q.Set("search_path", "public")
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() {
		db.Close()
		if err := drop(context.WithoutCancel(ctx)); err != nil {
			fmt.Println("migrategen: dropping dev database:", err)
		}
	}
	return entsql.OpenDB(dialect.Postgres, db), cleanup, nil
}
