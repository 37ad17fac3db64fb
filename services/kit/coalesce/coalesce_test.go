package coalesce

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// tcpPair is a real loopback TCP connection: the client end wrapped, the server end raw.
func tcpPair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	c := Wrap(raw)
	t.Cleanup(func() { _ = c.Close(); _ = peer.Close() })
	return c, peer
}

// countingConn counts the writes that reach it (the wrapper's logic, without a kernel).
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
	block  chan struct{} // when not nil, each Write waits for it to be closed
	err    error
}

func (c *countingConn) Write(p []byte) (int, error) {
	if c.block != nil {
		<-c.block
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *countingConn) Close() error                     { return nil }
func (c *countingConn) SetWriteDeadline(time.Time) error { return nil }
func (c *countingConn) snapshot() [][]byte               { c.mu.Lock(); defer c.mu.Unlock(); return c.writes }
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s: not after %s", what, time.Since(start))
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBurstLeavesInOneWrite(t *testing.T) {
	// One processor: the flusher runs only once this goroutine blocks, as a writer's burst
	// ends under load; with more processors an idle one may flush sooner, never later.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	under := &countingConn{}
	c := Wrap(under)
	for _, frame := range []string{"HEADERS", "DATA", "WINDOW_UPDATE"} {
		if n, err := c.Write([]byte(frame)); n != len(frame) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", frame, n, err)
		}
	}
	if got := under.snapshot(); len(got) != 0 {
		t.Fatalf("writes reached the connection before the writer yielded: %q", got)
	}
	waitFor(t, "the burst written", func() bool { return len(under.snapshot()) > 0 })
	got := under.snapshot()
	if len(got) != 1 || string(got[0]) != "HEADERSDATAWINDOW_UPDATE" {
		t.Fatalf("kernel writes = %q, want one write of the three frames in order", got)
	}
}

func TestLoneWriteIsNotHeldBack(t *testing.T) {
	c, peer := tcpPair(t)
	start := time.Now()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
	t.Logf("a lone write reached the peer in %s", time.Since(start))
}

func TestConcurrentWritersKeepEachWriteWhole(t *testing.T) {
	c, peer := tcpPair(t)
	const writers, each, size = 8, 200, 1000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := bytes.Repeat([]byte{byte('a' + w)}, size)
			for range each {
				if _, err := c.Write(msg); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	got := make([]byte, writers*each*size)
	done := make(chan error, 1)
	go func() {
		_ = peer.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err := io.ReadFull(peer, got)
		done <- err
	}()
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	counts := map[byte]int{}
	for i := 0; i < len(got); i += size {
		chunk := got[i : i+size]
		if !bytes.Equal(chunk, bytes.Repeat(chunk[:1], size)) {
			t.Fatalf("bytes of different writes interleaved at offset %d", i)
		}
		counts[chunk[0]]++
	}
	for w := range writers {
		if counts[byte('a'+w)] != each {
			t.Fatalf("writer %d: %d writes arrived, want %d", w, counts[byte('a'+w)], each)
		}
	}
}

func TestCloseSendsWhatIsPending(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	c, peer := tcpPair(t)
	want := make([]byte, 100<<10)
	_, _ = rand.Read(want)
	if _, err := c.Write(want); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil { // before the flusher had its turn
		t.Fatal(err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(peer)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("peer read %d bytes (%v), want the %d written before Close, then EOF", len(got), err, len(want))
	}
	if _, err := c.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v, want net.ErrClosed", err)
	}
}

func TestWriterWaitsWhenFarAheadOfThePeer(t *testing.T) {
	under := &countingConn{block: make(chan struct{})}
	c := Wrap(under)
	chunk := make([]byte, 64<<10)
	wrote := make(chan int, 1)
	go func() {
		n := 0
		for range 4 * maxPending / len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				break
			}
			n += len(chunk)
		}
		wrote <- n
	}()
	// The kernel takes nothing (the first write is stuck): the writer must stop at maxPending.
	time.Sleep(100 * time.Millisecond)
	select {
	case n := <-wrote:
		t.Fatalf("the writer queued %d bytes while the connection took none (bound %d)", n, maxPending)
	default:
	}
	close(under.block)
	select {
	case n := <-wrote:
		if n != 4*maxPending {
			t.Fatalf("wrote %d, want %d", n, 4*maxPending)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the writer stayed blocked after the connection drained")
	}
	waitFor(t, "everything written", func() bool {
		total := 0
		for _, w := range under.snapshot() {
			total += len(w)
		}
		return total == 4*maxPending
	})
}

func TestWriteErrorIsSticky(t *testing.T) {
	boom := errors.New("connection reset")
	under := &countingConn{err: boom}
	c := Wrap(under)
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatalf("first Write = %v: it is queued, the error comes later", err)
	}
	waitFor(t, "the failed write reported", func() bool {
		_, err := c.Write([]byte("y"))
		return errors.Is(err, boom)
	})
}

// A deadline set after a write governs later writes only: crypto/tls writes close_notify and
// then sets a write deadline in the past, and what it wrote before must still reach the peer.
func TestDeadlineAfterWriteKeepsTheWrite(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // the flusher has not run when the deadline is set
	c, peer := tcpPair(t)
	if _, err := c.Write([]byte("HTTP/1.1 413 Request Entity Too Large\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.SetWriteDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the flusher's turn: it must not find the deadline passed
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(peer)
	if err != nil || string(got) != "HTTP/1.1 413 Request Entity Too Large\r\n\r\n" {
		t.Fatalf("peer read %q, %v: the write before the deadline was lost", got, err)
	}
}

// After a large burst, an idle connection keeps no large buffer (memory per idle connection
// stays small whatever a peer made it send once).
func TestIdleConnectionKeepsNoLargeBuffer(t *testing.T) {
	under := &countingConn{}
	c := Wrap(under)
	if _, err := c.Write(make([]byte, 200<<10)); err != nil {
		t.Fatal(err)
	}
	c.drain()
	c.mu.Lock()
	defer c.mu.Unlock()
	if cap(c.spare) > maxSpare || cap(c.pending) > maxSpare {
		t.Fatalf("idle connection holds %d+%d bytes of buffer, want at most %d", cap(c.spare), cap(c.pending), maxSpare)
	}
}
