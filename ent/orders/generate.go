// Package orders is the generated ent client of the orders service's database; its schema is in
// ./schema and its versioned migrations in ./migrate/migrations. Regenerate with ent/generate.sh.
package orders

//go:generate go run mercato.dev/ent/internal/entgen orders
