// Package schema holds the ent schema of the inventory service's database.
package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"
)

// Product is a sellable item and its stock.
//
// Stock moves only through a guarded update,
// UPDATE products SET available = available - n WHERE id = ? AND available >= n,
// and a CHECK keeps available from ever going negative.
type Product struct {
	ent.Schema
}

// Mixin adds create_time and update_time.
func (Product) Mixin() []ent.Mixin {
	return []ent.Mixin{mixin.Time{}}
}

// Fields of the Product.
func (Product) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(uuid.New).Immutable(),
		field.String("sku").NotEmpty().MaxLen(64).Unique(),
		field.String("name").NotEmpty().MaxLen(200),
		field.Text("description").Default(""),
		field.Int64("price_minor").NonNegative().
			Comment("Unit price in minor units of currency (cents)."),
		field.String("currency").MinLen(3).MaxLen(3).
			Comment("ISO 4217 code."),
		field.Int64("available").NonNegative().Default(0).
			Comment("Units in stock and not reserved."),
		field.Int64("version").Default(0).
			Comment("Incremented on every change, for optimistic concurrency."),
	}
}

// Edges of the Product.
func (Product) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("reservations", Reservation.Type),
		edge.To("adjustments", StockAdjustment.Type),
	}
}

// Annotations of the Product.
func (Product) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Checks(map[string]string{
			"product_available_non_negative": "available >= 0",
			"product_price_non_negative":     "price_minor >= 0",
		}),
	}
}
