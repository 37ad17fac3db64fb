// Command migrategen writes the next versioned migration of every service, for SQLite and for
// PostgreSQL, when its ent schema has changed: it replays the service's migration directory on
// a dev database (in-memory SQLite; a temporary database on the local PostgreSQL server), diffs
// the result against the generated ent schema, and writes the difference as a goose file named
// <timestamp>_<name>.sql. Nothing is written when there is no difference. Run it from the ent
// module's root after the ent code is generated (generate.sh does both).
//
//	go run ./internal/migrategen -name add_order_notes
//
// It refuses to drop columns: a drop (or a rename, which a diff cannot tell from a drop and an
// add) is written by hand as a new migration in both directories; migrategen rehashes atlas.sum
// before diffing, so hand-written files are accepted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"text/template"
	"time"

	"ariga.io/atlas/sql/migrate"
	atlas "ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect/sql/schema"

	customers "mercato.dev/ent/customers/migrate"
	inventory "mercato.dev/ent/inventory/migrate"
	notifications "mercato.dev/ent/notifications/migrate"
	orders "mercato.dev/ent/orders/migrate"
	payments "mercato.dev/ent/payments/migrate"
)

// services maps each service to its generated tables.
var services = []struct {
	name   string
	tables []*schema.Table
}{
	{"customers", customers.Tables},
	{"inventory", inventory.Tables},
	{"notifications", notifications.Tables},
	{"orders", orders.Tables},
	{"payments", payments.Tables},
}

var validName = regexp.MustCompile(`^[a-z0-9_]+$`)

func main() {
	name := flag.String("name", "changes", "name of the new migration files (lower_snake_case)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *name); err != nil {
		fmt.Fprintln(os.Stderr, "migrategen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("invalid migration name %q: want lower_snake_case", name)
	}
	// One version for the whole run, so that both dialects' files of a change share it.
	version := time.Now().UTC().Format("20060102150405")
	for _, d := range []devDB{sqliteDev{}, postgresDev{}} {
		for _, svc := range services {
			dir := filepath.Join(svc.name, "migrate", "migrations", d.dir())
			if err := diff(ctx, d, dir, name, version, svc.tables); err != nil {
				return fmt.Errorf("%s: %w", dir, err)
			}
		}
	}
	return nil
}

// diff writes dir's next migration, if the tables differ from what dir's files build.
func diff(ctx context.Context, d devDB, dir, name, version string, tables []*schema.Table) error {
	gooseDir, err := gooseDir(dir)
	if err != nil {
		return err
	}
	before, err := gooseDir.Files()
	if err != nil {
		return err
	}
	drv, cleanup, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer cleanup()
	m, err := schema.NewMigrate(drv,
		schema.WithDir(gooseDir),
		schema.WithDialect(d.dialect()),
		schema.WithFormatter(formatter(version)),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDropColumn(true), // so that refuseDrops sees them, instead of a silent skip
		schema.WithDropIndex(true),
		schema.WithDiffHook(refuseDrops),
	)
	if err != nil {
		return err
	}
	if err := m.NamedDiff(ctx, name, tables...); err != nil {
		return err
	}
	after, err := gooseDir.Files()
	if err != nil {
		return err
	}
	if len(after) > len(before) {
		fmt.Printf("wrote %s\n", filepath.Join(dir, after[len(after)-1].Name()))
	}
	return nil
}

// gooseDir opens dir, creating it, and rehashes its atlas.sum so that hand-written migrations
// are accepted (the drift test, not the checksum, proves the files right).
func gooseDir(dir string) (*sqltool.GooseDir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	d, err := sqltool.NewGooseDir(dir)
	if err != nil {
		return nil, err
	}
	files, err := d.Files()
	if err != nil || len(files) == 0 {
		return d, err
	}
	sum, err := d.Checksum()
	if err != nil {
		return nil, err
	}
	return d, migrate.WriteSumFile(d, sum)
}

// formatter writes goose files versioned with version, like sqltool.GooseFormatter does with
// the current time.
func formatter(version string) migrate.Formatter {
	f, err := migrate.NewTemplateFormatter(
		mustTemplate(version+"{{ with .Name }}_{{ . }}{{ end }}.sql"),
		mustTemplate(`-- +goose Up
{{ range .Changes }}{{ with .Comment }}-- {{ println . }}{{ end }}{{ printf "%s;\n" .Cmd }}{{ end }}
-- +goose Down
{{ range $c := rev .Changes }}{{ with $stmts := .ReverseStmts }}{{ with $c.Comment }}-- reverse: {{ println . }}{{ end }}{{ range $stmts }}{{ printf "%s;\n" . }}{{ end }}{{ end }}{{ end }}`),
	)
	if err != nil {
		panic(err)
	}
	return f
}

// refuseDrops fails the diff when it would drop a column: renames and drops are never implicit.
func refuseDrops(next schema.Differ) schema.Differ {
	return schema.DiffFunc(func(current, desired *atlas.Schema) ([]atlas.Change, error) {
		changes, err := next.Diff(current, desired)
		if err != nil {
			return nil, err
		}
		var errs []error
		for _, c := range changes {
			mt, ok := c.(*atlas.ModifyTable)
			if !ok {
				continue
			}
			for _, tc := range mt.Changes {
				if dc, ok := tc.(*atlas.DropColumn); ok {
					errs = append(errs, fmt.Errorf("column %s.%s is gone from the schema: write its drop "+
						"(or rename) by hand as a new migration in both dialect directories", mt.T.Name, dc.C.Name))
				}
			}
		}
		return changes, errors.Join(errs...)
	})
}

func mustTemplate(text string) *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{"rev": reverse}).Parse(text))
}

// reverse returns the changes in reverse order, for the Down section.
func reverse(changes []*migrate.Change) []*migrate.Change {
	rev := make([]*migrate.Change, len(changes))
	for i, c := range changes {
		rev[len(changes)-1-i] = c
	}
	return rev
}
