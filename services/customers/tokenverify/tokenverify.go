// Package tokenverify checks a Mercato access token against a JWKS document the way a relying
// party (the edge) does, using go-jose — an implementation independent of the customers
// service's own signer — so that tests prove issued tokens verify for anyone, not just for the
// code that made them.
package tokenverify

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Expected values of the JWT contract.
const (
	Issuer   = "mercato.customers"
	Audience = "mercato"
)

// Claims are a verified token's header kid and claims.
type Claims struct {
	Kid      string
	Subject  string
	Roles    []string
	Issuer   string
	Audience []string
	IssuedAt time.Time
	Expiry   time.Time
}

// Verify checks token's ES256 signature with the key of jwks named by its kid, and its issuer,
// audience and lifetime at now (no leeway). It returns the claims of a valid token.
func Verify(jwks []byte, token string, now time.Time) (Claims, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		return Claims{}, fmt.Errorf("parse JWKS: %w", err)
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return Claims{}, fmt.Errorf("parse token: %w", err)
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID == "" {
		return Claims{}, errors.New("token header has no kid")
	}
	kid := tok.Headers[0].KeyID
	keys := set.Key(kid)
	if len(keys) != 1 || keys[0].Algorithm != string(jose.ES256) || keys[0].Use != "sig" {
		return Claims{}, fmt.Errorf("JWKS has no ES256 signing key %q", kid)
	}
	var std jwt.Claims
	var extra struct {
		Roles []string `json:"roles"`
	}
	if err := tok.Claims(keys[0].Key, &std, &extra); err != nil {
		return Claims{}, fmt.Errorf("verify token: %w", err)
	}
	err = std.ValidateWithLeeway(jwt.Expected{Issuer: Issuer, AnyAudience: jwt.Audience{Audience}, Time: now}, 0)
	if err != nil {
		return Claims{}, fmt.Errorf("validate token: %w", err)
	}
	if std.IssuedAt == nil || std.Expiry == nil {
		return Claims{}, errors.New("token lacks iat or exp")
	}
	return Claims{
		Kid: kid, Subject: std.Subject, Roles: extra.Roles, Issuer: std.Issuer, Audience: std.Audience,
		IssuedAt: std.IssuedAt.Time(), Expiry: std.Expiry.Time(),
	}, nil
}
