// Package headers applies Envoy's header operations — header_mutation's remove and append, and
// the route's *_headers_to_add / *_headers_to_remove — to Go headers. Values are literal except
// for a value that is exactly one of the formatter commands the dev edge knows
// (%DOWNSTREAM_REMOTE_ADDRESS% and %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%, on requests); any
// other %COMMAND% is refused rather than sent as it is.
package headers

import (
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"

	mutationv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// Ops is a compiled list of header operations, applied in order.
type Ops []op

type op struct {
	remove bool
	key    string // canonical
	value  string
	format func(*http.Request) string // a formatter command instead of value
	action corev3.HeaderValueOption_HeaderAppendAction
}

// formats are the formatter commands the dev edge expands, from the downstream request.
var formats = map[string]func(*http.Request) string{
	"%DOWNSTREAM_REMOTE_ADDRESS%": func(r *http.Request) string { return r.RemoteAddr },
	"%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%": func(r *http.Request) string {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		return host
	},
}

var command = regexp.MustCompile(`%[A-Z_0-9]+(\([^)]*\))?(:[0-9]+)?%`)

// FromMutations compiles header_mutation's request or response mutations.
func FromMutations(ms []*mutationv3.HeaderMutation) (Ops, error) {
	var ops Ops
	for _, m := range ms {
		switch a := m.GetAction().(type) {
		case *mutationv3.HeaderMutation_Remove:
			o, err := removal(a.Remove)
			if err != nil {
				return nil, err
			}
			ops = append(ops, o)
		case *mutationv3.HeaderMutation_Append:
			o, ok, err := addition(a.Append)
			if err != nil {
				return nil, err
			}
			if ok {
				ops = append(ops, o)
			}
		default:
			return nil, fmt.Errorf("header mutation %T is not supported by the dev edge", a)
		}
	}
	return ops, nil
}

// FromOptions compiles a route's headers to remove (first) and to add.
func FromOptions(add []*corev3.HeaderValueOption, remove []string) (Ops, error) {
	var ops Ops
	for _, name := range remove {
		o, err := removal(name)
		if err != nil {
			return nil, err
		}
		ops = append(ops, o)
	}
	for _, hv := range add {
		o, ok, err := addition(hv)
		if err != nil {
			return nil, err
		}
		if ok {
			ops = append(ops, o)
		}
	}
	return ops, nil
}

func removal(name string) (op, error) {
	if err := checkName(name); err != nil {
		return op{}, err
	}
	return op{remove: true, key: http.CanonicalHeaderKey(name)}, nil
}

func addition(hv *corev3.HeaderValueOption) (op, bool, error) {
	h := hv.GetHeader()
	if err := checkName(h.GetKey()); err != nil {
		return op{}, false, err
	}
	value := h.GetValue()
	if len(h.GetRawValue()) > 0 {
		value = string(h.GetRawValue())
	}
	action := hv.GetAppendAction()
	if a := hv.GetAppend(); a != nil { // the deprecated form wins when set, as in Envoy
		action = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
		if a.GetValue() {
			action = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
		}
	}
	if value == "" && !hv.GetKeepEmptyValue() {
		return op{}, false, nil
	}
	o := op{key: http.CanonicalHeaderKey(h.GetKey()), value: value, action: action}
	if cmd := command.FindString(value); cmd != "" {
		if o.format = formats[value]; o.format == nil {
			return op{}, false, fmt.Errorf("header %s: %q: only a value that is exactly one of %%DOWNSTREAM_REMOTE_ADDRESS%% or %%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%% is expanded by the dev edge", h.GetKey(), value)
		}
	}
	return o, true, nil
}

func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, ":") || strings.EqualFold(name, "host") {
		return fmt.Errorf("header %q cannot be changed by the dev edge", name)
	}
	return nil
}

// Apply changes h (response headers: there is no downstream request to format from).
func (ops Ops) Apply(h http.Header) { ops.apply(h, nil) }

// ApplyRequest changes r's headers, expanding formatter commands from r.
func (ops Ops) ApplyRequest(r *http.Request) { ops.apply(r.Header, r) }

func (ops Ops) apply(h http.Header, r *http.Request) {
	for _, o := range ops {
		if o.remove {
			h.Del(o.key)
			continue
		}
		if o.format != nil {
			if r == nil {
				continue
			}
			o.value = o.format(r)
		}
		_, exists := h[o.key]
		switch o.action {
		case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
			h[o.key] = append(h[o.key], o.value)
		case corev3.HeaderValueOption_ADD_IF_ABSENT:
			if !exists {
				h[o.key] = []string{o.value}
			}
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
			h[o.key] = []string{o.value}
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
			if exists {
				h[o.key] = []string{o.value}
			}
		}
	}
}
