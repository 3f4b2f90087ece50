// Package decode turns captured frames into TCP segments: the second stage
// of the pipeline, after capture and before sharding and reassembly.
//
// It decodes Ethernet, 802.1Q and QinQ, Linux SLL and SLL2, raw IP, loopback,
// PPP, PPPoE (ethertype 0x8864 and LINKTYPE_PPP_ETHER), Cisco HDLC, Linux
// NFLOG, IPv4, IPv6 with extension headers and TCP, and decapsulates mirror
// tunnels (VXLAN, GENEVE, GRE, ERSPAN I/II/III, IP-in-IP, Teredo), keeping
// the outermost tunnel's envelope in the Packet. TestTsharkAgrees checks the
// less common ones against tshark.
//
// Headers are parsed by hand with encoding/binary: faster than a general
// layer decoder and with zero allocations per packet. Only the TCP header is
// decoded with gopacket's layers.TCP, because reassembly consumes it.
//
// Concurrency: a Decoder and its Packet belong to one goroutine (one per
// worker). Results are counted by the caller per Result value.
package decode
