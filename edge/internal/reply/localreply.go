package reply

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"mercato.dev/edge/internal/headers"
	"mercato.dev/edge/internal/match"
)

// Reply is one answer the edge makes itself.
type Reply struct {
	Status int
	Body   string      // the edge's own text ("Jwt is missing", "upstream request timeout", …)
	Header http.Header // extra response headers (www-authenticate, x-envoy-overloaded, …)
	// GRPCStatus, when set, is the gRPC status of a gRPC request instead of the one mapped
	// from Status (the rate limiter's resource_exhausted).
	GRPCStatus *int
}

// Config is a compiled LocalReplyConfig. A nil *Config is Envoy's default: no mappers, the
// body as text/plain.
type Config struct {
	mappers []mapper
	format  *bodyFormat // body_format; nil: the text itself
}

type mapper struct {
	filter  filter
	status  int // 0: keep
	body    *string
	headers headers.Ops
	format  *bodyFormat
}

// New compiles c; nil gives nil.
func New(c *hcmv3.LocalReplyConfig) (*Config, error) {
	if c == nil {
		return nil, nil
	}
	out := &Config{}
	var err error
	if out.format, err = newBodyFormat(c.GetBodyFormat()); err != nil {
		return nil, fmt.Errorf("local_reply_config.body_format: %w", err)
	}
	for i, m := range c.GetMappers() {
		mp, err := newMapper(m)
		if err != nil {
			return nil, fmt.Errorf("local_reply_config.mappers[%d]: %w", i, err)
		}
		out.mappers = append(out.mappers, mp)
	}
	return out, nil
}

func newMapper(m *hcmv3.ResponseMapper) (mapper, error) {
	f, err := newFilter(m.GetFilter())
	if err != nil {
		return mapper{}, err
	}
	mp := mapper{filter: f, status: int(m.GetStatusCode().GetValue())}
	if b := m.GetBody(); b != nil {
		if b.GetFilename() != "" || b.GetEnvironmentVariable() != "" {
			return mapper{}, errors.New("body: only an inline body is supported by the dev edge")
		}
		text := b.GetInlineString() + string(b.GetInlineBytes())
		mp.body = &text
	}
	if mp.headers, err = headers.FromOptions(m.GetHeadersToAdd(), nil); err != nil {
		return mapper{}, err
	}
	if mp.format, err = newBodyFormat(m.GetBodyFormatOverride()); err != nil {
		return mapper{}, fmt.Errorf("body_format_override: %w", err)
	}
	return mp, nil
}

// Write answers r with rep, as Envoy's sendLocalReply does with this configuration.
func (c *Config) Write(w http.ResponseWriter, r *http.Request, rep Reply) {
	drain(w, r)
	h := w.Header()
	for k, vs := range rep.Header {
		h[k] = append(h[k], vs...)
	}
	status, body, contentType := rep.Status, rep.Body, "text/plain"
	customType := false
	if c != nil {
		before := h.Get("Content-Type")
		status, body, contentType = c.rewrite(r, h, rep)
		customType = h.Get("Content-Type") != before
	}
	if IsGRPC(r) {
		h.Set("Content-Type", "application/grpc")
		if h.Get("Grpc-Status") == "" {
			code := GRPCStatus(status)
			if rep.GRPCStatus != nil {
				code = *rep.GRPCStatus
			}
			h.Set("Grpc-Status", strconv.Itoa(code))
		}
		if body = strings.TrimSuffix(body, "\n"); body != "" && r.Method != http.MethodHead {
			h.Set("Grpc-Message", encodeGRPCMessage(body))
		}
		h.Del("Content-Length")
		w.WriteHeader(http.StatusOK)
		return
	}
	if body == "" {
		h.Del("Content-Type")
		h.Del("Content-Length")
		w.WriteHeader(status)
		return
	}
	if h.Get("Content-Type") == "" || (body != rep.Body && !customType) {
		h.Set("Content-Type", contentType)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// rewrite applies the first matching mapper, then the body format: Envoy's LocalReplyImpl.
func (c *Config) rewrite(r *http.Request, h http.Header, rep Reply) (status int, body, contentType string) {
	status, body = rep.Status, rep.Body
	format := c.format
	for _, m := range c.mappers {
		if !m.filter.match(r, rep.Status) {
			continue
		}
		if m.body != nil {
			body = *m.body
		}
		m.headers.Apply(h)
		if m.status != 0 {
			status = m.status
		}
		if m.format != nil {
			format = m.format
		}
		break
	}
	if format == nil {
		return status, body, "text/plain"
	}
	return status, format.render(body, status), format.contentType
}

// filter is a compiled AccessLogFilter, of the kinds a local reply mapper needs.
type filter interface {
	match(r *http.Request, status int) bool
}

type statusFilter struct {
	op    accesslogv3.ComparisonFilter_Op
	value int
}

func (f statusFilter) match(_ *http.Request, status int) bool {
	switch f.op {
	case accesslogv3.ComparisonFilter_GE:
		return status >= f.value
	case accesslogv3.ComparisonFilter_LE:
		return status <= f.value
	default:
		return status == f.value
	}
}

type headerFilter struct{ h *match.Header }

func (f headerFilter) match(r *http.Request, _ int) bool { return f.h.Match(r) }

type allFilter []filter

func (fs allFilter) match(r *http.Request, status int) bool {
	for _, f := range fs {
		if !f.match(r, status) {
			return false
		}
	}
	return true
}

type anyFilter []filter

func (fs anyFilter) match(r *http.Request, status int) bool {
	for _, f := range fs {
		if f.match(r, status) {
			return true
		}
	}
	return false
}

func newFilter(f *accesslogv3.AccessLogFilter) (filter, error) {
	switch s := f.GetFilterSpecifier().(type) {
	case *accesslogv3.AccessLogFilter_StatusCodeFilter:
		c := s.StatusCodeFilter.GetComparison()
		return statusFilter{op: c.GetOp(), value: int(c.GetValue().GetDefaultValue())}, nil
	case *accesslogv3.AccessLogFilter_HeaderFilter:
		h, err := match.NewHeader(s.HeaderFilter.GetHeader())
		return headerFilter{h}, err
	case *accesslogv3.AccessLogFilter_AndFilter:
		fs, err := newFilters(s.AndFilter.GetFilters())
		return allFilter(fs), err
	case *accesslogv3.AccessLogFilter_OrFilter:
		fs, err := newFilters(s.OrFilter.GetFilters())
		return anyFilter(fs), err
	default:
		return nil, fmt.Errorf("filter %T is not supported by the dev edge", s)
	}
}

func newFilters(in []*accesslogv3.AccessLogFilter) ([]filter, error) {
	out := make([]filter, 0, len(in))
	for _, f := range in {
		c, err := newFilter(f)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// bodyFormat is a SubstitutionFormatString with the commands a local reply uses:
// %LOCAL_REPLY_BODY% and %RESPONSE_CODE%.
type bodyFormat struct {
	text        *string
	json        map[string]string // field → template
	contentType string
}

var command = regexp.MustCompile(`%[A-Z_0-9]+(\([^)]*\))?(:[0-9]+)?%`)

func newBodyFormat(f *corev3.SubstitutionFormatString) (*bodyFormat, error) {
	if f == nil {
		return nil, nil
	}
	if len(f.GetFormatters()) > 0 || f.GetOmitEmptyValues() {
		return nil, errors.New("formatters and omit_empty_values are not supported by the dev edge")
	}
	out := &bodyFormat{contentType: f.GetContentType()}
	switch s := f.GetFormat().(type) {
	case *corev3.SubstitutionFormatString_TextFormat:
		out.text = &s.TextFormat
	case *corev3.SubstitutionFormatString_TextFormatSource:
		t := s.TextFormatSource.GetInlineString() + string(s.TextFormatSource.GetInlineBytes())
		if s.TextFormatSource.GetFilename() != "" || s.TextFormatSource.GetEnvironmentVariable() != "" {
			return nil, errors.New("text_format_source: only inline text is supported by the dev edge")
		}
		out.text = &t
	case *corev3.SubstitutionFormatString_JsonFormat:
		out.json = map[string]string{}
		for k, v := range s.JsonFormat.GetFields() {
			str, ok := v.GetKind().(*structpb.Value_StringValue)
			if !ok {
				return nil, fmt.Errorf("json_format.%s: only string values are supported by the dev edge", k)
			}
			out.json[k] = str.StringValue
		}
	default:
		return nil, fmt.Errorf("format %T is not supported by the dev edge", s)
	}
	if out.contentType == "" {
		out.contentType = "text/plain"
		if out.json != nil {
			out.contentType = "application/json"
		}
	}
	return out, out.check()
}

// check refuses commands the dev edge cannot substitute.
func (f *bodyFormat) check() error {
	templates := []string{}
	if f.text != nil {
		templates = append(templates, *f.text)
	}
	for _, t := range f.json {
		templates = append(templates, t)
	}
	for _, t := range templates {
		for _, cmd := range command.FindAllString(t, -1) {
			if cmd != "%LOCAL_REPLY_BODY%" && cmd != "%RESPONSE_CODE%" {
				return fmt.Errorf("command %s is not supported by the dev edge", cmd)
			}
		}
	}
	return nil
}

func (f *bodyFormat) render(body string, status int) string {
	sub := strings.NewReplacer("%LOCAL_REPLY_BODY%", body, "%RESPONSE_CODE%", strconv.Itoa(status))
	if f.text != nil {
		return sub.Replace(*f.text)
	}
	out := make(map[string]any, len(f.json))
	for k, t := range f.json {
		if t == "%RESPONSE_CODE%" {
			out[k] = status // a lone command keeps its type, as Envoy's JSON formatter does
			continue
		}
		out[k] = sub.Replace(t)
	}
	b, _ := json.Marshal(out) // strings and ints always marshal
	return string(b) + "\n"
}
