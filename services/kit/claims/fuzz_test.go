package claims_test

import (
	"reflect"
	"testing"

	"mercato.dev/services/kit/claims"
)

// FuzzDecode: any header value either fails to decode or decodes to claims that survive an
// encode/decode round trip unchanged (what a service believes is what the edge wrote).
func FuzzDecode(f *testing.F) {
	f.Add(claims.Encode(claims.Claims{Subject: "0193f1c2-0000-7000-8000-000000000001", Roles: []string{claims.RoleCustomer}, ExpiresAt: 1900000000}))
	f.Add("eyJzdWIiOiJ4In0=")
	f.Add("eyJzdWIiOjEsInJvbGVzIjoiYWRtaW4ifQ")
	f.Add("%%%")
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := claims.Decode(v)
		if err != nil {
			return
		}
		again, err := claims.Decode(claims.Encode(c))
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("%q decoded to %+v, which round-trips to %+v (%v)", v, c, again, err)
		}
	})
}
