package rpc

import (
	"encoding/json"
	"net/http"

	"mercato.dev/services/customers/internal/token"
)

// jwksMaxAge is how long the edge may cache the JWKS; the keyring publishes a new key for
// longer than this (plus its reload interval) before signing with it.
const jwksMaxAge = "max-age=300"

// JWKSHandler serves GET /.well-known/jwks.json: the RFC 7517 key set of every unretired key.
func JWKSHandler(keys *token.Keyring) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != JWKSPath {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := json.Marshal(keys.JWKS())
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", jwksMaxAge)
		_, _ = w.Write(body)
	})
}
