// Package capture provides packet sources: the first stage of the pipeline.
//
// A Source yields raw link-layer frames with their capture metadata. This
// package holds the file source (pcap, pcapng, gzip-compressed either, or
// standard input); live sources (AF_PACKET, libpcap) plug in behind the same
// interface.
//
// Concurrency: a Source is read by one goroutine. The frame returned by Next
// is valid until the following call.
package capture
