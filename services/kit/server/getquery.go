package server

import (
	"encoding/base64"
	"errors"
	"net/http"

	"connectrpc.com/connect"
)

// checkConnectGet answers a Connect GET request whose base64-encoded message query parameter
// does not decode with invalid_argument. connect-go (v1.21) reads that parameter through a
// base64 decoder and reports a decoding failure as unknown (HTTP 500), which tells a client
// the server failed when the request was at fault.
func checkConnectGet(next http.Handler) http.Handler {
	errw := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			q := r.URL.Query()
			if q.Get("base64") == "1" && !queryBase64OK(q.Get("message")) {
				_ = errw.Write(w, r, connect.NewError(connect.CodeInvalidArgument,
					errors.New("message query parameter: not URL-safe base64")))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// queryBase64OK reports whether s decodes the way connect-go decodes the message parameter:
// URL-safe base64, padded when its length is a multiple of four, unpadded otherwise.
func queryBase64OK(s string) bool {
	enc := base64.URLEncoding
	if len(s)%4 != 0 {
		enc = base64.RawURLEncoding
	}
	_, err := enc.DecodeString(s)
	return err == nil
}
