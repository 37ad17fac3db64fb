package hcm

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

// TestIdleBody: over HTTP/2 and HTTP/1.1, a body whose reads each complete within the stream
// idle timeout is read whole even when the whole takes longer; a read that stalls beyond it
// fails with os.ErrDeadlineExceeded soon after the timeout; and the timer never fires once the
// handler has returned.
func TestIdleBody(t *testing.T) {
	const idle = 150 * time.Millisecond
	type result struct {
		body    string
		err     error
		elapsed time.Duration
	}
	results := make(chan result, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: idle}
		defer b.stop()
		start := time.Now()
		data, err := io.ReadAll(b)
		results <- result{string(data), err, time.Since(start)}
	})
	for _, h2 := range []bool{true, false} {
		srv := httptest.NewUnstartedServer(handler)
		srv.EnableHTTP2 = h2
		srv.StartTLS()
		client := srv.Client()

		send := func(chunks []string, gap time.Duration) result {
			pr, pw := io.Pipe()
			go func() {
				for _, c := range chunks {
					_, _ = pw.Write([]byte(c))
					time.Sleep(gap)
				}
				_ = pw.Close()
			}()
			req, _ := http.NewRequest(http.MethodPost, srv.URL, pr)
			res, err := client.Do(req)
			if err == nil {
				_ = res.Body.Close()
			}
			select {
			case r := <-results:
				_ = pw.CloseWithError(errors.New("done"))
				return r
			case <-time.After(5 * time.Second):
				t.Fatalf("h2=%v: the handler never finished reading", h2)
				return result{}
			}
		}

		// Five reads 60 ms apart: 300 ms in all, each within the 150 ms timeout.
		if r := send([]string{"a", "b", "c", "d", "e"}, 60*time.Millisecond); r.err != nil || r.body != "abcde" {
			t.Errorf("h2=%v: slow but steady body: %q, %v", h2, r.body, r.err)
		}
		// A stall of a second after the first chunk.
		r := send([]string{"a", "b"}, time.Second)
		if !errors.Is(r.err, os.ErrDeadlineExceeded) {
			t.Errorf("h2=%v: stalled body: %v, want os.ErrDeadlineExceeded", h2, r.err)
		}
		if r.elapsed > idle+500*time.Millisecond {
			t.Errorf("h2=%v: stalled read failed after %v, want about %v", h2, r.elapsed, idle)
		}
		srv.Close()
	}
}

// TestIdleBodyStopsWithTheHandler: after stop the timer does not touch the response writer
// (which the server has recycled by then).
func TestIdleBodyStopsWithTheHandler(t *testing.T) {
	w := &deadlineRecorder{ResponseWriter: httptest.NewRecorder()}
	b := &idleBody{ReadCloser: io.NopCloser(neverEOF{}), rc: http.NewResponseController(w), idle: 10 * time.Millisecond}
	if _, err := b.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	b.stop()
	time.Sleep(50 * time.Millisecond)
	if w.calls != 0 {
		t.Errorf("SetReadDeadline called %d times after stop", w.calls)
	}
	w2 := &deadlineRecorder{ResponseWriter: httptest.NewRecorder()}
	b2 := &idleBody{ReadCloser: io.NopCloser(neverEOF{}), rc: http.NewResponseController(w2), idle: 10 * time.Millisecond}
	_, _ = b2.Read(make([]byte, 1))
	time.Sleep(50 * time.Millisecond)
	b2.stop()
	if w2.calls != 1 {
		t.Errorf("without stop: SetReadDeadline called %d times, want 1 (the timeout)", w2.calls)
	}
}

type neverEOF struct{}

func (neverEOF) Read(p []byte) (int, error) { return len(p), nil }

type deadlineRecorder struct {
	http.ResponseWriter
	calls int // guarded by idleBody.mu in these tests
}

func (d *deadlineRecorder) SetReadDeadline(time.Time) error { d.calls++; return nil }
