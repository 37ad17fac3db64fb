package listener

import (
	"crypto/tls"
	"encoding/binary"
	"net"
	"sort"
	"sync"
	"time"
)

// Envoy's rapid-reset bound (runtime overload.premature_reset_*; edge/envoy.yaml writes the
// same values): once a connection has opened this many streams, it is closed when at least
// half of them were reset by the client within prematureLifetime of being opened.
const (
	prematureStreamCount = 500
	prematureLifetime    = time.Second
)

// HTTP/2 frame types the guard reads.
const (
	frameHeaders   = 0x1
	frameRSTStream = 0x3
)

const clientPrefaceLen = len("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// resetGuard reads an HTTP/2 connection on the server's behalf and follows its frame
// headers: it counts the streams the client opens (HEADERS with a new stream ID) and the
// ones it resets (RST_STREAM) shortly after. Go's http2.Server has no bound on resets of
// its own; the guard calls abusive once the bound is crossed, and from then on reads
// nothing more from the client (the server still writes its GOAWAY and finishes the
// streams it has) until the connection is closed.
type resetGuard struct {
	*tls.Conn
	abusive func(streams, resets int)
	closed  chan struct{}
	close   sync.Once

	preface int     // preface bytes still to pass
	header  [9]byte // the frame header being read
	filled  int
	skip    int // payload bytes of the current frame still to pass

	lastID    uint32
	recent    []opened // streams opened within prematureLifetime, by ID
	streams   int
	premature int
	tripped   bool
}

type opened struct {
	id uint32
	at time.Time
}

func newResetGuard(c *tls.Conn, abusive func(streams, resets int)) *resetGuard {
	return &resetGuard{Conn: c, abusive: abusive, preface: clientPrefaceLen, closed: make(chan struct{})}
}

// Close closes the connection and releases a Read held after abuse.
func (g *resetGuard) Close() error {
	g.close.Do(func() { close(g.closed) })
	return g.Conn.Close()
}

// Read is called by the HTTP/2 server's reading goroutine only.
func (g *resetGuard) Read(p []byte) (int, error) {
	if g.tripped {
		<-g.closed
		return 0, net.ErrClosed
	}
	n, err := g.Conn.Read(p)
	g.scan(p[:n])
	return n, err
}

func (g *resetGuard) scan(b []byte) {
	for len(b) > 0 {
		switch {
		case g.preface > 0:
			k := min(g.preface, len(b))
			g.preface -= k
			b = b[k:]
		case g.skip > 0:
			k := min(g.skip, len(b))
			g.skip -= k
			b = b[k:]
		default:
			k := copy(g.header[g.filled:], b)
			g.filled += k
			b = b[k:]
			if g.filled == len(g.header) {
				g.filled = 0
				g.skip = int(g.header[0])<<16 | int(g.header[1])<<8 | int(g.header[2])
				g.frame(g.header[3], binary.BigEndian.Uint32(g.header[5:9])&0x7fffffff)
			}
		}
	}
}

func (g *resetGuard) frame(typ byte, id uint32) {
	now := time.Now()
	switch {
	case typ == frameHeaders && id > g.lastID:
		g.lastID = id
		g.streams++
		cut := sort.Search(len(g.recent), func(i int) bool { return now.Sub(g.recent[i].at) < prematureLifetime })
		g.recent = append(g.recent[cut:], opened{id, now})
	case typ == frameRSTStream:
		i := sort.Search(len(g.recent), func(i int) bool { return g.recent[i].id >= id })
		if i < len(g.recent) && g.recent[i].id == id && now.Sub(g.recent[i].at) < prematureLifetime {
			g.premature++
		}
	default:
		return
	}
	if !g.tripped && g.streams >= prematureStreamCount && 2*g.premature >= g.streams {
		g.tripped = true
		g.abusive(g.streams, g.premature)
	}
}
