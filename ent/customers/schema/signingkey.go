package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"
)

// SigningKey is an ES256 key of the JWT signer, stored so that keys survive restarts and rotate:
// the newest unretired key signs, and every key still in the JWKS verifies.
type SigningKey struct {
	ent.Schema
}

// Mixin adds create_time.
func (SigningKey) Mixin() []ent.Mixin {
	return []ent.Mixin{mixin.CreateTime{}}
}

// Fields of the SigningKey.
func (SigningKey) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(uuid.New).Immutable(),
		field.String("kid").NotEmpty().MaxLen(128).Unique().Immutable().
			Comment("Key ID, the JWT header's kid."),
		field.Text("private_key_pem").NotEmpty().Sensitive().Immutable().
			Comment("PKCS#8 PEM of the ECDSA P-256 private key."),
		field.Bool("retired").Default(false).
			Comment("A retired key no longer signs; it stays in the JWKS until its tokens expire."),
	}
}
