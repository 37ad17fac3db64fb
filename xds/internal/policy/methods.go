package policy

import (
	"strings"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"mercato.dev/proto/catalog"
)

// method is one RPC of the Mercato contracts, as the routes refer to it.
type method struct {
	procedure string // "/mercato.orders.v1.OrderService/GetOrder"
	service   string // "mercato.orders.v1.OrderService"
	pkg       string // "mercato.orders.v1"
	safe      bool   // idempotency_level NO_SIDE_EFFECTS: a GET-like read, safe to retry
}

var methods = sync.OnceValue(func() map[string]method {
	out := map[string]method{}
	for _, svc := range catalog.Services() {
		for i := range svc.Methods().Len() {
			m := svc.Methods().Get(i)
			out[catalog.Procedure(m)] = method{
				procedure: catalog.Procedure(m),
				service:   string(svc.FullName()),
				pkg:       string(svc.ParentFile().Package()),
				safe:      idempotency(m) == descriptorpb.MethodOptions_NO_SIDE_EFFECTS,
			}
		}
	}
	return out
})

func idempotency(m protoreflect.MethodDescriptor) descriptorpb.MethodOptions_IdempotencyLevel {
	opts, _ := m.Options().(*descriptorpb.MethodOptions)
	return opts.GetIdempotencyLevel()
}

// methodsUnder returns the methods a route matches: one for a path, a service's for a prefix.
func methodsUnder(r Route) []method {
	var out []method
	for proc, m := range methods() {
		if (r.Path != "" && proc == r.Path) || (r.Prefix != "" && strings.HasPrefix(proc, r.Prefix)) {
			out = append(out, m)
		}
	}
	return out
}

// Safe reports whether procedure is a read without side effects per its contract, the only
// kind of method the edge retries.
func Safe(procedure string) bool { return methods()[procedure].safe }

// ServiceOf returns the proto service a procedure belongs to, "" for an unknown one.
func ServiceOf(procedure string) string { return methods()[procedure].service }
