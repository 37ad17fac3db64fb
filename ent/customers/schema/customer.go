// Package schema holds the ent schema of the customers service's database.
package schema

import (
	"errors"
	"strings"

	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"
)

// Customer is a registered shopper or administrator.
type Customer struct {
	ent.Schema
}

// Mixin adds create_time and update_time.
func (Customer) Mixin() []ent.Mixin {
	return []ent.Mixin{mixin.Time{}}
}

// Fields of the Customer.
func (Customer) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(uuid.New).Immutable(),
		field.String("email").NotEmpty().MaxLen(320).Unique().Validate(lowerCase).
			Comment("Stored lower-cased: callers normalise it, the validator and a CHECK enforce it."),
		field.String("display_name").MaxLen(200).Default(""),
		field.String("password_hash").NotEmpty().Sensitive(),
		field.Strings("roles").Default([]string{"customer"}).
			Comment("JWT roles: customer and possibly admin."),
		field.Enum("status").Values("active", "inactive").Default("active"),
	}
}

// Annotations of the Customer.
func (Customer) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Checks(map[string]string{"customer_email_lower": "email = lower(email)"}),
	}
}

var errNotLowerCase = errors.New("email must be lower-cased")

func lowerCase(email string) error {
	if email != strings.ToLower(email) {
		return errNotLowerCase
	}
	return nil
}
