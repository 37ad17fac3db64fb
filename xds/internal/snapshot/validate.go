package snapshot

import (
	"errors"
	"fmt"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

type validatorAll interface{ ValidateAll() error }
type validator interface{ Validate() error }

// Validate checks m with Envoy's proto rules (ValidateAll, else Validate) and, since those
// rules stop at an Any, unpacks every nested typed config and checks it the same way. An Any
// of a type this binary does not know is an error: Envoy would not know it either.
func Validate(m proto.Message) error {
	switch v := m.(type) {
	case validatorAll:
		if err := v.ValidateAll(); err != nil {
			return err
		}
	case validator:
		if err := v.Validate(); err != nil {
			return err
		}
	}
	return validateNested(m.ProtoReflect())
}

func validateNested(m protoreflect.Message) error {
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Message() == nil:
		case fd.IsList():
			for i := range v.List().Len() {
				if err = validateValue(fd, v.List().Get(i).Message()); err != nil {
					return false
				}
			}
		case fd.IsMap():
			if fd.MapValue().Message() == nil {
				return true
			}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				err = validateValue(fd, mv.Message())
				if err != nil {
					err = fmt.Errorf("[%s]: %w", k.String(), err)
				}
				return err == nil
			})
		default:
			err = validateValue(fd, v.Message())
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", fd.Name(), err)
		}
		return err == nil
	})
	return err
}

func validateValue(fd protoreflect.FieldDescriptor, m protoreflect.Message) error {
	if fd.Message().FullName() != "google.protobuf.Any" {
		return validateNested(m)
	}
	a, ok := m.Interface().(*anypb.Any)
	if !ok {
		return errors.New("unexpected Any implementation")
	}
	inner, err := a.UnmarshalNew()
	if err != nil {
		return fmt.Errorf("typed config %s: %w", a.GetTypeUrl(), err)
	}
	if err := Validate(inner); err != nil {
		return fmt.Errorf("%s: %w", a.GetTypeUrl(), err)
	}
	return nil
}

// Consistent is go-control-plane's Snapshot.Consistent, extended to API listeners (which it
// does not read): every RDS and EDS resource is referenced, and every reference resolves.
// It checks a view of snap in which each API listener appears as a listener whose filter
// chain holds the same HTTP connection manager.
func Consistent(snap *cache.Snapshot) error {
	listeners := snap.GetResources(resource.ListenerType)
	if !hasAPIListener(listeners) {
		return snap.Consistent()
	}
	view := map[resource.Type][]types.Resource{}
	for _, typ := range []resource.Type{resource.RouteType, resource.ClusterType, resource.EndpointType} {
		for _, r := range snap.GetResources(typ) {
			view[typ] = append(view[typ], r)
		}
	}
	for _, r := range listeners {
		l := r.(*listener.Listener)
		if api := l.GetApiListener().GetApiListener(); api != nil {
			l = &listener.Listener{Name: l.GetName(), FilterChains: []*listener.FilterChain{{
				Filters: []*listener.Filter{{Name: wellknown.HTTPConnectionManager, ConfigType: &listener.Filter_TypedConfig{TypedConfig: api}}},
			}}}
		}
		view[resource.ListenerType] = append(view[resource.ListenerType], l)
	}
	v, err := cache.NewSnapshot(Version(snap), view)
	if err != nil {
		return err
	}
	return v.Consistent()
}

func hasAPIListener(listeners map[string]types.Resource) bool {
	for _, r := range listeners {
		if r.(*listener.Listener).GetApiListener() != nil {
			return true
		}
	}
	return false
}
