package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"
)

// OrderHold is one row per order that ever reserved or released stock, keyed by the order ID.
// Reserve inserts it (state reserved, or nothing if present) and Release upserts it to released,
// each as the first write of its transaction. The shared key serializes the two (on PostgreSQL
// the second waits on the first's row lock), so a reservation that lands after its order was
// released is refused instead of holding stock forever.
type OrderHold struct {
	ent.Schema
}

// Mixin adds create_time and update_time.
func (OrderHold) Mixin() []ent.Mixin {
	return []ent.Mixin{mixin.Time{}}
}

// Fields of the OrderHold.
func (OrderHold) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Immutable().Comment("The order's ID."),
		field.Enum("state").Values("reserved", "released").Default("reserved"),
	}
}
