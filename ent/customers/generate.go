// Package customers is the generated ent client of the customers service's database; its schema is in
// ./schema and its versioned migrations in ./migrate/migrations. Regenerate with ent/generate.sh.
package customers

//go:generate go run mercato.dev/ent/internal/entgen customers
