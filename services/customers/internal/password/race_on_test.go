//go:build race

package password_test

// raceEnabled: the race detector's shadow memory counts in the RSS that memory tests measure.
const raceEnabled = true
