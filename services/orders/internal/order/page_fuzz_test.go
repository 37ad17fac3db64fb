package order_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"mercato.dev/services/orders/internal/order"
)

// FuzzParseToken: a page token either is refused or holds a cursor within years 1970–9999
// whose own token parses back to the same cursor.
func FuzzParseToken(f *testing.F) {
	f.Add(order.Cursor{CreateTime: time.Date(2026, 12, 7, 1, 2, 3, 4, time.UTC), ID: uuid.MustParse("0193f1c2-0000-7000-8000-000000000001")}.Token())
	f.Add("MDAwMC0wMS0wMVQwMDowMDowMCswMTowMHwwMTkzZjFjMi0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDE")
	f.Add("fA")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := order.ParseToken(token)
		if err != nil || c.IsZero() {
			return
		}
		if y := c.CreateTime.Year(); y < 1970 || y > 9999 {
			t.Fatalf("token %q parsed to a cursor in year %d", token, y)
		}
		again, err := order.ParseToken(c.Token())
		if err != nil || !again.CreateTime.Equal(c.CreateTime) || again.ID != c.ID {
			t.Fatalf("cursor %+v round-trips to %+v (%v)", c, again, err)
		}
	})
}
