package listener

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2"
)

// frames writes the client preface and, for each stream, HEADERS and then (when reset)
// RST_STREAM, as a flooding client does.
func frames(t *testing.T, streams int, reset func(i int) bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&buf, nil)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for i := range streams {
		id := uint32(2*i + 1)
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: []byte{0x83}, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if reset(i) {
			if err := fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
				t.Fatal(err)
			}
		}
	}
	return buf.Bytes()
}

// scanInPieces feeds b to the guard in reads of n bytes, as the network may split it.
func scanInPieces(g *resetGuard, b []byte, n int) {
	for len(b) > 0 {
		k := min(n, len(b))
		g.scan(b[:k])
		b = b[k:]
	}
}

func TestResetGuardTripsOnAFlood(t *testing.T) {
	for _, piece := range []int{1, 7, 4096} {
		var tripped, atStreams int
		g := newResetGuard(nil, func(streams, _ int) { tripped++; atStreams = streams })
		scanInPieces(g, frames(t, 2000, func(int) bool { return true }), piece)
		if tripped != 1 || atStreams != prematureStreamCount {
			t.Errorf("reads of %d bytes: tripped %d times at %d streams, want once at %d", piece, tripped, atStreams, prematureStreamCount)
		}
	}
}

func TestResetGuardLeavesNormalClientsAlone(t *testing.T) {
	tripped := false
	g := newResetGuard(nil, func(int, int) { tripped = true })
	// 5000 calls, one in ten canceled by its client (deadlines, users leaving).
	scanInPieces(g, frames(t, 5000, func(i int) bool { return i%10 == 0 }), 1500)
	if tripped || g.streams != 5000 || g.premature != 500 {
		t.Errorf("tripped %v after %d streams, %d premature resets", tripped, g.streams, g.premature)
	}
}
