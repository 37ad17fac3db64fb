package headers_test

import (
	"net/http"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mercato.dev/edge/internal/headers"
)

func TestOptions(t *testing.T) {
	t.Parallel()
	add := func(k, v string, a corev3.HeaderValueOption_HeaderAppendAction) *corev3.HeaderValueOption {
		return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v}, AppendAction: a}
	}
	ops, err := headers.FromOptions([]*corev3.HeaderValueOption{
		add("x-append", "2", corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD),
		add("x-absent", "new", corev3.HeaderValueOption_ADD_IF_ABSENT),
		add("x-present", "new", corev3.HeaderValueOption_ADD_IF_ABSENT),
		add("x-over", "new", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD),
		add("x-only-if", "new", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS),
		{Header: &corev3.HeaderValue{Key: "x-legacy", Value: "new"}, Append: wrapperspb.Bool(false)},
	}, []string{"x-mercato-claims"})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"X-Append": {"1"}, "X-Present": {"old"}, "X-Over": {"old"}, "X-Legacy": {"old", "older"}, "X-Mercato-Claims": {"forged"}}
	ops.Apply(h)
	want := http.Header{"X-Append": {"1", "2"}, "X-Absent": {"new"}, "X-Present": {"old"}, "X-Over": {"new"}, "X-Legacy": {"new"}}
	for k, v := range want {
		if got := h.Values(k); len(got) != len(v) || got[0] != v[0] || got[len(got)-1] != v[len(v)-1] {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	if h.Get("X-Only-If") != "" || h.Get("X-Mercato-Claims") != "" {
		t.Errorf("headers %v", h)
	}
	if _, err := headers.FromOptions(nil, []string{":path"}); err == nil {
		t.Error("pseudo-header removal accepted")
	}
}

func TestClientAddressFormatter(t *testing.T) {
	t.Parallel()
	ops, err := headers.FromOptions([]*corev3.HeaderValueOption{{
		Header:       &corev3.HeaderValue{Key: "x-mercato-client-address", Value: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}}, []string{"x-mercato-client-address"})
	if err != nil {
		t.Fatal(err)
	}
	for remote, want := range map[string]string{"203.0.113.7:4711": "203.0.113.7", "[2001:db8::1]:443": "2001:db8::1"} {
		r, _ := http.NewRequest(http.MethodPost, "https://edge/x", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Mercato-Client-Address", "10.0.0.1") // forged by the client
		ops.ApplyRequest(r)
		if got := r.Header.Values("X-Mercato-Client-Address"); len(got) != 1 || got[0] != want {
			t.Errorf("from %s: %q, want [%s]", remote, got, want)
		}
	}
	if _, err := headers.FromOptions([]*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-start", Value: "%START_TIME%"}}}, nil); err == nil {
		t.Error("an unsupported formatter command was accepted (it would be sent literally)")
	}
}
