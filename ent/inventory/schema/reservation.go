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

// Reservation is stock held for an order. It is keyed by (order, product), so a retried
// reservation is a no-op, and it is written in the same transaction as the guarded stock update,
// with the unit price the product had in that transaction (what the order is priced at).
type Reservation struct {
	ent.Schema
}

// Mixin adds create_time and update_time.
func (Reservation) Mixin() []ent.Mixin {
	return []ent.Mixin{mixin.Time{}}
}

// Fields of the Reservation.
func (Reservation) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(ids.New).Immutable(),
		field.UUID("order_id", uuid.UUID{}).Immutable(),
		field.UUID("product_id", uuid.UUID{}).Immutable(),
		field.Int64("quantity").Positive().Immutable(),
		field.Enum("state").Values("reserved", "released").Default("reserved"),
		field.Int64("unit_price_minor").Optional().Nillable().Immutable().
			Comment("The product's unit price when the stock was reserved, read in the same transaction (a copy of products.price_minor, which a CHECK keeps non-negative); null for rows reserved before prices were stored."),
		field.String("currency").MinLen(3).MaxLen(3).Optional().Nillable().Immutable().
			Comment("ISO 4217 code of unit_price_minor."),
	}
}

// Edges of the Reservation.
func (Reservation) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("product", Product.Type).Ref("reservations").
			Field("product_id").Unique().Required().Immutable(),
	}
}

// Indexes of the Reservation.
func (Reservation) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("order_id", "product_id").Unique(),
	}
}

// Annotations of the Reservation.
func (Reservation) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Checks(map[string]string{"reservation_quantity_positive": "quantity > 0"}),
	}
}
