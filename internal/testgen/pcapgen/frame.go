// Package pcapgen writes deterministic captures of HTTP API traffic: the
// test captures under testdata/, the demo capture, and the large captures
// that `make bench` generates on the fly. It is test tooling beside the
// pipeline, not part of it: nothing in the sensor imports it.
//
// Frames are built by hand into a reused buffer (correct IPv4, UDP and TCP
// checksums) so that the benchmark generator writes hundreds of megabytes
// per second. The same seed always gives the same bytes.
//
// Concurrency: a Writer and the Conns writing through it belong to one
// goroutine.
package pcapgen

import (
	"encoding/binary"
	"net/netip"
)

// Encap says how a TCP/IP packet is framed on the wire.
type Encap struct {
	Link   Link
	VLAN   []uint16 // 802.1Q tags, outer first (two with QinQ: outer 0x88a8)
	Tunnel Tunnel
	// TunnelSrc/Dst are the outer IPv4 addresses of a tunnel.
	TunnelSrc, TunnelDst netip.Addr
	TunnelID             uint32 // VNI or ERSPAN session
	IPv6Ext              bool   // add hop-by-hop and destination-options headers (IPv6)
}

// Link is the capture's link type.
type Link uint8

const (
	Ethernet Link = iota
	SLL
	SLL2
	RawIP
	PPPoE // Ethernet, PPPoE session, PPP
	CHDLC // Cisco HDLC
	NFLOG // Linux NFLOG (little-endian TLVs)
	PPP   // PPP with HDLC framing bytes
)

// LinkType is the pcap LINKTYPE_ value.
func (l Link) LinkType() uint32 {
	switch l {
	case SLL:
		return 113
	case SLL2:
		return 276
	case RawIP:
		return 101
	case CHDLC:
		return 104
	case NFLOG:
		return 239
	case PPP:
		return 9
	}
	return 1
}

// Tunnel is a mirror encapsulation.
type Tunnel uint8

const (
	NoTunnel Tunnel = iota
	VXLAN
	GENEVE
	ERSPAN2
	ERSPAN3
	Teredo // IPv6 segments in UDP/3544 over IPv4 (the inner addresses must be IPv6)
)

var (
	macA = [6]byte{0x02, 0, 0, 0, 0, 0x0a}
	macB = [6]byte{0x02, 0, 0, 0, 0, 0x0b}
)

// TCP flag bits.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
)

// Segment is one TCP segment between two endpoints.
type Segment struct {
	Src, Dst netip.AddrPort
	Seq, Ack uint32
	Flags    uint8
	Payload  []byte
}

func csumAdd(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

func csumFold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// appendIP appends an IP header (v4 or v6) for a payload of n bytes of
// protocol proto and returns the buffer and the pseudo-header checksum.
func appendIP(b []byte, src, dst netip.Addr, proto uint8, n int, ext bool) ([]byte, uint32) {
	var pseudo uint32
	if src.Is4() {
		h := len(b)
		b = append(b, 0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0)
		binary.BigEndian.PutUint16(b[h+2:], uint16(20+n))
		s, d := src.As4(), dst.As4()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
		binary.BigEndian.PutUint16(b[h+10:], csumFold(csumAdd(0, b[h:h+20])))
		pseudo = csumAdd(csumAdd(0, s[:]), d[:]) + uint32(proto) + uint32(n)
		return b, pseudo
	}
	extLen := 0
	if ext {
		extLen = 16
	}
	h := len(b)
	b = append(b, 0x60, 0, 0, 0, 0, 0, proto, 64)
	binary.BigEndian.PutUint16(b[h+4:], uint16(n+extLen))
	s, d := src.As16(), dst.As16()
	b = append(b, s[:]...)
	b = append(b, d[:]...)
	if ext {
		b[h+6] = 0 // hop-by-hop first
		// hop-by-hop: next = destination options (60), len 0, PadN
		b = append(b, 60, 0, 1, 4, 0, 0, 0, 0)
		// destination options: next = proto, len 0, PadN
		b = append(b, proto, 0, 1, 4, 0, 0, 0, 0)
	}
	pseudo = csumAdd(csumAdd(0, s[:]), d[:]) + uint32(proto) + uint32(n)
	return b, pseudo
}

// appendTCP appends a TCP header and payload with a correct checksum.
func appendTCP(b []byte, s *Segment, pseudo uint32) []byte {
	h := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, s.Flags, 0xff, 0xff, 0, 0, 0, 0)
	binary.BigEndian.PutUint16(b[h:], s.Src.Port())
	binary.BigEndian.PutUint16(b[h+2:], s.Dst.Port())
	binary.BigEndian.PutUint32(b[h+4:], s.Seq)
	binary.BigEndian.PutUint32(b[h+8:], s.Ack)
	b = append(b, s.Payload...)
	binary.BigEndian.PutUint16(b[h+16:], csumFold(csumAdd(pseudo, b[h:])))
	return b
}

// appendEther appends an Ethernet header with VLAN tags for ethertype et.
func appendEther(b []byte, vlans []uint16, et uint16) []byte {
	b = append(b, macB[:]...)
	b = append(b, macA[:]...)
	for i, v := range vlans {
		tpid := uint16(0x8100)
		if i == 0 && len(vlans) > 1 {
			tpid = 0x88a8
		}
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return binary.BigEndian.AppendUint16(b, et)
}

func ethertypeOf(a netip.Addr) uint16 {
	if a.Is4() {
		return 0x0800
	}
	return 0x86DD
}

// AppendFrame appends the frame carrying s under encapsulation e.
func (e *Encap) AppendFrame(b []byte, s *Segment) []byte {
	if e.Tunnel != NoTunnel {
		return e.appendTunnel(b, s)
	}
	et := ethertypeOf(s.Src.Addr())
	switch e.Link {
	case SLL:
		b = append(b, 0, 0, 0, 1, 0, 6)
		b = append(b, macA[:]...)
		b = append(b, 0, 0)
		b = binary.BigEndian.AppendUint16(b, et)
	case SLL2:
		b = binary.BigEndian.AppendUint16(b, et)
		b = append(b, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6)
		b = append(b, macA[:]...)
		b = append(b, 0, 0)
	case RawIP:
	case PPPoE, PPP:
		if e.Link == PPPoE {
			b = appendEther(b, e.VLAN, 0x8864)
			n := 2 + ipLen(s, e.IPv6Ext)
			b = append(b, 0x11, 0, 0x12, 0x34, byte(n>>8), byte(n))
		} else {
			b = append(b, 0xff, 0x03)
		}
		proto := uint16(0x0021) // IPv4
		if et == 0x86DD {
			proto = 0x0057
		}
		b = binary.BigEndian.AppendUint16(b, proto)
	case CHDLC:
		b = append(b, 0x0f, 0)
		b = binary.BigEndian.AppendUint16(b, et)
	case NFLOG:
		fam := byte(2)
		if et == 0x86DD {
			fam = 10
		}
		b = append(b, fam, 0, 0, 1)
		// NFULA_PACKET_HDR (type 1): hw protocol, hook, pad
		b = append(b, 8, 0, 1, 0, byte(et>>8), byte(et), 3, 0)
		// NFULA_PREFIX (type 10): "apitap\0", padded to 4
		b = append(b, 11, 0, 10, 0, 'a', 'p', 'i', 't', 'a', 'p', 0, 0)
		n := 4 + ipLen(s, e.IPv6Ext)
		b = append(b, byte(n), byte(n>>8), 9, 0) // NFULA_PAYLOAD
		b = appendIPTCP(b, s, e.IPv6Ext)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	default:
		b = appendEther(b, e.VLAN, et)
	}
	return appendIPTCP(b, s, e.IPv6Ext)
}

// ipLen is the length of the IP packet carrying s.
func ipLen(s *Segment, ext bool) int {
	n := 20 + 20 + len(s.Payload)
	if s.Src.Addr().Is6() {
		n += 20
		if ext {
			n += 16
		}
	}
	return n
}

func appendIPTCP(b []byte, s *Segment, ext bool) []byte {
	b, pseudo := appendIP(b, s.Src.Addr(), s.Dst.Addr(), 6, 20+len(s.Payload), ext)
	return appendTCP(b, s, pseudo)
}

func (e *Encap) appendTunnel(b []byte, s *Segment) []byte {
	// inner frame: Ethernet (with VLANs) + IP + TCP
	inner := make([]byte, 0, 64+len(s.Payload))
	if e.Tunnel != Teredo {
		inner = appendEther(inner, e.VLAN, ethertypeOf(s.Src.Addr()))
	}
	inner = appendIPTCP(inner, s, e.IPv6Ext)
	b = appendEther(b, nil, 0x0800)
	switch e.Tunnel {
	case Teredo:
		// an origin indication first (as relays send), then the IPv6 packet
		hdr := []byte{0, 0, 0x0d, 0x96, 0x3f, 0xf5, 0xfe, 0xf6}
		n := 8 + len(hdr) + len(inner)
		b, _ = appendIP(b, e.TunnelSrc, e.TunnelDst, 17, n, false)
		b = binary.BigEndian.AppendUint16(b, 3544)
		b = binary.BigEndian.AppendUint16(b, 40000+uint16(s.Src.Port()%1024))
		b = binary.BigEndian.AppendUint16(b, uint16(n))
		b = append(b, 0, 0)
		b = append(b, hdr...)
	case VXLAN, GENEVE:
		var hdr []byte
		port := uint16(4789)
		if e.Tunnel == VXLAN {
			hdr = []byte{0x08, 0, 0, 0, byte(e.TunnelID >> 16), byte(e.TunnelID >> 8), byte(e.TunnelID), 0}
		} else {
			port = 6081
			// version 0, one 8-byte option (opt len 2 words), protocol TEB
			hdr = []byte{0x02, 0, 0x65, 0x58, byte(e.TunnelID >> 16), byte(e.TunnelID >> 8), byte(e.TunnelID), 0,
				0x01, 0x02, 0x03, 0x01, 0xde, 0xad, 0xbe, 0xef}
		}
		n := 8 + len(hdr) + len(inner)
		b, _ = appendIP(b, e.TunnelSrc, e.TunnelDst, 17, n, false)
		b = binary.BigEndian.AppendUint16(b, 49152+uint16(s.Src.Port()%1024))
		b = binary.BigEndian.AppendUint16(b, port)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
		b = append(b, 0, 0) // UDP checksum 0 (allowed for IPv4, usual for VXLAN)
		b = append(b, hdr...)
	case ERSPAN2, ERSPAN3:
		var gre, ers []byte
		sess := byte(e.TunnelID & 0xff)
		if e.Tunnel == ERSPAN2 {
			gre = []byte{0x10, 0, 0x88, 0xBE, 0, 0, 0, 1} // S bit, seq 1
			ers = []byte{0x10, 0, byte(e.TunnelID>>8) & 0x03, sess, 0, 0, 0, 0}
		} else {
			gre = []byte{0x10, 0, 0x22, 0xEB, 0, 0, 0, 1}
			ers = []byte{0x20, 0, byte(e.TunnelID>>8) & 0x03, sess, 0, 0, 0, 0, 0, 0, 0, 0x01, // O flag
				0, 0, 0, 0, 0, 0, 0, 0} // platform-specific subheader
		}
		n := len(gre) + len(ers) + len(inner)
		b, _ = appendIP(b, e.TunnelSrc, e.TunnelDst, 47, n, false)
		b = append(b, gre...)
		b = append(b, ers...)
	}
	return append(b, inner...)
}
