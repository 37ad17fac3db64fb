package reply_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"mercato.dev/edge/internal/reply"
)

func TestGRPCContentTypes(t *testing.T) {
	t.Parallel()
	for ct, want := range map[string]bool{
		"application/grpc": true, "application/grpc+proto": true, "application/grpc;charset=utf-8": true,
		"application/grpc-web": false, "application/grpc-web+proto": false, "application/json": false, "": false,
	} {
		if got := reply.IsGRPCContentType(ct); got != want {
			t.Errorf("%q: %v, want %v", ct, got, want)
		}
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		contentType string
		status      int
		wantStatus  int
		grpcStatus  string
	}{
		{"application/json", 503, 503, ""},
		{"application/grpc", 503, 200, "14"},
		{"application/grpc", 401, 200, "16"},
		{"application/grpc", 404, 200, "12"},
		{"application/grpc", 504, 200, "14"},
		{"application/grpc-web+proto", 401, 401, ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/x", nil)
		r.Header.Set("Content-Type", tt.contentType)
		w := httptest.NewRecorder()
		(*reply.Config)(nil).Write(w, r, reply.Reply{Status: tt.status, Body: "no 100% luck", Header: http.Header{"X-Envoy-Overloaded": {"true"}}})
		if w.Code != tt.wantStatus || w.Header().Get("Grpc-Status") != tt.grpcStatus || w.Header().Get("X-Envoy-Overloaded") != "true" {
			t.Errorf("%s %d: got %d grpc-status %q", tt.contentType, tt.status, w.Code, w.Header().Get("Grpc-Status"))
		}
		if tt.grpcStatus != "" && w.Header().Get("Grpc-Message") != "no 100%25 luck" {
			t.Errorf("grpc-message %q not percent-encoded", w.Header().Get("Grpc-Message"))
		}
	}
}

// TestLocalReplyReadsTheRequestBodyFirst: over HTTP/2 a local reply to a request whose body is
// still on its way must not reset the stream (curl then reports "stream error" instead of the
// status). The client holds its body back until after the edge would have answered.
func TestLocalReplyReadsTheRequestBodyFirst(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*reply.Config)(nil).Write(w, r, reply.Reply{Status: http.StatusNotFound})
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	for i := range 20 {
		body, send := io.Pipe()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/mercato.inventory.v1.InventoryService/ReserveStock", body)
		req.Header.Set("Content-Type", "application/json")
		wrote := make(chan error, 1)
		go func() {
			time.Sleep(20 * time.Millisecond)
			_, err := send.Write([]byte("{}"))
			send.Close()
			wrote <- err
		}()
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.ProtoMajor != 2 || res.StatusCode != http.StatusNotFound {
			t.Fatalf("request %d: %s %d", i, res.Proto, res.StatusCode)
		}
		if err := <-wrote; err != nil {
			t.Fatalf("request %d: the stream was reset while the client sent its body: %v", i, err)
		}
	}
}
