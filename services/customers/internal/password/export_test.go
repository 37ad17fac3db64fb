package password

import "time"

// SetReleaseEvery shortens how often h hands memory back to the OS, for tests.
func SetReleaseEvery(h *Hasher, d time.Duration) { h.releaseEvery = d }
