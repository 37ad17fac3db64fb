package compress_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/services/kit/compress"
)

// bomb is a gzip stream of n zero bytes: about a thousandth of n on the wire.
func bomb(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	chunk := make([]byte, 1<<20)
	for left := n; left > 0; left -= len(chunk) {
		if _, err := zw.Write(chunk[:min(left, len(chunk))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecompressorStopsOneBytePastTheLimit(t *testing.T) {
	const limit = 1 << 20
	d := compress.NewDecompressor(limit)()
	if err := d.Reset(bytes.NewReader(bomb(t, 32<<20))); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, d)
	if !errors.Is(err, compress.ErrTooLarge) {
		t.Fatalf("copy error = %v, want ErrTooLarge", err)
	}
	if n != limit+1 {
		t.Fatalf("inflated %d bytes of a 32 MiB bomb, want exactly limit+1 = %d", n, limit+1)
	}
	// Reused from the pool: a small message after the bomb reads in full.
	small := []byte("a perfectly ordinary message")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(small)
	_ = zw.Close()
	if err := d.Reset(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(d)
	if err != nil || !bytes.Equal(got, small) {
		t.Fatalf("after reuse: %q, %v", got, err)
	}
}

// A handler with the kit's options answers a decompression bomb resource_exhausted from its own
// limit, without draining the rest of the stream (connect-go's message would then carry the
// inflated size instead of the decompressor's error).
func TestHandlerRefusesBombWithoutInflatingIt(t *testing.T) {
	const limit = 1 << 20
	var called bool
	h := connect.NewUnaryHandler("/test.v1.Test/Echo",
		func(_ context.Context, req *connect.Request[wrapperspb.BytesValue]) (*connect.Response[wrapperspb.BytesValue], error) {
			called = true
			return connect.NewResponse(req.Msg), nil
		},
		append(compress.HandlerOptions(limit), connect.WithReadMaxBytes(limit))...)
	srv := httptest.NewServer(h)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/test.v1.Test/Echo", bytes.NewReader(bomb(t, 32<<20)))
	req.Header.Set("Content-Type", "application/proto")
	req.Header.Set("Content-Encoding", "gzip")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Code, Message string }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if called || body.Code != "resource_exhausted" || !strings.Contains(body.Message, compress.ErrTooLarge.Error()) {
		t.Fatalf("called=%v, answer %d %+v; want resource_exhausted from the limited decompressor", called, res.StatusCode, body)
	}
	t.Logf("answer: %d %s: %s", res.StatusCode, body.Code, body.Message)
}

// Small responses go out uncompressed even to a client that accepts gzip; large ones are
// compressed.
func TestSmallResponsesAreNotCompressed(t *testing.T) {
	h := connect.NewUnaryHandler("/test.v1.Test/Echo",
		func(_ context.Context, req *connect.Request[wrapperspb.BytesValue]) (*connect.Response[wrapperspb.BytesValue], error) {
			return connect.NewResponse(req.Msg), nil
		}, compress.HandlerOptions(1<<20)...)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, tc := range []struct {
		size int
		want string
	}{{100, ""}, {compress.MinBytes * 4, "gzip"}} {
		msg, _ := json.Marshal(strings.Repeat("QUFB", tc.size/4)) // BytesValue's JSON is its base64 string
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/test.v1.Test/Echo", bytes.NewReader(msg))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-Encoding", "gzip")
		tr := &http.Transport{DisableCompression: true}
		res, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if got := res.Header.Get("Content-Encoding"); got != tc.want || res.StatusCode != 200 {
			t.Errorf("%d-byte message: status %d, Content-Encoding %q, want %q", tc.size, res.StatusCode, got, tc.want)
		}
	}
}
