package protomsg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Registry holds the services of a descriptor set. It is read-only once
// built and safe for concurrent use.
type Registry struct {
	methods map[string]*Method // by gRPC path: /package.Service/Method
	types   int
}

// Method is one RPC of a service in the descriptor set.
type Method struct {
	Path string // /package.Service/Method
	// ClientStreaming and ServerStreaming come from the .proto (stream
	// keywords).
	ClientStreaming, ServerStreaming bool
	Input, Output                    protoreflect.MessageDescriptor
}

// Load reads a FileDescriptorSet (protoc --descriptor_set_out=FILE
// --include_imports) from path.
func Load(path string) (*Registry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("proto descriptors: %w", err)
	}
	r, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("proto descriptors %s: %w", path, err)
	}
	return r, nil
}

// Parse builds a Registry from a serialized FileDescriptorSet.
func Parse(b []byte) (*Registry, error) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("not a FileDescriptorSet: %w", err)
	}
	if len(set.File) == 0 {
		return nil, fmt.Errorf("the descriptor set holds no file")
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, fmt.Errorf("%w (build it with protoc --include_imports)", err)
	}
	r := &Registry{methods: map[string]*Method{}}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		r.types += fd.Messages().Len()
		svcs := fd.Services()
		for i := 0; i < svcs.Len(); i++ {
			sd := svcs.Get(i)
			ms := sd.Methods()
			for j := 0; j < ms.Len(); j++ {
				md := ms.Get(j)
				p := "/" + string(sd.FullName()) + "/" + string(md.Name())
				r.methods[p] = &Method{Path: p, ClientStreaming: md.IsStreamingClient(), ServerStreaming: md.IsStreamingServer(),
					Input: md.Input(), Output: md.Output()}
			}
		}
		return true
	})
	if len(r.methods) == 0 {
		return nil, fmt.Errorf("the descriptor set defines no service")
	}
	return r, nil
}

// Methods is the number of RPC methods known.
func (r *Registry) Methods() int { return len(r.methods) }

// Method returns the method of a gRPC path, or nil.
func (r *Registry) Method(path string) *Method {
	if r == nil {
		return nil
	}
	return r.methods[path]
}

// AppendJSON appends msg decoded as a message of type md to dst as JSON
// (proto field names, enums by name, 64-bit integers as strings, bytes as
// base64, as protojson writes them), compacted. It reports false when msg
// does not parse as that type.
func AppendJSON(dst, msg []byte, md protoreflect.MessageDescriptor) ([]byte, bool) {
	m := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{RecursionLimit: 64}).Unmarshal(msg, m); err != nil {
		return dst, false
	}
	js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return dst, false
	}
	// protojson randomizes white space between builds: compact it
	var b bytes.Buffer
	b.Grow(len(js))
	if err := json.Compact(&b, js); err != nil {
		return dst, false
	}
	return append(dst, b.Bytes()...), true
}

// SplitPath splits a gRPC path /package.Service/Method into the service's
// full name and the method; ok is false for anything else.
func SplitPath(p string) (service, method string, ok bool) {
	if len(p) < 4 || p[0] != '/' {
		return "", "", false
	}
	i := strings.LastIndexByte(p, '/')
	if i <= 1 || i == len(p)-1 {
		return "", "", false
	}
	service, method = p[1:i], p[i+1:]
	if strings.IndexByte(service, '/') >= 0 {
		return "", "", false
	}
	return service, method, true
}
