// Package schema holds the ent schema of the payments service's database.
package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"

	"mercato.dev/ent/internal/ids"
)

// Payment is the authorization of an order's amount. There is at most one per order, so a
// retried authorization finds the first one.
type Payment struct {
	ent.Schema
}

// Mixin adds create_time and update_time.
func (Payment) Mixin() []ent.Mixin {
	return []ent.Mixin{mixin.Time{}}
}

// Fields of the Payment.
func (Payment) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(ids.New).Immutable(),
		field.UUID("order_id", uuid.UUID{}).Unique().Immutable(),
		field.UUID("customer_id", uuid.UUID{}).Immutable(),
		field.Int64("amount_minor").NonNegative().Immutable().
			Comment("Amount in minor units of currency (cents)."),
		field.String("currency").MinLen(3).MaxLen(3).Immutable().
			Comment("ISO 4217 code."),
		field.String("payment_method").NotEmpty().MaxLen(255).Immutable(),
		field.Enum("status").Values("authorized", "declined", "voided"),
		field.String("decline_reason").Optional().MaxLen(255),
	}
}

// Indexes of the Payment.
func (Payment) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("customer_id", "create_time"),
	}
}

// Annotations of the Payment.
func (Payment) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Checks(map[string]string{"payment_amount_non_negative": "amount_minor >= 0"}),
	}
}
