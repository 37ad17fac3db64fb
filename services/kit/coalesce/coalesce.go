// Package coalesce gives a TCP connection one write to the kernel per burst of writes.
//
// Go's HTTP/2 server flushes a response's HEADERS frame on its own and then its DATA frame
// (the handler waits for the headers to be written before it sends the body), and its client
// flushes a request's HEADERS and then its DATA. Under TLS each flush is a record and a
// write(2), and each write wakes the peer's reader: a unary call costs four writes and four
// reads where two would do. A Conn keeps what is written to it and hands it to the kernel
// from a goroutine of its own once the writers of the moment have had their turn on the
// processor (runtime.Gosched, as grpc-go's loopy writer does before a small flush): the
// frames one call produces back to back leave in one write, and a lone write leaves as soon
// as nothing else is runnable. No timer is involved; no write waits for a later one.
//
// The wrapper sits below TLS (tls.Client and tls.Server are given the wrapped TCP
// connection), so every layer above still sees a *tls.Conn. Writes are ordered, a write
// error is returned by the next Write and by Close, and a writer that gets more than
// maxPending ahead of the kernel waits (the peer's pace still bounds memory).
package coalesce

import (
	"context"
	"net"
	"runtime"
	"sync"
	"time"
)

// maxPending is how far writers may get ahead of the kernel before Write blocks.
const maxPending = 256 << 10

// maxSpare is the largest buffer a connection keeps between bursts. A peer that makes one
// burst large (a big response it reads slowly) must not leave every idle connection holding
// up to twice maxPending: what a connection keeps while idle stays a few pages.
const maxSpare = 16 << 10

// closeFlushTimeout bounds how long Close waits to hand over what is still pending.
const closeFlushTimeout = 5 * time.Second

// Conn is a net.Conn whose writes are coalesced; see the package comment.
type Conn struct {
	net.Conn

	mu       sync.Mutex
	drained  sync.Cond // signalled whenever a flush ends or frees room
	pending  []byte
	spare    []byte
	flushing bool  // a flusher owns the connection's writes to the kernel
	err      error // sticky: the first write error, or net.ErrClosed after Close
}

// Wrap coalesces c's writes.
func Wrap(c net.Conn) *Conn {
	cc := &Conn{Conn: c}
	cc.drained.L = &cc.mu
	return cc
}

// Write queues p and returns; p goes to the kernel with whatever else is written before the
// flusher runs.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	for c.err == nil && len(c.pending) >= maxPending {
		c.drained.Wait()
	}
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	c.pending = append(c.pending, p...)
	if !c.flushing {
		c.flushing = true
		go c.flush()
	}
	c.mu.Unlock()
	return len(p), nil
}

// flush yields the processor, so that the writers of the moment add to the batch, then
// writes what is pending.
func (c *Conn) flush() {
	runtime.Gosched()
	c.mu.Lock()
	c.flushLocked()
	c.mu.Unlock()
}

// flushLocked writes what is pending until nothing is, releasing c.mu around each write.
func (c *Conn) flushLocked() {
	for len(c.pending) > 0 && c.err == nil {
		buf := c.pending
		c.pending, c.spare = c.spare[:0], nil
		c.drained.Broadcast() // room for writers held back by maxPending
		c.mu.Unlock()
		_, err := c.Conn.Write(buf)
		c.mu.Lock()
		if cap(buf) <= maxSpare {
			c.spare = buf[:0]
		}
		if err != nil && c.err == nil {
			c.err = err
		}
	}
	c.flushing = false
	c.drained.Broadcast()
}

// SetWriteDeadline applies to the writes that follow it: what is pending is handed to the
// kernel first, under the deadline it was written under, as if those writes had been
// synchronous. A caller that writes and then sets a deadline means it for what comes next
// (crypto/tls sends close_notify, then sets a deadline in the past so that later writes fail).
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.drain()
	return c.Conn.SetWriteDeadline(t)
}

// SetDeadline is SetWriteDeadline and SetReadDeadline.
func (c *Conn) SetDeadline(t time.Time) error {
	c.drain()
	return c.Conn.SetDeadline(t)
}

// drain returns once nothing written before it is pending.
func (c *Conn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.flushing {
		c.drained.Wait()
	}
	if c.err == nil && len(c.pending) > 0 {
		c.flushing = true
		c.flushLocked()
	}
}

// Close hands what is pending to the kernel (waiting at most closeFlushTimeout for a peer
// that does not read), then closes the connection.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.flushing {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
		for c.flushing {
			c.drained.Wait()
		}
	}
	if c.err == nil && len(c.pending) > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
		c.flushing = true
		c.flushLocked()
	}
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.drained.Broadcast()
	c.mu.Unlock()
	return c.Conn.Close()
}

// Listener wraps every connection l accepts.
type Listener struct{ net.Listener }

// Accept returns the next connection, wrapped.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}

// Dialer wraps every connection dial opens.
func Dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Wrap(c), nil
	}
}
