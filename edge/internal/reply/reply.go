// Package reply writes the edge's own answers (Envoy's "local replies"): no route, overflow,
// timeouts, failed JWTs, rate limits, bodies too large. It follows Envoy's sendLocalReply: the
// HTTP connection manager's local_reply_config (Config) may rewrite the status, the body (its
// text, or a format such as Connect's JSON error) and add headers; then a gRPC request is
// answered in gRPC — HTTP 200, trailers-only, with grpc-status (a header the mappers set, else
// mapped from the HTTP status) and grpc-message carrying the text — and anything else with the
// status and the body. Without mappers that is Envoy's default: plain text.
package reply

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// gRPC status codes the edge answers with.
const (
	grpcUnknown          = 2
	grpcInternal         = 13
	grpcUnauthenticated  = 16
	grpcPermissionDenied = 7
	grpcUnimplemented    = 12
	grpcUnavailable      = 14
)

// Bounds on reading an unread request body before a local reply.
const (
	drainMax     = 256 << 10
	drainTimeout = time.Second
)

// drain reads what is left of a small request body before the edge answers it itself. Over
// HTTP/2, a reply to a request whose body was never read ends with RST_STREAM, and a client
// still sending (curl posting JSON) reports a stream error instead of the 404 or 401 it got.
// net/http does the same for HTTP/1.1; the bound and the deadline keep a large or slow body
// from holding the edge.
func drain(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(drainTimeout))
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, drainMax))
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
}

// IsGRPC reports whether r is a gRPC request (application/grpc or application/grpc+codec; not
// gRPC-Web), as Envoy decides it.
func IsGRPC(r *http.Request) bool { return IsGRPCContentType(r.Header.Get("Content-Type")) }

// IsGRPCContentType reports whether ct is gRPC's content type.
func IsGRPCContentType(ct string) bool {
	rest, ok := strings.CutPrefix(ct, "application/grpc")
	return ok && (rest == "" || rest[0] == '+' || rest[0] == ';')
}

// GRPCStatus maps an HTTP status to a gRPC code exactly as Envoy's local replies do.
func GRPCStatus(status int) int {
	switch status {
	case http.StatusBadRequest:
		return grpcInternal
	case http.StatusUnauthorized:
		return grpcUnauthenticated
	case http.StatusForbidden:
		return grpcPermissionDenied
	case http.StatusNotFound:
		return grpcUnimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return grpcUnavailable
	default:
		return grpcUnknown
	}
}

// HTTPStatus maps a gRPC status to the HTTP status Envoy uses for it in statistics and outlier
// detection (Grpc::Utility::grpcToHttpStatus).
func HTTPStatus(grpcStatus int) int {
	switch grpcStatus {
	case 0:
		return http.StatusOK
	case 1: // canceled
		return 499
	case 3, 9, 11: // invalid_argument, failed_precondition, out_of_range
		return http.StatusBadRequest
	case 4: // deadline_exceeded
		return http.StatusGatewayTimeout
	case 5: // not_found
		return http.StatusNotFound
	case 6, 10: // already_exists, aborted
		return http.StatusConflict
	case 7:
		return http.StatusForbidden
	case 8: // resource_exhausted
		return http.StatusTooManyRequests
	case 12:
		return http.StatusNotImplemented
	case 14:
		return http.StatusServiceUnavailable
	case 16:
		return http.StatusUnauthorized
	default: // unknown, internal, data_loss
		return http.StatusInternalServerError
	}
}

// encodeGRPCMessage percent-encodes a grpc-message value as the gRPC spec requires.
func encodeGRPCMessage(s string) string {
	var b strings.Builder
	for i := range len(s) {
		if c := s[i]; c >= 0x20 && c <= 0x7e && c != '%' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
