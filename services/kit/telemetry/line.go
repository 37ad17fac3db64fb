package telemetry

import (
	"encoding/hex"
	"log/slog"
	"strconv"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"
)

// Hand-encoded log lines. A hot per-request line (an access line) can skip slog's generic
// encoder and be appended to a reused buffer byte for byte as NewLogger's JSON handler would
// write it: AppendLineStart, then each field as `,"key":` and its value from AppendJSONString
// or AppendJSONFloat (or strconv.AppendInt), then AppendLineEnd. The caller checks the logger's
// level itself (Logger.Enabled) and writes the line with one Write, typically to a [Buffered].

// AppendLineStart appends the opening of NewLogger's record: {"time":…,"level":…,"msg":…,
// "service":… with no trailing comma. t is formatted as slog's JSON handler does (RFC 3339 with
// nanoseconds, trailing zeros dropped, in t's location).
func AppendLineStart(b []byte, t time.Time, level slog.Level, msg, service string) []byte {
	b = append(b, `{"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":`...)
	b = AppendJSONString(b, level.String())
	b = append(b, `,"msg":`...)
	b = AppendJSONString(b, msg)
	b = append(b, `,"service":`...)
	return AppendJSONString(b, service)
}

// AppendLineEnd appends what NewLogger's trace handler adds after the record's fields (the
// trace and span IDs, when sc is valid), then the closing brace and the newline.
func AppendLineEnd(b []byte, sc trace.SpanContext) []byte {
	if sc.IsValid() {
		tid, sid := sc.TraceID(), sc.SpanID()
		b = append(b, `,"trace_id":"`...)
		b = hex.AppendEncode(b, tid[:])
		b = append(b, `","span_id":"`...)
		b = hex.AppendEncode(b, sid[:])
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// AppendJSONFloat appends f as encoding/json writes it (which slog's JSON handler calls for
// floats): the shortest decimal, in exponent form only below 1e-6 or from 1e21. f must be
// finite (slog writes an error in place of NaN and infinities).
func AppendJSONFloat(b []byte, f float64) []byte {
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

// AppendJSONString appends s in quotes as slog's JSON handler writes a string
// (appendEscapedJSONString): '"', '\\' and control characters escaped (\n, \r, \t by name),
// invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped; HTML characters are left as they are.
func AppendJSONString(b []byte, s string) []byte {
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
