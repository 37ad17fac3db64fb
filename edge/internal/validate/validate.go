// Package validate checks Envoy resources the way Envoy does before accepting them: every field
// rule of Envoy's protos (protoc-gen-validate's ValidateAll) on the resource and, recursively, on
// every typed config (google.protobuf.Any) it carries, which ValidateAll alone does not open.
// Importing it registers the Envoy extensions Mercato's edge configuration uses, so that their
// Any values resolve.
package validate

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// Deep validates m and every Any nested in it, naming the path of the first offending field.
func Deep(m proto.Message) error {
	return deep(m.ProtoReflect(), string(m.ProtoReflect().Descriptor().Name()))
}

type validator interface{ ValidateAll() error }

func deep(m protoreflect.Message, path string) error {
	if v, ok := m.Interface().(validator); ok {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			return fmt.Errorf("%s: typed config %q: %w", path, a.GetTypeUrl(), err)
		}
		return deep(inner.ProtoReflect(), path+"("+string(inner.ProtoReflect().Descriptor().FullName())+")")
	}
	var errs []error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil {
			return true
		}
		name := path + "." + string(fd.Name())
		switch {
		case fd.IsList():
			for i := range v.List().Len() {
				errs = append(errs, deep(v.List().Get(i).Message(), fmt.Sprintf("%s[%d]", name, i)))
			}
		case fd.IsMap():
			if fd.MapValue().Message() == nil {
				return true
			}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				errs = append(errs, deep(mv.Message(), fmt.Sprintf("%s[%q]", name, k.String())))
				return true
			})
		default:
			errs = append(errs, deep(v.Message(), name))
		}
		return true
	})
	return errors.Join(errs...)
}
