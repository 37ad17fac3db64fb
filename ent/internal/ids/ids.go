// Package ids makes the primary keys of the services' rows.
package ids

import "github.com/google/uuid"

// New returns a UUIDv7: its first 48 bits are the time in milliseconds, so rows created one after
// another land at the end of their primary-key index, on the page the previous insert dirtied,
// instead of on a random page of it (a random version 4 key dirties a page of its own in every
// commit, which SQLite writes to its WAL and copies back at the next checkpoint). The remaining
// 74 bits are random; no ID here is a secret, and every row also shows when it was created.
func New() uuid.UUID { return uuid.Must(uuid.NewV7()) }
