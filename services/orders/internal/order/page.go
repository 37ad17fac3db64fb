package order

import (
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ErrBadPageToken: the page token was not issued by this service.
var ErrBadPageToken = errors.New("invalid page token")

// Page asks for one page of a customer's orders, newest first.
type Page struct {
	CustomerID uuid.UUID
	Size       int    // 1 to 100
	After      Cursor // zero for the first page
}

// Cursor is where a page ends: the last order's create time and ID.
type Cursor struct {
	CreateTime time.Time
	ID         uuid.UUID
}

// IsZero reports whether c is the start of the list.
func (c Cursor) IsZero() bool { return c.ID == uuid.Nil }

// Token is c as an opaque page token.
func (c Cursor) Token() string {
	if c.IsZero() {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreateTime.UTC().Format(time.RFC3339Nano) + "|" + c.ID.String()))
}

// ParseToken reads a token made by Cursor.Token; the empty token is the zero cursor.
func ParseToken(token string) (Cursor, error) {
	if token == "" {
		return Cursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return Cursor{}, ErrBadPageToken
	}
	ts, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return Cursor{}, ErrBadPageToken
	}
	t, err1 := time.Parse(time.RFC3339Nano, ts)
	u, err2 := uuid.Parse(id)
	if err1 != nil || err2 != nil || u == uuid.Nil {
		return Cursor{}, ErrBadPageToken
	}
	if y := t.UTC().Year(); y < 1970 || y > 9999 { // not made by the server; not comparable in PostgreSQL
		return Cursor{}, ErrBadPageToken
	}
	return Cursor{CreateTime: Now(t), ID: u}, nil
}
