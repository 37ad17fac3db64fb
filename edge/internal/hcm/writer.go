package hcm

import "net/http"

// responseWriter runs the filters' response-header hooks (CORS, header mutations, route
// headers) once, just before the response headers go out, whoever writes them: the upstream's
// response through the proxy, or a local reply.
type responseWriter struct {
	http.ResponseWriter
	hooks  []func(http.Header)
	status int
	flag   string // Envoy's response flag of a local reply ("UO", "UH", …), "" when none
}

func (w *responseWriter) onHeaders(f func(http.Header)) { w.hooks = append(w.hooks, f) }

func (w *responseWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational: headers still to come
		return
	}
	w.status = code
	h := w.Header()
	for _, f := range w.hooks {
		f(h)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends what was written so far (streaming responses, gRPC).
func (w *responseWriter) Flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// code is the status sent, 0 when nothing was.
func (w *responseWriter) code() int { return w.status }
