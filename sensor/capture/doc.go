// Package capture provides packet sources: the first stage of the pipeline.
//
// A Source yields raw link-layer frames with their capture metadata. This
// package holds the file source (pcap, pcapng, gzip-compressed either, or
// standard input); live sources (AF_PACKET, libpcap) plug in behind the same
// interface. Classic pcap records are parsed in the file source's own
// read-ahead buffer (pcapReader, the same records and errors as pcapgo's
// reader, which reads the file header); pcapng goes through pcapgo.
//
// Concurrency: a Source is read by one goroutine. The frame returned by Next
// is valid until the following call.
package capture
