// Package notifications is the generated ent client of the notifications service's database; its schema is in
// ./schema and its versioned migrations in ./migrate/migrations. Regenerate with ent/generate.sh.
package notifications

//go:generate go run mercato.dev/ent/internal/entgen notifications
