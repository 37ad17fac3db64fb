// Package accesslog writes the dev edge's access lines: the same JSON record the process's slog
// logger writes (telemetry.NewLogger: time, level, msg, service, the fields, trace and span IDs),
// encoded by hand into a reused buffer, and handed to a buffered writer that reaches the file
// every FlushInterval instead of once per request.
//
// Profiles of the edge under load put a tenth of its CPU in the access line: slog's generic
// encoder (its float goes through encoding/json) and one write(2) per request. A crash loses
// the lines still buffered: at most FlushInterval's worth (and at most the buffer, 64 KiB); a
// clean shutdown flushes them.
package accesslog

import (
	"bufio"
	"encoding/hex"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"
)

// Record is one request's access line.
type Record struct {
	Time            time.Time
	Method          string
	Path            string
	Protocol        string
	Status          int
	ResponseFlags   string // "-" when none
	UpstreamCluster string
	DurationMS      float64
	RequestID       string
	Downstream      string
	UserAgent       string
	Span            trace.SpanContext // its IDs are written when valid
}

// Logger encodes records for one service and writes each as one Write of a whole line.
type Logger struct {
	w       io.Writer
	service string
}

// New returns a logger writing service's access lines to w (which must take whole lines from
// concurrent callers: a *Buffered does).
func New(w io.Writer, service string) *Logger { return &Logger{w: w, service: service} }

var lines = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Log writes rec.
func (l *Logger) Log(rec *Record) {
	bp := lines.Get().(*[]byte)
	b := Append((*bp)[:0], l.service, rec)
	_, _ = l.w.Write(b)
	*bp = b
	lines.Put(bp)
}

// Append appends rec as slog's JSON handler writes it (keys in the same order, the same string
// escaping, numbers as encoding/json writes them), followed by a newline.
func Append(b []byte, service string, rec *Record) []byte {
	b = append(b, `{"time":"`...)
	b = rec.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"access","service":`...)
	b = appendString(b, service)
	b = append(b, `,"method":`...)
	b = appendString(b, rec.Method)
	b = append(b, `,"path":`...)
	b = appendString(b, rec.Path)
	b = append(b, `,"protocol":`...)
	b = appendString(b, rec.Protocol)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(rec.Status), 10)
	b = append(b, `,"response_flags":`...)
	b = appendString(b, rec.ResponseFlags)
	b = append(b, `,"upstream_cluster":`...)
	b = appendString(b, rec.UpstreamCluster)
	b = append(b, `,"duration_ms":`...)
	b = appendFloat(b, rec.DurationMS)
	b = append(b, `,"request_id":`...)
	b = appendString(b, rec.RequestID)
	b = append(b, `,"downstream":`...)
	b = appendString(b, rec.Downstream)
	b = append(b, `,"user_agent":`...)
	b = appendString(b, rec.UserAgent)
	if rec.Span.IsValid() {
		tid, sid := rec.Span.TraceID(), rec.Span.SpanID()
		b = append(b, `,"trace_id":"`...)
		b = hex.AppendEncode(b, tid[:])
		b = append(b, `","span_id":"`...)
		b = hex.AppendEncode(b, sid[:])
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// appendFloat writes f as encoding/json does (which slog's JSON handler calls for floats): the
// shortest decimal, in exponent form only below 1e-6 or from 1e21.
func appendFloat(b []byte, f float64) []byte {
	if a := max(f, -f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return appendJSONExp(b, f)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// appendJSONExp is encoding/json's exponent form: e-09 becomes e-9.
func appendJSONExp(b []byte, f float64) []byte {
	start := len(b)
	b = strconv.AppendFloat(b, f, 'e', -1, 64)
	if n := len(b) - start; n >= 4 && b[len(b)-4] == 'e' && b[len(b)-3] == '-' && b[len(b)-2] == '0' {
		b[len(b)-2] = b[len(b)-1]
		b = b[:len(b)-1]
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString is slog's appendEscapedJSONString in quotes: '"', '\\' and control characters
// escaped (\n, \r, \t by name), invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped; HTML
// characters are left as they are.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = append(b, '\\')
			switch c {
			case '"', '\\':
				b = append(b, c)
			case '\n':
				b = append(b, 'n')
			case '\r':
				b = append(b, 'r')
			case '\t':
				b = append(b, 't')
			default:
				b = append(b, 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// FlushInterval is how long an access line may wait in a Buffered writer.
const FlushInterval = 100 * time.Millisecond

// bufferSize bounds what a crash can lose, and what one write(2) carries.
const bufferSize = 64 << 10

// Buffered is an io.Writer for whole lines from concurrent writers: it keeps them in a buffer
// written out when full, FlushInterval after the first line that entered an empty buffer, and
// on Flush or Close. A line never straddles two writes, so lines that other writers put in the
// same file directly are never cut into it.
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
