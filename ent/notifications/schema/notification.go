// Package schema holds the ent schema of the notifications service's database.
package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"

	"mercato.dev/ent/internal/ids"
)

// Notification is the record of one message sent to a customer (the stand-in for an email),
// one per consumed event: the unique event ID makes a redelivered event a no-op.
type Notification struct {
	ent.Schema
}

// Mixin adds create_time.
func (Notification) Mixin() []ent.Mixin {
	return []ent.Mixin{mixin.CreateTime{}}
}

// Fields of the Notification.
func (Notification) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(ids.New).Immutable(),
		field.UUID("event_id", uuid.UUID{}).Unique().Immutable().
			Comment("The consumed event's ID (its Nats-Msg-Id)."),
		field.UUID("customer_id", uuid.UUID{}).Immutable(),
		field.UUID("order_id", uuid.UUID{}).Immutable(),
		field.String("kind").NotEmpty().MaxLen(64).Immutable().
			Comment("What happened, e.g. order_confirmed."),
		field.String("subject").MaxLen(255).Immutable(),
		field.Text("body").Immutable(),
	}
}

// Indexes of the Notification.
func (Notification) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("customer_id", "create_time"),
	}
}
