package notification

import (
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/google/uuid"
)

// pageTokenVersion leads every token, so the format can change without misreading old ones.
const pageTokenVersion = 1

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
	micros := int64(binary.BigEndian.Uint64(b[1:9]))
	return &Cursor{CreateTime: time.UnixMicro(micros).UTC(), ID: id}, nil
}
