package notification_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"mercato.dev/services/notifications/internal/notification"
)

// FuzzPageToken: a page token either is refused or holds a cursor the databases can compare
// against (a time within years 1970–9999) that round-trips through EncodePageToken.
func FuzzPageToken(f *testing.F) {
	f.Add(notification.EncodePageToken(notification.Cursor{CreateTime: time.Date(2026, 12, 7, 1, 2, 3, 456000, time.UTC), ID: uuid.MustParse("0193f1c2-0000-7000-8000-000000000001")}))
	f.Add("AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("AX__________AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := notification.DecodePageToken(token)
		if err != nil || c == nil {
			return
		}
		if y := c.CreateTime.Year(); y < 1970 || y > 9999 {
			t.Fatalf("token %q decoded to a cursor in year %d", token, y)
		}
		again, err := notification.DecodePageToken(notification.EncodePageToken(*c))
		if err != nil || !again.CreateTime.Equal(c.CreateTime) || again.ID != c.ID {
			t.Fatalf("cursor %+v round-trips to %+v (%v)", c, again, err)
		}
	})
}
