package rpc

import "testing"

// FuzzPageToken: a page token either is refused or names a SKU the contract allows, and
// encoding that SKU gives a token that decodes to it again. A token smuggling other bytes
// (NUL, invalid UTF-8) into the keyset query would be refused by PostgreSQL as internal.
func FuzzPageToken(f *testing.F) {
	f.Add(encodePageToken("MUG-001"))
	f.Add(encodePageToken("A"))
	f.Add("djE6c2t1Og")
	f.Add("not base64!")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		sku, err := decodePageToken(token)
		if err != nil || sku == "" {
			return
		}
		if !skuPattern.MatchString(sku) {
			t.Fatalf("token %q decoded to SKU %q, which no product can have", token, sku)
		}
		if again, err := decodePageToken(encodePageToken(sku)); err != nil || again != sku {
			t.Fatalf("SKU %q round-trips to %q (%v)", sku, again, err)
		}
	})
}
