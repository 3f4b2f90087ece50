// Package grpc reads gRPC calls out of HTTP/2 streams: the method from the
// path (/package.Service/Method), the length-prefixed messages of each
// direction (counted across every DATA byte, decoded from the kept ones,
// decompressed when the message is flagged compressed and grpc-encoding
// names a coding apitap decodes), the status and message from the trailers
// (or the headers of a trailers-only response), and the streaming kind
// (from the descriptor set when one is given, else from the message
// counts).
//
// Messages are rendered as JSON for the analyzers (package protomsg):
// field names when the method is in the descriptor set, field numbers
// without one. The rendering replaces the body's Data, so the analyzers
// read a gRPC body as JSON: one message as an object, several as an array.
// The content type stays application/grpc: an analyzer tells a rendered
// body from raw gRPC bytes by its first byte, '{' or '[' (raw gRPC bodies
// start with the compressed flag, 0 or 1).
//
// It sits below package http2 (which calls it when a stream's content type
// is application/grpc) and above protomsg. A Decoder holds scratch space
// and counters: one per reassembly worker, not safe for concurrent use.
package grpc
