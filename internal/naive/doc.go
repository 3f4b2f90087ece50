// Package naive is the baseline that `make bench` measures apitap against:
// HTTP/1.x transaction counting written the obvious way with stock parts.
//
// Where it sits: outside the sensor pipeline. Nothing in apitap imports it;
// only the command tools/apitap-naive does, and tools/apitap-bench
// runs that command next to apitap on the same capture.
//
// What it does, per packet: pcapgo reads a pcap or pcapng file (optionally
// gzip-compressed), gopacket.NewPacket fully decodes the frame with
// gopacket.Default (Ethernet, VLAN, IPv4/IPv6, TCP), and
// github.com/gopacket/gopacket/tcpassembly reassembles each direction into a
// tcpreader.ReaderStream. Per connection, one goroutine per direction runs
// net/http's ReadRequest or ReadResponse in a loop and reads every body to
// the end (net/http removes chunked framing); responses are paired with
// requests in FIFO order through a channel owned by the connection. A
// transaction is counted when a response to a queued request has been read
// completely. Connections idle for two minutes of capture time are flushed
// while reading, and all remaining ones at the end (FlushAll).
//
// It owns no state beyond one Run call. Concurrency: the assembler runs on
// the caller's goroutine; tcpreader makes it wait until the reader goroutine
// of a stream has consumed each segment, so capture order is preserved.
// Every reader goroutine consumes its stream to the end whatever it finds
// (malformed HTTP, a response without a request), so the assembler never
// waits forever, and Run returns only after all of them have finished.
//
// It is deliberately not optimised: it allocates per packet, copies every
// payload and switches goroutines per segment. That is the point of a
// baseline; it must only count correctly on well-formed traffic.
package naive
