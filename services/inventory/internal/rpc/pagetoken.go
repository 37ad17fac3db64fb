package rpc

import (
	"encoding/base64"
	"regexp"
	"strings"
)

// Page tokens are opaque to clients: base64url of a versioned cursor, the last SKU of the page
// (keyset pagination: the next page starts after it, however the catalog changed meanwhile).
const cursorPrefix = "v1:sku:"

// skuPattern is the contract's rule for a SKU (CreateProductRequest.sku).
var skuPattern = regexp.MustCompile(`^[A-Z0-9-]{1,64}$`)

func encodePageToken(lastSKU string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + lastSKU))
}

// decodePageToken returns the SKU to list after; "" for the first page.
func decodePageToken(token string) (string, error) {
	if token == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	sku, ok := strings.CutPrefix(string(raw), cursorPrefix)
	// Only a SKU the contract allows: anything else (NUL, invalid UTF-8) was not made by the
	// server, and PostgreSQL would refuse it in the keyset query.
	if err != nil || !ok || !skuPattern.MatchString(sku) {
		return "", invalidField("page_token", "page_token.valid", "not a page token of ListProducts")
	}
	return sku, nil
}
