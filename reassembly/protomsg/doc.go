// Package protomsg renders protocol buffer messages seen on the wire as
// JSON, so that analyzers written for JSON bodies (sensitive data, attacks,
// behaviour, schema inference) read gRPC messages too.
//
// Without a schema (AppendWire) a message is decoded on its wire format
// alone: keys are field numbers, varints and fixed-width values are
// numbers, and a length-delimited value is a nested message, a string or
// bytes (base64) depending on what its bytes parse as. With a descriptor
// set (Registry, from protoc --descriptor_set_out --include_imports, given
// with --proto-descriptors) the messages of known methods are decoded
// against their types with google.golang.org/protobuf (dynamicpb and
// protojson, proto field names as keys, output compacted so it is the same
// on every build).
//
// It sits below package grpc (which finds the messages in HTTP/2 DATA
// frames) and imports no other apitap package. Everything is bounded:
// nesting depth, output bytes. A Registry is read-only after Load and safe
// for concurrent use; a Wire decoder is not (one per worker).
package protomsg
