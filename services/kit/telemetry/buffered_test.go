package telemetry_test

import (
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"mercato.dev/services/kit/telemetry"
)

// syncBuf records each Write separately.
type syncBuf struct {
	mu     sync.Mutex
	writes []string
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes = append(b.writes, string(p))
	return len(p), nil
}

func (b *syncBuf) all() (string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.writes, ""), len(b.writes)
}

// TestBufferedFlushes: lines wait in the buffer, reach the file within the interval in one
// write, never cut, and Close writes what is left.
func TestBufferedFlushes(t *testing.T) {
	out := &syncBuf{}
	b := telemetry.NewBuffered(out, 50*time.Millisecond)
	for range 10 {
		_, _ = b.Write([]byte("line\n"))
	}
	if s, _ := out.all(); s != "" {
		t.Fatalf("written at once: %q", s)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if s, n := out.all(); s == strings.Repeat("line\n", 10) {
			if n != 1 {
				t.Fatalf("%d writes, want 1", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not flushed within the interval")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A full buffer is written before a line that does not fit: lines are never split.
	line := strings.Repeat("y", 1000) + "\n"
	for range 100 {
		_, _ = b.Write([]byte(line))
	}
	_ = b.Close()
	s, _ := out.all()
	if want := strings.Repeat("line\n", 10) + strings.Repeat(line, 100); s != want {
		t.Fatalf("after Close: %d bytes, want %d", len(s), len(want))
	}
	out.mu.Lock()
	for _, w := range out.writes {
		if !strings.HasSuffix(w, "\n") {
			t.Errorf("a write ends mid-line: …%q", w[max(0, len(w)-20):])
		}
	}
	out.mu.Unlock()
	_, _ = b.Write([]byte("after\n"))
	if s, _ := out.all(); !strings.HasSuffix(s, "after\n") {
		t.Error("a line after Close was not written at once")
	}
}

// failing fails every write.
type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// TestBufferedRecoversFromAnError: a failed write drops what was buffered but does not make every
// later line fail.
func TestBufferedRecoversFromAnError(t *testing.T) {
	sw := &switchable{w: failing{}}
	b := telemetry.NewBuffered(sw, time.Hour)
	_, _ = b.Write([]byte("lost\n"))
	if err := b.Flush(); err == nil {
		t.Fatal("flush to a failing writer reported no error")
	}
	out := &syncBuf{}
	sw.set(out)
	_, _ = b.Write([]byte("kept\n"))
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if s, _ := out.all(); s != "kept\n" {
		t.Fatalf("got %q, want the line written after the failure", s)
	}
}

type switchable struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchable) set(w io.Writer) { s.mu.Lock(); s.w = w; s.mu.Unlock() }
func (s *switchable) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
