// Package schema holds the ent schema of the orders service's database.
package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"

	"mercato.dev/ent/internal/ids"
)

// Order is a customer's order and the state of the saga that carries it out. The saga is
// persisted step by step; a process drives it only while it holds the lease.
type Order struct {
	ent.Schema
}

// Mixin adds create_time and update_time.
func (Order) Mixin() []ent.Mixin {
	return []ent.Mixin{mixin.Time{}}
}

// Fields of the Order.
func (Order) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(ids.New).Immutable(),
		field.UUID("customer_id", uuid.UUID{}).Immutable(),
		field.String("idempotency_key").NotEmpty().MaxLen(255).Immutable().
			Comment("Client-chosen key, unique per customer: a retried CreateOrder finds this order."),
		field.String("request_hash").NotEmpty().MaxLen(64).Immutable().
			Comment("Hex SHA-256 of the canonical request: the same key with another body is refused."),
		field.Enum("status").Values("pending", "confirmed", "rejected", "canceled").Default("pending"),
		field.String("reject_reason").Optional().MaxLen(64).
			Comment("Why the order was rejected, as the name of the API's reason enum."),
		field.String("reject_message").Optional().MaxLen(500).
			Comment("A human-readable detail of the rejection (never a raw dependency error)."),
		field.String("payment_method").Default("").MaxLen(100).Immutable().
			Comment("The payment method token of the request: a saga resumed after a crash authorizes with it."),
		field.String("cancel_reason").Optional().MaxLen(500).
			Comment("Why the customer or an admin canceled the order."),
		field.Int64("total_minor").NonNegative().
			Comment("Order total in minor units of currency (cents)."),
		field.String("currency").MinLen(3).MaxLen(3).
			Comment("ISO 4217 code."),
		field.Enum("saga_step").
			Values("created", "customer_checked", "priced", "stock_reserved",
				"payment_authorized", "confirmed", "compensating", "done").
			Default("created").
			Comment("The last step the saga completed."),
		field.UUID("payment_id", uuid.UUID{}).Optional().Nillable().
			Comment("The payments service's payment, once authorized."),
		field.String("lease_owner").Optional().MaxLen(255).
			Comment("The process driving the saga."),
		field.Time("lease_expires_at").Optional().Nillable().
			Comment("When another process may take the saga over."),
		field.Int("attempts").NonNegative().Default(0),
	}
}

// Edges of the Order.
func (Order) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("items", OrderItem.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the Order.
func (Order) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("customer_id", "idempotency_key").Unique(),
		index.Fields("status", "lease_expires_at"),
		index.Fields("customer_id", "create_time"),
	}
}

// Annotations of the Order.
func (Order) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Checks(map[string]string{"order_total_non_negative": "total_minor >= 0"}),
	}
}
