package schema

import (
	"entgo.io/ent"

	"mercato.dev/ent/internal/outboxschema"
)

// OutboxEvent is a payment event waiting to be published (transactional outbox).
type OutboxEvent struct {
	ent.Schema
}

// Mixin holds the outbox fields shared with the orders service.
func (OutboxEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{outboxschema.Mixin{}}
}
