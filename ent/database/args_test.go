package database

import (
	"testing"

	"entgo.io/ent/dialect"
)

func TestArgsNumberPlaceholdersPerDialect(t *testing.T) {
	for d, want := range map[string]string{dialect.SQLite: "?1 ?2, ?3, ?4", dialect.Postgres: "$1 $2, $3, $4"} {
		a := NewArgs(d)
		if got := a.Next() + " " + a.List(3); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
}
