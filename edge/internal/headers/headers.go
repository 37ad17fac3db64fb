// Package headers applies Envoy's header operations — header_mutation's remove and append, and
// the route's *_headers_to_add / *_headers_to_remove — to Go headers. Values are literal: the
// dev edge does not expand Envoy's %FORMATTER% substitutions.
package headers

import (
	"fmt"
	"net/http"
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
	action corev3.HeaderValueOption_HeaderAppendAction
}

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
	return op{key: http.CanonicalHeaderKey(h.GetKey()), value: value, action: action}, true, nil
}

func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, ":") || strings.EqualFold(name, "host") {
		return fmt.Errorf("header %q cannot be changed by the dev edge", name)
	}
	return nil
}

// Apply changes h.
func (ops Ops) Apply(h http.Header) {
	for _, o := range ops {
		if o.remove {
			h.Del(o.key)
			continue
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
