// Package outboxschema defines the transactional outbox table that the orders and payments
// schemas share: every state change writes one row in the same transaction, and a relay claims
// rows by status (never by "id > last seen", which loses rows committed out of order), publishes
// them with the row ID as Nats-Msg-Id, and marks them sent.
package outboxschema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"

	"mercato.dev/ent/internal/ids"
)

// Mixin holds the fields and indexes of an OutboxEvent schema.
type Mixin struct {
	mixin.Schema
}

// Fields of an outbox event.
func (Mixin) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(ids.New).Immutable().
			Comment("Event ID, published as Nats-Msg-Id and used by consumers for deduplication."),
		field.String("subject").NotEmpty().MaxLen(255).Immutable().
			Comment("JetStream subject the event is published to."),
		field.Bytes("payload").Immutable().
			Comment("The protobuf-encoded event message."),
		field.JSON("headers", map[string]string{}).Optional().
			Comment("Message headers to publish with the event, such as the W3C trace context."),
		field.Enum("status").Values("pending", "claimed", "sent").Default("pending"),
		field.String("claimed_by").Optional().MaxLen(255).
			Comment("The relay instance holding the claim."),
		field.Time("claimed_until").Optional().Nillable().
			Comment("When the claim expires and another relay may take the event over."),
		field.Int("attempts").NonNegative().Default(0),
		field.Time("create_time").Default(time.Now).Immutable(),
		field.Time("sent_time").Optional().Nillable(),
	}
}

// Indexes of an outbox event: the relay claims pending (or expired) rows oldest first.
func (Mixin) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("status", "create_time"),
	}
}
