// Package http2 is apitap's passive HTTP/2 parser: it sits inside
// reassembly next to package http1, receives the in-order bytes of both
// directions of one TCP connection that speaks HTTP/2, and reports each
// stream as an http1.Exchange, so that every analyzer reads HTTP/2 (and
// gRPC) transactions through the same fields as HTTP/1.x ones.
//
// How a connection becomes HTTP/2 is decided by the caller (package
// reassembly): the client connection preface (prior-knowledge h2c), a 101
// answer to "Upgrade: h2c" (the upgrade request becomes stream 1), ALPN
// "h2" once TLS plaintext is available, or frame-shaped bytes on a
// connection joined mid-stream (Detect). Conn.Start says which.
//
// Frames are parsed incrementally (RFC 9113 section 4): DATA payloads
// stream through without buffering beyond the kept body prefix; HEADERS,
// CONTINUATION and PUSH_PROMISE fragments are collected into one header
// block (bounded by Limits.MaxHeaderBytes) and decoded by a tolerant HPACK
// decoder (hpack.go) that keeps going after a late join: references to
// dynamic-table entries from before the join are marked unknown instead of
// failing. Flow control and priorities are ignored. Streams pair a request
// with its response by stream id; trailers, 1xx responses, RST_STREAM
// (reset and refused streams), GOAWAY (streams it refuses) and server push
// (PUSH_PROMISE) are recorded in StreamInfo. Bodies are decoded from
// Content-Encoding like HTTP/1.x ones; gRPC streams (content type
// application/grpc) are handed to package grpc, which counts messages,
// reads the status from the trailers and decodes the messages.
//
// A direction that starts mid-stream, or loses bytes (Gap), hunts for the
// next frame boundary: a chain of frame headers that obey RFC 9113's
// length, flag and stream rules. A gap inside a DATA payload of known
// length is skipped without a hunt; a gap that may have swallowed a header
// block makes that direction's HPACK table untrusted (late-join mode).
//
// Concurrency: a Conn is used by one goroutine (its reassembly worker).
// The Exchange passed to the Handler, and the byte slices inside it, are
// reused after the Handler returns; the strings are not and may be kept.
package http2
