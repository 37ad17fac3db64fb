// Package payments is the generated ent client of the payments service's database; its schema is in
// ./schema and its versioned migrations in ./migrate/migrations. Regenerate with ent/generate.sh.
package payments

//go:generate go run mercato.dev/ent/internal/entgen payments
