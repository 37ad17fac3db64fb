package database_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"ariga.io/atlas/sql/migrate"
	atlaspg "ariga.io/atlas/sql/postgres"
	atlas "ariga.io/atlas/sql/schema"
	atlassqlite "ariga.io/atlas/sql/sqlite"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"

	customers "mercato.dev/ent/customers/migrate"
	"mercato.dev/ent/database"
	"mercato.dev/ent/dbtest"
	inventory "mercato.dev/ent/inventory/migrate"
	notifications "mercato.dev/ent/notifications/migrate"
	orders "mercato.dev/ent/orders/migrate"
	payments "mercato.dev/ent/payments/migrate"
)

// services lists every service's generated tables and embedded migrations.
var services = []struct {
	name       string
	tables     []*schema.Table
	migrations database.Migrations
}{
	{"customers", customers.Tables, customers.Migrations},
	{"inventory", inventory.Tables, inventory.Migrations},
	{"notifications", notifications.Tables, notifications.Migrations},
	{"orders", orders.Tables, orders.Migrations},
	{"payments", payments.Tables, payments.Migrations},
}

// TestMigrationsMatchSchema applies each service's migrations to a fresh database and fails
// when its ent schema asks for any change: a schema edited without a migration (run
// ent/generate.sh), or a migration the schema does not describe.
func TestMigrationsMatchSchema(t *testing.T) {
	t.Parallel()
	for _, svc := range services {
		t.Run(svc.name, func(t *testing.T) {
			t.Parallel()
			// Sequential inside: ent's migrate mutates the shared table definitions.
			dbtest.Each(t, func(t *testing.T, url string) {
				db := dbtest.Open(t, url, svc.migrations)
				stmts := append(pendingChanges(t, db, svc.tables), checkChanges(t, db, svc.tables)...)
				if len(stmts) > 0 {
					t.Errorf("the ent schema of %s differs from its %s migrations; run ent/generate.sh "+
						"(or write the migration by hand). Missing statements:\n%s",
						svc.name, db.Dialect(), strings.Join(stmts, ";\n"))
				}
				want := []string{"goose_db_version"}
				for _, tbl := range svc.tables {
					want = append(want, tbl.Name)
				}
				slices.Sort(want)
				if got := tableNames(t, db); !slices.Equal(got, want) {
					t.Errorf("tables after migrating %s: got %v, want %v", svc.name, got, want)
				}
			})
		})
	}
}

// pendingChanges returns the statements ent would run to bring db to tables, drops included.
func pendingChanges(t *testing.T, db *database.DB, tables []*schema.Table) []string {
	t.Helper()
	var stmts []string
	capture := func(schema.Applier) schema.Applier {
		return schema.ApplyFunc(func(_ context.Context, _ dialect.ExecQuerier, plan *migrate.Plan) error {
			for _, c := range plan.Changes {
				stmts = append(stmts, c.Cmd)
			}
			return nil // record, never apply
		})
	}
	m, err := schema.NewMigrate(entsql.OpenDB(db.Dialect(), db.SQL()),
		schema.WithDropColumn(true), schema.WithDropIndex(true), schema.WithApplyHook(capture))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Create(t.Context(), tables...); err != nil {
		t.Fatal(err)
	}
	return stmts
}

// checkChanges compares the expressions of the named CHECK constraints, which the diff above
// matches by name only.
func checkChanges(t *testing.T, db *database.DB, tables []*schema.Table) []string {
	t.Helper()
	var (
		drv migrate.Driver
		err error
	)
	if db.Dialect() == dialect.Postgres {
		drv, err = atlaspg.Open(db.SQL())
	} else {
		drv, err = atlassqlite.Open(db.SQL())
	}
	if err != nil {
		t.Fatal(err)
	}
	current, err := drv.InspectSchema(t.Context(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, tbl := range tables {
		if tbl.Annotation == nil {
			continue
		}
		got := map[string]string{}
		if ct, ok := current.Table(tbl.Name); ok {
			for _, a := range ct.Attrs {
				if c, ok := a.(*atlas.Check); ok {
					got[c.Name] = c.Expr
				}
			}
		}
		for name, expr := range tbl.Annotation.Checks {
			if normalizeExpr(got[name]) != normalizeExpr(expr) {
				changes = append(changes, fmt.Sprintf("-- table %s: CHECK %s is (%s), want (%s)", tbl.Name, name, got[name], expr))
			}
		}
	}
	return changes
}

// normalizeExpr drops what databases add when they store an expression: case, spacing,
// parentheses and PostgreSQL's type casts ("(email)::text").
func normalizeExpr(expr string) string {
	expr = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '(' || r == ')' {
			return -1
		}
		return unicode.ToLower(r)
	}, expr)
	return pgCast.ReplaceAllString(expr, "")
}

var pgCast = regexp.MustCompile(`::[a-z_]+`)

func tableNames(t *testing.T, db *database.DB) []string {
	t.Helper()
	query := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	if db.Dialect() == dialect.Postgres {
		query = `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`
	}
	rows, err := db.SQL().QueryContext(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}
