package snapshot

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"

	accesslog "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// localReply is how the edge words one of its own answers in each protocol.
type localReply struct {
	status  uint32 // the HTTP status the edge answers with
	connect string // Connect error code
	grpc    int    // gRPC status code
	message string // for gRPC-Web, and for Connect when the edge's own text is empty
}

// localReplies are the statuses the edge answers itself: a missing or bad token (401), a token
// for another audience (403), no route (404), a body over the limit (413), a rate limit (429),
// no upstream or an overflow (503), a timeout (504).
var localReplies = []localReply{
	{http.StatusUnauthorized, "unauthenticated", 16, "missing or invalid access token"},
	{http.StatusForbidden, "permission_denied", 7, "access token not valid for this service"},
	{http.StatusNotFound, "unimplemented", 12, "no public route for this method"},
	{http.StatusRequestEntityTooLarge, "resource_exhausted", 8, "request body too large"},
	{http.StatusTooManyRequests, "resource_exhausted", 8, "too many requests"},
	{http.StatusServiceUnavailable, "unavailable", 14, "service unavailable"},
	{http.StatusGatewayTimeout, "deadline_exceeded", 4, "upstream request timeout"},
}

// localReplyConfig makes every local reply a protocol error (the HCM's local_reply_config):
//   - Connect (application/json, application/proto, or a Connect-Protocol-Version header): the
//     HTTP status kept, body {"code","message"} as application/json, the message the edge's own
//     text (Envoy's "Jwt is missing", …);
//   - gRPC-Web (application/grpc-web…): HTTP 200, trailers-only, grpc-status and grpc-message;
//   - gRPC: Envoy answers trailers-only by itself; the mapper sets grpc-status where Envoy's
//     mapping from HTTP is not the meaningful code (413, 429 → resource_exhausted, 504 →
//     deadline_exceeded).
//
// Anything else (a browser's GET, curl without a content type) gets Envoy's plain text.
func localReplyConfig() *hcm.LocalReplyConfig {
	var mappers []*hcm.ResponseMapper
	for _, lr := range localReplies {
		mappers = append(mappers, lr.grpcMapper(), lr.grpcWebMapper(), lr.connectMapper())
	}
	return &hcm.LocalReplyConfig{Mappers: mappers}
}

func (lr localReply) connectMapper() *hcm.ResponseMapper {
	m := &hcm.ResponseMapper{
		Filter: and(statusIs(lr.status), or(
			headerMatches("content-type", `^application/(json|proto)(;.*)?$`),
			headerPresent("connect-protocol-version"),
		)),
		BodyFormatOverride: &core.SubstitutionFormatString{
			Format: &core.SubstitutionFormatString_JsonFormat{JsonFormat: &structpb.Struct{Fields: map[string]*structpb.Value{
				"code":    structpb.NewStringValue(lr.connect),
				"message": structpb.NewStringValue("%LOCAL_REPLY_BODY%"),
			}}},
			ContentType: "application/json",
		},
	}
	m.Body = lr.emptyBody()
	return m
}

// emptyBody is the text of a reply that has none of its own (Envoy's 404), else nil.
func (lr localReply) emptyBody() *core.DataSource {
	if lr.status != http.StatusNotFound {
		return nil
	}
	return &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: lr.message}}
}

func (lr localReply) grpcWebMapper() *hcm.ResponseMapper {
	return &hcm.ResponseMapper{
		Filter:     and(statusIs(lr.status), headerMatches("content-type", `^application/grpc-web.*`)),
		StatusCode: wrapperspb.UInt32(http.StatusOK),
		HeadersToAdd: []*core.HeaderValueOption{
			header("grpc-status", strconv.Itoa(lr.grpc)),
			header("grpc-message", lr.message),
		},
		// The status again as a gRPC-Web trailers frame: clients insist on a gRPC-Web content
		// type, which Envoy sends only with a body.
		BodyFormatOverride: &core.SubstitutionFormatString{
			Format: &core.SubstitutionFormatString_TextFormatSource{TextFormatSource: &core.DataSource{
				Specifier: &core.DataSource_InlineBytes{InlineBytes: grpcWebTrailers(lr.grpc, lr.message)},
			}},
			ContentType: "application/grpc-web+proto",
		},
	}
}

// grpcWebTrailers is a gRPC-Web trailers frame (flag 0x80, 32-bit length, HTTP/1 style header
// lines) carrying status and message. The frame must hold no '%', which the formatter would
// read as a command: the message gains spaces until its length bytes hold none either.
func grpcWebTrailers(status int, message string) []byte {
	for {
		block := fmt.Sprintf("grpc-status: %d\r\ngrpc-message: %s\r\n", status, message)
		frame := binary.BigEndian.AppendUint32([]byte{0x80}, uint32(len(block)))
		frame = append(frame, block...)
		if !bytes.ContainsRune(frame, '%') {
			return frame
		}
		message += " "
	}
}

func (lr localReply) grpcMapper() *hcm.ResponseMapper {
	return &hcm.ResponseMapper{
		Filter:       and(statusIs(lr.status), headerMatches("content-type", `^application/grpc([+;].*)?$`)),
		HeadersToAdd: []*core.HeaderValueOption{header("grpc-status", strconv.Itoa(lr.grpc))},
		Body:         lr.emptyBody(),
	}
}

func statusIs(code uint32) *accesslog.AccessLogFilter {
	return &accesslog.AccessLogFilter{FilterSpecifier: &accesslog.AccessLogFilter_StatusCodeFilter{StatusCodeFilter: &accesslog.StatusCodeFilter{
		Comparison: &accesslog.ComparisonFilter{
			Op:    accesslog.ComparisonFilter_EQ,
			Value: &core.RuntimeUInt32{DefaultValue: code, RuntimeKey: fmt.Sprintf("mercato.local_reply.status_%d", code)},
		},
	}}}
}

func headerMatches(name, regex string) *accesslog.AccessLogFilter {
	return headerFilter(&route.HeaderMatcher{Name: name, HeaderMatchSpecifier: &route.HeaderMatcher_StringMatch{StringMatch: &matcher.StringMatcher{
		MatchPattern: &matcher.StringMatcher_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: regex}},
	}}})
}

func headerPresent(name string) *accesslog.AccessLogFilter {
	return headerFilter(&route.HeaderMatcher{Name: name, HeaderMatchSpecifier: &route.HeaderMatcher_PresentMatch{PresentMatch: true}})
}

func headerFilter(h *route.HeaderMatcher) *accesslog.AccessLogFilter {
	return &accesslog.AccessLogFilter{FilterSpecifier: &accesslog.AccessLogFilter_HeaderFilter{HeaderFilter: &accesslog.HeaderFilter{Header: h}}}
}

func and(fs ...*accesslog.AccessLogFilter) *accesslog.AccessLogFilter {
	return &accesslog.AccessLogFilter{FilterSpecifier: &accesslog.AccessLogFilter_AndFilter{AndFilter: &accesslog.AndFilter{Filters: fs}}}
}

func or(fs ...*accesslog.AccessLogFilter) *accesslog.AccessLogFilter {
	return &accesslog.AccessLogFilter{FilterSpecifier: &accesslog.AccessLogFilter_OrFilter{OrFilter: &accesslog.OrFilter{Filters: fs}}}
}

func header(key, value string) *core.HeaderValueOption {
	return &core.HeaderValueOption{
		Header:       &core.HeaderValue{Key: key, Value: value},
		AppendAction: core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}
