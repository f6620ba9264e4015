// Command envoyvalidate checks Envoy bootstrap files (YAML) against Envoy's
// API as go-control-plane publishes it: every field must exist (protojson
// refuses unknown ones), every typed_config must name a known type and be
// valid for it, and every protoc-gen-validate rule of Envoy's protos must
// hold (required fields, ranges, enums). No Envoy binary is packaged for
// Debian, so this is what authgate's tests can run; it does not resolve
// names, open files or bind ports, which only Envoy would.
//
// It is its own module so that go-control-plane and gRPC stay out of
// authgate's go.mod; internal/testenv builds it once per test process.
//
// Usage: envoyvalidate FILE...   (exit 1 with every problem on stderr)
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	bootstrap "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"gopkg.in/yaml.v3"

	// The extensions authgate's example configs use: each registers its
	// types, so that a typed_config naming one can be resolved.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

func main() {
	failed := false
	for _, name := range os.Args[1:] {
		if err := validateFile(name); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			failed = true
		}
	}
	if failed || len(os.Args) < 2 {
		os.Exit(1)
	}
}

func validateFile(name string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("not representable as JSON: %w", err)
	}
	var bs bootstrap.Bootstrap
	if err := protojson.Unmarshal(js, &bs); err != nil {
		return err
	}
	return validate(&bs, "")
}

// validator is what protoc-gen-validate generates on every Envoy message.
type validator interface{ ValidateAll() error }

// validate checks m's rules (ValidateAll follows embedded messages, but
// not into an Any), then the contents of every Any below m, and refuses
// deprecated fields: Envoy warns about them and drops them in time.
func validate(m proto.Message, path string) error {
	var errs []error
	if v, ok := m.(validator); ok {
		if err := v.ValidateAll(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pathOr(path), err))
		}
	}
	walk(m, path, func(m proto.Message, path string) {
		a, ok := m.(*anypb.Any)
		if !ok {
			return
		}
		inner, err := a.UnmarshalNew()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", path, a.GetTypeUrl(), err))
			return
		}
		errs = append(errs, validate(inner, path+"<"+string(inner.ProtoReflect().Descriptor().FullName())+">"))
	}, func(fd protoreflect.FieldDescriptor, path string) {
		if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetDeprecated() {
			errs = append(errs, fmt.Errorf("%s: %s is deprecated in Envoy's API", path, fd.FullName()))
		}
	})
	return errors.Join(errs...)
}

// walk calls message for every message set below m (not m itself; an Any
// is not entered), and field for every field set in them and in m.
func walk(m proto.Message, path string, message func(proto.Message, string), field func(protoreflect.FieldDescriptor, string)) {
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		at := path + "." + string(fd.Name())
		field(fd, at)
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		each := func(m proto.Message, at string) {
			message(m, at)
			if _, isAny := m.(*anypb.Any); !isAny {
				walk(m, at, message, field)
			}
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				each(l.Get(i).Message().Interface(), fmt.Sprintf("%s[%d]", at, i))
			}
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					each(mv.Message().Interface(), fmt.Sprintf("%s[%v]", at, k.Interface()))
					return true
				})
			}
		default:
			each(v.Message().Interface(), at)
		}
		return true
	})
}

func pathOr(p string) string {
	if p == "" {
		return "bootstrap"
	}
	return p
}
