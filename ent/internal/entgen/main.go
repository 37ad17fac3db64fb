// Command entgen generates the ent client of each service from its schema package:
// ent/<service>/schema → ent/<service>. Run it from the ent module's root (generate.sh does).
//
//	go run ./internal/entgen            # every service
//	go run ./internal/entgen orders     # one service
package main

import (
	"fmt"
	"os"
	"slices"

	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
)

// Services lists the ent packages this module generates.
var services = []string{"customers", "inventory", "notifications", "orders", "payments"}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "entgen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	targets := services
	if len(args) > 0 {
		targets = args
	}
	for _, svc := range targets {
		if !slices.Contains(services, svc) {
			return fmt.Errorf("unknown service %q (known: %v)", svc, services)
		}
		if err := generate(svc); err != nil {
			return fmt.Errorf("%s: %w", svc, err)
		}
	}
	return nil
}

func generate(svc string) error {
	return entc.Generate("./"+svc+"/schema", &gen.Config{
		Target:  "./" + svc,
		Package: "mercato.dev/ent/" + svc,
		Features: []gen.Feature{
			gen.FeatureUpsert,             // OnConflict: idempotent inserts (event IDs, reservations)
			gen.FeatureLock,               // ForUpdate/ForShare on PostgreSQL
			gen.FeatureExecQuery,          // ExecContext/QueryContext for the odd hand-written statement
			gen.FeatureModifier,           // Modify: custom UPDATE expressions and selections
			gen.FeatureVersionedMigration, // migrate.NamedDiff, used by internal/migrategen
		},
	})
}
