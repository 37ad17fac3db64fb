// Package inventory is the generated ent client of the inventory service's database; its schema is in
// ./schema and its versioned migrations in ./migrate/migrations. Regenerate with ent/generate.sh.
package inventory

//go:generate go run mercato.dev/ent/internal/entgen inventory
