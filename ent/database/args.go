package database

import (
	"strconv"
	"strings"

	"entgo.io/ent/dialect"
)

// Args numbers the placeholders of a statement written by hand, in the dialect of its database
// (DB.Dialect, dialect.Driver.Dialect): ?1, ?2 … on SQLite, $1, $2 … on PostgreSQL.
//
//	a := database.NewArgs(db.Dialect())
//	q := `UPDATE "t" SET "v" = ` + a.Next() + ` WHERE "id" = ` + a.Next()
type Args struct {
	postgres bool
	n        int
}

// NewArgs returns the numbering of a statement's placeholders, from 1.
func NewArgs(dialectName string) *Args { return &Args{postgres: dialectName == dialect.Postgres} }

// Next returns the next placeholder.
func (a *Args) Next() string {
	a.n++
	if a.postgres {
		return "$" + strconv.Itoa(a.n)
	}
	return "?" + strconv.Itoa(a.n)
}

// List returns the next n placeholders, comma-separated.
func (a *Args) List(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.Next())
	}
	return b.String()
}
