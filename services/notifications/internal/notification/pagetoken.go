package notification

import (
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/google/uuid"
)

// pageTokenVersion leads every token, so the format can change without misreading old ones.
const pageTokenVersion = 1

// A cursor's time lies between these: a token with another one was not made by the server.
var (
	minCursorTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxCursorTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// EncodePageToken returns the opaque token of c: base64url of a version byte, the create time in
// Unix microseconds (8 bytes, big-endian) and the ID (16 bytes).
func EncodePageToken(c Cursor) string {
	b := make([]byte, 25)
	b[0] = pageTokenVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(c.CreateTime.UnixMicro()))
	copy(b[9:], c.ID[:])
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodePageToken parses a token from EncodePageToken; "" is the first page (nil).
func DecodePageToken(token string) (*Cursor, error) {
	if token == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != 25 || b[0] != pageTokenVersion {
		return nil, ErrBadPageToken
	}
	id, _ := uuid.FromBytes(b[9:]) // 16 bytes: cannot fail
	at := time.UnixMicro(int64(binary.BigEndian.Uint64(b[1:9]))).UTC()
	if at.Before(minCursorTime) || at.After(maxCursorTime) {
		return nil, ErrBadPageToken // no notification was made then; PostgreSQL could not compare it
	}
	return &Cursor{CreateTime: at, ID: id}, nil
}
