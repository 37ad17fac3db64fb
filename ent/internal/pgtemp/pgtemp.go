// Package pgtemp creates and drops throwaway databases on a PostgreSQL server: the fresh
// databases of tests (dbtest) and the dev database of the migration generator (migrategen).
package pgtemp

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// StartHint tells a developer how to bring the local server up.
const StartHint = "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, " +
	"or point MERCATO_TEST_POSTGRES_URL (or PGHOST, PGPORT, PGUSER) at a server where you may create databases"

// ServerURL returns the URL of the server's maintenance database: $MERCATO_TEST_POSTGRES_URL
// when set, otherwise one built from PGHOST, PGPORT and PGUSER (defaults 127.0.0.1, 5432 and
// postgres; a PGHOST starting with "/" is a unix socket directory). pgx reads PGPASSWORD itself.
func ServerURL() string {
	if u := os.Getenv("MERCATO_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	host, port, user := env("PGHOST", "127.0.0.1"), env("PGPORT", "5432"), env("PGUSER", "postgres")
	u := url.URL{Scheme: "postgres", User: url.User(user), Path: "/postgres", RawQuery: "sslmode=disable"}
	if strings.HasPrefix(host, "/") {
		u.RawQuery += "&host=" + url.QueryEscape(host) + "&port=" + url.QueryEscape(port)
	} else {
		u.Host = host + ":" + port
	}
	return u.String()
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

var validPrefix = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)

// Create creates a database with a unique name starting with prefix on the server at serverURL,
// and returns its URL and a function that drops it (terminating its remaining sessions).
func Create(ctx context.Context, serverURL, prefix string) (dbURL string, drop func(context.Context) error, err error) {
	if !validPrefix.MatchString(prefix) {
		return "", nil, fmt.Errorf("invalid database name prefix %q", prefix)
	}
	name := prefix + "_" + randomHex(8)
	dbURL, err = withDatabase(serverURL, name)
	if err != nil {
		return "", nil, err
	}
	if err := exec(ctx, serverURL, `CREATE DATABASE "`+name+`"`); err != nil {
		return "", nil, err
	}
	drop = func(ctx context.Context) error {
		return exec(ctx, serverURL, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
	}
	return dbURL, drop, nil
}

// exec runs one statement on a short-lived connection to the server.
func exec(ctx context.Context, serverURL, stmt string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", serverURL)
	if err != nil {
		return fmt.Errorf("postgres at %s: %w", redact(serverURL), err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("postgres at %s is not reachable (%w); %s", redact(serverURL), err, StartHint)
	}
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("postgres at %s: %s: %w", redact(serverURL), stmt, err)
	}
	return nil
}

// withDatabase returns serverURL with its database replaced by name.
func withDatabase(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("server URL must be a postgres:// URL")
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}

// DatabaseName returns the database a postgres:// URL names.
func DatabaseName(dbURL string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("not a postgres:// URL")
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return "", errors.New("the URL names no database")
	}
	return name, nil
}
