package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"

	"mercato.dev/ent/internal/ids"
)

// StockAdjustment records an administrative change of a product's stock (a delivery, a count).
type StockAdjustment struct {
	ent.Schema
}

// Mixin adds create_time.
func (StockAdjustment) Mixin() []ent.Mixin {
	return []ent.Mixin{mixin.CreateTime{}}
}

// Fields of the StockAdjustment.
func (StockAdjustment) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(ids.New).Immutable(),
		field.UUID("product_id", uuid.UUID{}).Immutable(),
		field.Int64("delta").Immutable().
			Comment("Units added (positive) or removed (negative)."),
		field.String("reason").MaxLen(500).Default("").Immutable(),
	}
}

// Edges of the StockAdjustment.
func (StockAdjustment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("product", Product.Type).Ref("adjustments").
			Field("product_id").Unique().Required().Immutable(),
	}
}

// Indexes of the StockAdjustment.
func (StockAdjustment) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("product_id", "create_time"),
	}
}
