package telemetry

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// FlushInterval is how long a line may wait in a Buffered writer.
const FlushInterval = 100 * time.Millisecond

// bufferSize bounds what a crash can lose, and what one write(2) carries.
const bufferSize = 64 << 10

// Buffered is an io.Writer for whole lines from concurrent writers: it keeps them in a buffer
// written out when full, FlushInterval after the first line that entered an empty buffer, and
// on Flush or Close. A line never straddles two writes, so lines that other writers put in the
// same file directly are never cut into it.
//
// It is meant for access lines (see AppendLineStart), which then reach the file in one write(2)
// per buffer instead of one per request, a little late and possibly out of order with the
// process's other (unbuffered) records. A crash loses the lines still buffered: at most
// FlushInterval's worth, and at most the buffer (64 KiB); Close writes them out.
type Buffered struct {
	interval time.Duration
	w        io.Writer

	mu      sync.Mutex
	bw      *bufio.Writer
	pending bool // a flush is scheduled
	closed  bool
}

// NewBuffered returns a Buffered writer to w flushing interval after a line arrives (0:
// FlushInterval).
func NewBuffered(w io.Writer, interval time.Duration) *Buffered {
	if interval <= 0 {
		interval = FlushInterval
	}
	return &Buffered{interval: interval, w: w, bw: bufio.NewWriterSize(w, bufferSize)}
}

// Write buffers p, one or more whole lines.
func (b *Buffered) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || len(p) > bufferSize {
		if err := b.flush(); err != nil {
			return 0, err
		}
		return b.w.Write(p) // after Close, or a line larger than the buffer: straight through
	}
	if len(p) > b.bw.Available() {
		if err := b.flush(); err != nil {
			return 0, err
		}
	}
	n, err := b.bw.Write(p)
	if b.bw.Buffered() > 0 && !b.pending {
		b.pending = true
		time.AfterFunc(b.interval, b.timed)
	}
	return n, err
}

func (b *Buffered) timed() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = false
	_ = b.flush()
}

// flush writes out the buffer. On an error what was buffered is dropped (bufio's error would
// otherwise stick and fail every later line).
func (b *Buffered) flush() error {
	if b.bw.Buffered() == 0 {
		return nil
	}
	err := b.bw.Flush()
	if err != nil {
		b.bw.Reset(b.w)
	}
	return err
}

// Flush writes out what is buffered.
func (b *Buffered) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flush()
}

// Close flushes; later lines go straight through.
func (b *Buffered) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return b.flush()
}
