// Package reassembly turns TCP segments into HTTP transactions.
//
// It sits between capture/decode (package sensor) and the analyzers: a
// sensor worker hands it decoded TCP segments of the flows sharded to that
// worker, and it calls a Handler with each completed Transaction.
//
// It owns TCP stream state (gopacket's reassembly package, behind the
// Worker type so that nothing else depends on it) and the per-connection
// parser state: HTTP/1.x (package http1) or HTTP/2 (package http2, with
// gRPC). h2.go decides which parser a connection's bytes go to: the client
// preface, a 101 answer to "Upgrade: h2c", or, on a connection joined
// mid-stream, a chain of well-formed frame headers (the HTTP/1.x parser
// hunts in the same bytes meanwhile; an HTTP/1.x message decides the
// other way). A TLS decryption stage would start the HTTP/2 parser with
// http2.StartALPN when the ClientHello negotiated "h2" and feed it the
// plaintext. It imports no capture, Kafka or analyzer code.
//
// Concurrency: a Worker is used by exactly one goroutine. Run one Worker per
// shard; flows are sharded by a symmetric hash so both directions of a
// connection reach the same Worker. Time is capture time only: the Worker
// learns "now" from packet timestamps and Tick, never from the wall clock,
// so a replayed capture always yields the same transactions.
//
// Memory is bounded by Config: concurrent flows, pending connection attempts
// (SYNs wait outside the flow table until their connection answers, so a SYN
// flood can not fill it), buffered out-of-order bytes in total and per flow,
// body bytes kept per message, and idle timeouts. Everything dropped because
// of a bound is counted in Stats, as are overlapping segments that disagree
// (Stats.OverlapConflicts).
//
// Capture loss: a hole that the other side acknowledged is skipped at once
// (holes.go; Worker.Ack takes the pure ACKs of connections with a hole);
// a RST waits for the connection's next packet to show whether the endpoint
// honoured it (rst.go).
package reassembly
