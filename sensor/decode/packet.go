package decode

import (
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TunnelType names the encapsulation a packet arrived in (outermost one kept).
type TunnelType uint8

const (
	TunnelNone TunnelType = iota
	TunnelVXLAN
	TunnelGENEVE
	TunnelGRE
	TunnelERSPAN2
	TunnelERSPAN3
)

var tunnelNames = [...]string{"", "vxlan", "geneve", "gre", "erspan2", "erspan3", "ipip", "teredo"}

func (t TunnelType) String() string {
	if int(t) < len(tunnelNames) {
		return tunnelNames[t]
	}
	return "unknown"
}

// Tunnel is the outer envelope of a decapsulated packet.
type Tunnel struct {
	Type     TunnelType
	OuterSrc netip.Addr
	OuterDst netip.Addr
	// ID is the VXLAN/GENEVE VNI, the GRE key, or the ERSPAN session id.
	ID uint32
}

// Result says what Decode made of a frame. It is a small integer, not an
// error, so that the packet path does not allocate; String gives the
// metric label.
type Result uint8

const (
	OK              Result = iota // a TCP segment: Packet is filled in
	NotTCP                        // a valid frame that carries no TCP (ARP, UDP, ICMP, ...)
	Truncated                     // a header runs past the end of the captured bytes
	Malformed                     // a header has impossible values (bad IHL, bad lengths, bad version)
	Fragment                      // an IP fragment (not reassembled; counted)
	UnsupportedLink               // a link type or ethertype we do not decode
	TooDeep                       // more nested encapsulations than MaxDepth
	numResults
)

var resultNames = [...]string{"ok", "not_tcp", "truncated", "malformed", "fragment", "unsupported_link", "too_deep"}

func (r Result) String() string {
	if r < numResults {
		return resultNames[r]
	}
	return "unknown"
}

// NumResults is the number of distinct Result values (for counter arrays).
const NumResults = int(numResults)

// Packet is what Decode fills in. One Packet per worker is reused for every
// frame: Decode never allocates. TCP.Payload and other slices point into the
// frame passed to Decode.
type Packet struct {
	// Inner (innermost) network addresses and TCP ports.
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	// NetFlow is the inner network flow as gopacket's reassembly wants it.
	NetFlow gopacket.Flow
	// TCP is the decoded TCP header; TCP.Payload is the segment's data.
	TCP layers.TCP
	// VLAN ids seen (outer first), up to two (802.1Q, QinQ); NVLAN how many.
	VLAN  [2]uint16
	NVLAN uint8
	// Tunnel describes the (outermost) encapsulation, if any.
	Tunnel Tunnel
}
