// Package compress is the kit's one gzip setup for Connect handlers and clients.
//
// Two costs it removes:
//   - Decompression bombs. connect-go limits a message after decompression, but when a message
//     is too large it drains the rest of the decompressor to report its size: a 4 MB body that
//     inflates to 4 GiB costs seconds of CPU before the answer. The decompressor here stops with
//     an error after limit+1 bytes, so a bomb costs at most the limit of inflation.
//   - Compressing small messages. A gzip writer costs far more than it saves below about a
//     kilobyte (a typical Mercato message is a few hundred bytes); MinBytes leaves those alone.
//
// Writers and readers come from connect-go's per-algorithm sync.Pool, so each is reused across
// calls.
package compress

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"connectrpc.com/connect"
)

// Name is the algorithm's name on the wire.
const Name = "gzip"

// MinBytes is the smallest message worth compressing.
const MinBytes = 1024

// ErrTooLarge is what a limited decompressor returns once the inflated data passes its limit.
var ErrTooLarge = errors.New("decompressed message exceeds the limit")

// HandlerOptions register gzip on a handler with decompression bounded at limit bytes (the
// handler's read limit) and compression only for responses of MinBytes or more.
func HandlerOptions(limit int) []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithCompression(Name, NewDecompressor(limit), newCompressor),
		connect.WithCompressMinBytes(MinBytes),
	}
}

// ClientOptions are the same for a client: responses it accepts in gzip are inflated to at most
// limit bytes (the client's read limit), and requests, if a caller asks to compress them, only
// from MinBytes on.
func ClientOptions(limit int) []connect.ClientOption {
	return []connect.ClientOption{
		connect.WithAcceptCompression(Name, NewDecompressor(limit), newCompressor),
		connect.WithCompressMinBytes(MinBytes),
	}
}

// NewDecompressor returns a constructor of gzip readers that fail with ErrTooLarge instead of
// inflating more than limit+1 bytes of one message (limit ≤ 0: no limit).
func NewDecompressor(limit int) func() connect.Decompressor {
	return func() connect.Decompressor { return &limitedReader{limit: int64(limit)} }
}

func newCompressor() connect.Compressor { return gzip.NewWriter(io.Discard) }

// limitedReader is a gzip.Reader that counts what it inflates.
type limitedReader struct {
	gz    gzip.Reader
	limit int64 // ≤ 0: unlimited
	read  int64
	ready bool // gz holds a valid stream
}

func (r *limitedReader) Read(p []byte) (int, error) {
	if !r.ready {
		return 0, errors.New("gzip: reader used before Reset")
	}
	if r.limit > 0 {
		left := r.limit + 1 - r.read // one byte past the limit tells the caller it was passed
		if left <= 0 {
			return 0, fmt.Errorf("%w (%d bytes)", ErrTooLarge, r.limit)
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := r.gz.Read(p)
	r.read += int64(n)
	return n, err
}

func (r *limitedReader) Reset(src io.Reader) error {
	r.read = 0
	if err := r.gz.Reset(src); err != nil {
		r.ready = false
		return err
	}
	r.ready = true
	return nil
}

func (r *limitedReader) Close() error {
	if !r.ready {
		return nil
	}
	return r.gz.Close()
}
