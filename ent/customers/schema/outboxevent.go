package schema

import (
	"entgo.io/ent"

	"mercato.dev/ent/internal/outboxschema"
)

// OutboxEvent is a customer event waiting to be published (transactional outbox).
type OutboxEvent struct {
	ent.Schema
}

// Mixin holds the outbox fields shared with the other producing services.
func (OutboxEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{outboxschema.Mixin{}}
}
