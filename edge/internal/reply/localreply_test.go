package reply_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/edge/internal/reply"
)

func contentType(regex string) *accesslogv3.AccessLogFilter {
	return &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_HeaderFilter{HeaderFilter: &accesslogv3.HeaderFilter{
		Header: &routev3.HeaderMatcher{Name: "content-type", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
			MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: regex}},
		}}},
	}}}
}

func status(code uint32) *accesslogv3.AccessLogFilter {
	return &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_StatusCodeFilter{StatusCodeFilter: &accesslogv3.StatusCodeFilter{
		Comparison: &accesslogv3.ComparisonFilter{Op: accesslogv3.ComparisonFilter_EQ, Value: &corev3.RuntimeUInt32{DefaultValue: code, RuntimeKey: "k"}},
	}}}
}

func and(fs ...*accesslogv3.AccessLogFilter) *accesslogv3.AccessLogFilter {
	return &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_AndFilter{AndFilter: &accesslogv3.AndFilter{Filters: fs}}}
}

// TestMappersShapeTheReply: the local reply configuration decides the answer: a Connect JSON
// error, a gRPC-Web trailers-only status, a gRPC status other than Envoy's default mapping.
func TestMappersShapeTheReply(t *testing.T) {
	t.Parallel()
	cfg, err := reply.New(&hcmv3.LocalReplyConfig{Mappers: []*hcmv3.ResponseMapper{
		{
			Filter:       and(status(429), contentType(`^application/grpc([+;].*)?$`)),
			HeadersToAdd: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "grpc-status", Value: "8"}}},
		},
		{
			Filter:             and(status(429), contentType(`^application/grpc-web.*`)),
			StatusCode:         wrapperspb.UInt32(200),
			HeadersToAdd:       []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "grpc-status", Value: "8"}}},
			BodyFormatOverride: &corev3.SubstitutionFormatString{Format: &corev3.SubstitutionFormatString_TextFormat{}},
		},
		{
			Filter: and(status(429), contentType(`^application/json`)),
			BodyFormatOverride: &corev3.SubstitutionFormatString{Format: &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: &structpb.Struct{Fields: map[string]*structpb.Value{
				"code": structpb.NewStringValue("resource_exhausted"), "message": structpb.NewStringValue("%LOCAL_REPLY_BODY%"), "status": structpb.NewStringValue("%RESPONSE_CODE%"),
			}}}},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	answer := func(ct string, status int) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader("{}"))
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		cfg.Write(w, r, reply.Reply{Status: status, Body: "local_rate_limited"})
		return w
	}
	w := answer("application/json", 429)
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 429 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("Connect: %d %q %s (%v)", w.Code, w.Header().Get("Content-Type"), w.Body, err)
	}
	if got["code"] != "resource_exhausted" || got["message"] != "local_rate_limited" || got["status"] != float64(429) {
		t.Errorf("Connect body %v", got)
	}
	w = answer("application/grpc-web+proto", 429)
	if w.Code != 200 || w.Header().Get("Grpc-Status") != "8" || w.Body.Len() != 0 || w.Header().Get("Content-Type") != "" {
		t.Errorf("gRPC-Web: %d grpc-status %q body %q", w.Code, w.Header().Get("Grpc-Status"), w.Body)
	}
	w = answer("application/grpc", 429)
	if w.Code != 200 || w.Header().Get("Grpc-Status") != "8" || w.Header().Get("Grpc-Message") != "local_rate_limited" {
		t.Errorf("gRPC: %d grpc-status %q message %q", w.Code, w.Header().Get("Grpc-Status"), w.Header().Get("Grpc-Message"))
	}
	w = answer("application/grpc", 503) // no mapper: Envoy's mapping
	if w.Header().Get("Grpc-Status") != "14" {
		t.Errorf("gRPC 503: grpc-status %q, want 14", w.Header().Get("Grpc-Status"))
	}
	w = answer("text/plain", 429) // no mapper: plain text
	if w.Code != 429 || w.Body.String() != "local_rate_limited" || w.Header().Get("Content-Type") != "text/plain" {
		t.Errorf("plain: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if _, err := reply.New(&hcmv3.LocalReplyConfig{BodyFormat: &corev3.SubstitutionFormatString{
		Format: &corev3.SubstitutionFormatString_TextFormat{TextFormat: "%START_TIME% %LOCAL_REPLY_BODY%"},
	}}); err == nil || !strings.Contains(err.Error(), "%START_TIME%") {
		t.Errorf("an unsupported command: %v", err)
	}
}
