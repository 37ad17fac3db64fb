package rpc_test

import (
	"mercato.dev/ent/database"
	ent "mercato.dev/ent/inventory"
	"mercato.dev/services/inventory/internal/store"
)

// servingStore is the store BenchmarkServing serves from, built as cmd/inventory builds it.
// `make bench` runs BenchmarkServing in a baseline tree too: where that tree has no such file it
// writes one building the store the way the baseline did (ops/cmd/bench, baselineServingStore).
func servingStore(db *database.DB) *store.Store {
	drv := db.Driver()
	return store.New(ent.NewClient(ent.Driver(drv)), store.WithDriver(drv))
}
