package decode

import (
	"encoding/binary"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Options configure a Decoder. Zero values take defaults.
type Options struct {
	MaxDepth   int    // nested encapsulations; default 4
	VXLANPort  uint16 // default 4789
	GENEVEPort uint16 // default 6081
}

// Decoder decodes frames into a Packet. One per worker; not concurrent.
type Decoder struct {
	opts Options
	// addrs: only the addresses and ports are wanted (ShardDecoder); the
	// TCP header is not decoded
	addrs bool
}

// New returns a Decoder.
func New(opts Options) *Decoder {
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = 4
	}
	if opts.VXLANPort == 0 {
		opts.VXLANPort = 4789
	}
	if opts.GENEVEPort == 0 {
		opts.GENEVEPort = 6081
	}
	return &Decoder{opts: opts}
}

// ShardDecoder returns a Decoder for the reader that spreads frames over
// workers: Decode fills only Packet's addresses and ports (Src, Dst,
// SrcPort, DstPort) and reports OK for a TCP segment whose header is
// complete, without decoding the TCP header (options, payload) the way the
// worker's decoder does. The worker decodes the frame again and counts
// the result, so a segment only the full decoding refuses is dropped
// there, on whichever worker it lands.
func ShardDecoder(opts Options) *Decoder {
	d := New(opts)
	d.addrs = true
	return d
}

// TunnelIPIP marks IPv4/IPv6-in-IP encapsulation.
const TunnelIPIP TunnelType = TunnelERSPAN3 + 1

const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86DD
	etherVLAN  = 0x8100
	etherQinQ  = 0x88A8
	etherQinQ2 = 0x9100
	etherTEB   = 0x6558 // transparent Ethernet bridging (inner Ethernet)
	etherERS2  = 0x88BE
	etherERS3  = 0x22EB
	etherPPPoE = 0x8864 // PPPoE session stage
)

// TunnelTeredo marks IPv6 carried in UDP over IPv4 by Teredo.
const TunnelTeredo TunnelType = TunnelIPIP + 1

// Decode decodes data of the given link type into p. It never allocates.
func (d *Decoder) Decode(data []byte, link layers.LinkType, p *Packet) Result {
	p.VLAN = [2]uint16{}
	p.NVLAN = 0
	p.Tunnel = Tunnel{}
	switch link {
	case layers.LinkTypeEthernet:
		return d.ether(data, p, 0)
	case layers.LinkTypeLinuxSLL:
		if len(data) < 16 {
			return Truncated
		}
		return d.ethertype(binary.BigEndian.Uint16(data[14:16]), data[16:], p, 0)
	case layers.LinkTypeLinuxSLL2:
		if len(data) < 20 {
			return Truncated
		}
		return d.ethertype(binary.BigEndian.Uint16(data[0:2]), data[20:], p, 0)
	case layers.LinkTypeRaw, 12, 14:
		return d.rawIP(data, p, 0)
	case layers.LinkTypeIPv4:
		return d.ipv4(data, p, 0)
	case layers.LinkTypeIPv6:
		return d.ipv6(data, p, 0)
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(data) < 4 {
			return Truncated
		}
		return d.rawIP(data[4:], p, 0)
	case linkCHDLC:
		// Cisco HDLC: address (0x0f unicast, 0x8f broadcast), control 0,
		// then an ethertype
		if len(data) < 4 {
			return Truncated
		}
		return d.ethertype(binary.BigEndian.Uint16(data[2:4]), data[4:], p, 0)
	case layers.LinkTypePPP:
		return d.ppp(data, p, 0)
	case linkPPPEther:
		return d.pppoe(data, p, 0)
	case linkNFLOG:
		return d.nflog(data, p)
	}
	return UnsupportedLink
}

// Link types decoded beyond gopacket's named ones.
const (
	linkCHDLC    layers.LinkType = 104 // LINKTYPE_C_HDLC (Cisco HDLC)
	linkPPPEther layers.LinkType = 51  // LINKTYPE_PPP_ETHER (PPPoE header, no Ethernet)
	linkNFLOG    layers.LinkType = 239 // LINKTYPE_NFLOG (Linux netfilter log)
)

// ppp decodes a PPP frame: an optional HDLC address and control (0xff 0x03)
// and a protocol of one or two bytes.
func (d *Decoder) ppp(data []byte, p *Packet, depth int) Result {
	if len(data) >= 2 && data[0] == 0xff && data[1] == 0x03 {
		data = data[2:]
	}
	if len(data) < 1 {
		return Truncated
	}
	proto := uint16(data[0])
	if data[0]&1 == 0 { // two-byte protocol field
		if len(data) < 2 {
			return Truncated
		}
		proto, data = binary.BigEndian.Uint16(data[0:2]), data[2:]
	} else {
		data = data[1:]
	}
	switch proto {
	case 0x0021:
		return d.ipv4(data, p, depth)
	case 0x0057:
		return d.ipv6(data, p, depth)
	}
	return NotTCP
}

// pppoe decodes a PPPoE session header (RFC 2516) and the PPP frame in it.
func (d *Decoder) pppoe(data []byte, p *Packet, depth int) Result {
	if len(data) < 8 {
		return Truncated
	}
	if data[0] != 0x11 || data[1] != 0 { // version 1, type 1; code 0 (session data)
		return NotTCP
	}
	n := int(binary.BigEndian.Uint16(data[4:6]))
	data = data[6:]
	if n < len(data) {
		data = data[:n] // Ethernet padding after short frames
	}
	return d.ppp(data, p, depth)
}

// nflog decodes Linux NFLOG captures (LINKTYPE_NFLOG): a 4-byte header
// (address family, version, resource id) and TLVs whose length and type are
// in the capturing host's byte order (little endian on the hosts that make
// such captures; big endian is recognised by its small type values); the
// packet is the value of the NFULA_PAYLOAD (9) TLV, an IP packet.
func (d *Decoder) nflog(data []byte, p *Packet) Result {
	if len(data) < 4 {
		return Truncated
	}
	family := data[0]
	data = data[4:]
	for len(data) >= 4 {
		l, t := binary.LittleEndian.Uint16(data[0:2]), binary.LittleEndian.Uint16(data[2:4])
		if t&0x7fff > 0xff { // big-endian host
			l, t = binary.BigEndian.Uint16(data[0:2]), binary.BigEndian.Uint16(data[2:4])
		}
		if l < 4 || int(l) > len(data) {
			return Truncated
		}
		if t&0x7fff == 9 { // NFULA_PAYLOAD
			v := data[4:l]
			switch family {
			case 2:
				return d.ipv4(v, p, 0)
			case 10:
				return d.ipv6(v, p, 0)
			}
			return d.rawIP(v, p, 0)
		}
		adv := (int(l) + 3) &^ 3
		if adv > len(data) {
			return Truncated
		}
		data = data[adv:]
	}
	return NotTCP
}

// teredoPort is the UDP port of Teredo (RFC 4380): IPv6 over UDP/IPv4.
const teredoPort = 3544

// teredo decodes a Teredo payload: optional authentication and origin
// indications, then an IPv6 packet.
func (d *Decoder) teredo(payload []byte, src, dst netip.Addr, p *Packet, depth int) Result {
	for len(payload) >= 2 && payload[0] == 0 {
		switch payload[1] {
		case 1: // authentication: id-len, au-len, id, auth, nonce (8), confirmation (1)
			if len(payload) < 4 {
				return Truncated
			}
			n := 4 + int(payload[2]) + int(payload[3]) + 9
			if len(payload) < n {
				return Truncated
			}
			payload = payload[n:]
		case 0: // origin indication: 8 bytes
			if len(payload) < 8 {
				return Truncated
			}
			payload = payload[8:]
		default:
			return NotTCP
		}
	}
	if len(payload) < 40 || payload[0]>>4 != 6 {
		return NotTCP // Teredo bubbles and others: no IPv6 packet
	}
	d.setTunnel(p, TunnelTeredo, src, dst, 0)
	return d.ipv6(payload, p, depth+1)
}

func (d *Decoder) rawIP(data []byte, p *Packet, depth int) Result {
	if len(data) < 1 {
		return Truncated
	}
	switch data[0] >> 4 {
	case 4:
		return d.ipv4(data, p, depth)
	case 6:
		return d.ipv6(data, p, depth)
	}
	return Malformed
}

func (d *Decoder) ether(data []byte, p *Packet, depth int) Result {
	if len(data) < 14 {
		return Truncated
	}
	return d.ethertype(binary.BigEndian.Uint16(data[12:14]), data[14:], p, depth)
}

func (d *Decoder) ethertype(et uint16, data []byte, p *Packet, depth int) Result {
	for tags := 0; ; tags++ {
		switch et {
		case etherIPv4:
			return d.ipv4(data, p, depth)
		case etherIPv6:
			return d.ipv6(data, p, depth)
		case etherPPPoE:
			return d.pppoe(data, p, depth)
		case etherVLAN, etherQinQ, etherQinQ2:
			if len(data) < 4 {
				return Truncated
			}
			if tags > 8 {
				return Malformed
			}
			if depth == 0 && p.NVLAN < 2 {
				p.VLAN[p.NVLAN] = binary.BigEndian.Uint16(data[0:2]) & 0x0fff
				p.NVLAN++
			}
			et = binary.BigEndian.Uint16(data[2:4])
			data = data[4:]
		default:
			return NotTCP
		}
	}
}

func (d *Decoder) ipv4(data []byte, p *Packet, depth int) Result {
	if len(data) < 20 {
		return Truncated
	}
	if data[0]>>4 != 4 {
		return Malformed
	}
	ihl := int(data[0]&0x0f) * 4
	if ihl < 20 {
		return Malformed
	}
	if len(data) < ihl {
		return Truncated
	}
	total := int(binary.BigEndian.Uint16(data[2:4]))
	if total < ihl {
		if total != 0 { // 0: TSO-offloaded captures leave it unset
			return Malformed
		}
		total = len(data)
	}
	if total < len(data) {
		data = data[:total] // Ethernet padding
	}
	if frag := binary.BigEndian.Uint16(data[6:8]); frag&0x3fff != 0 {
		return Fragment
	}
	src := netip.AddrFrom4([4]byte(data[12:16]))
	dst := netip.AddrFrom4([4]byte(data[16:20]))
	return d.transport(data[9], data[ihl:], src, dst, data[12:16], data[16:20], layers.EndpointIPv4, p, depth)
}

func (d *Decoder) ipv6(data []byte, p *Packet, depth int) Result {
	if len(data) < 40 {
		return Truncated
	}
	if data[0]>>4 != 6 {
		return Malformed
	}
	plen := int(binary.BigEndian.Uint16(data[4:6]))
	if plen != 0 && 40+plen < len(data) {
		data = data[:40+plen]
	}
	next := data[6]
	src := netip.AddrFrom16([16]byte(data[8:24]))
	dst := netip.AddrFrom16([16]byte(data[24:40]))
	sb, db := data[8:24], data[24:40]
	rest := data[40:]
	for i := 0; i < 8; i++ {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(rest) < 8 {
				return Truncated
			}
			n := (int(rest[1]) + 1) * 8
			if len(rest) < n {
				return Truncated
			}
			next, rest = rest[0], rest[n:]
		case 51: // AH: length in 4-octet units minus 2
			if len(rest) < 8 {
				return Truncated
			}
			n := (int(rest[1]) + 2) * 4
			if len(rest) < n {
				return Truncated
			}
			next, rest = rest[0], rest[n:]
		case 44: // fragment
			if len(rest) < 8 {
				return Truncated
			}
			if binary.BigEndian.Uint16(rest[2:4])&0xfff9 != 0 { // offset or M flag
				return Fragment
			}
			next, rest = rest[0], rest[8:]
		default:
			return d.transport(next, rest, src, dst, sb, db, layers.EndpointIPv6, p, depth)
		}
	}
	return Malformed
}

func (d *Decoder) transport(proto uint8, data []byte, src, dst netip.Addr, sb, db []byte, et gopacket.EndpointType, p *Packet, depth int) Result {
	switch proto {
	case 6:
		return d.tcp(data, src, dst, sb, db, et, p)
	case 17:
		return d.udp(data, src, dst, p, depth)
	case 47:
		return d.gre(data, src, dst, p, depth)
	case 4, 41:
		if depth >= d.opts.MaxDepth {
			return TooDeep
		}
		d.setTunnel(p, TunnelIPIP, src, dst, 0)
		if proto == 4 {
			return d.ipv4(data, p, depth+1)
		}
		return d.ipv6(data, p, depth+1)
	}
	return NotTCP
}

func (d *Decoder) setTunnel(p *Packet, t TunnelType, src, dst netip.Addr, id uint32) {
	if p.Tunnel.Type == TunnelNone {
		p.Tunnel = Tunnel{Type: t, OuterSrc: src, OuterDst: dst, ID: id}
	}
}

func (d *Decoder) tcp(data []byte, src, dst netip.Addr, sb, db []byte, et gopacket.EndpointType, p *Packet) Result {
	if len(data) < 20 {
		return Truncated
	}
	off := int(data[12]>>4) * 4
	if off < 20 {
		return Malformed
	}
	if len(data) < off {
		return Truncated
	}
	if d.addrs {
		p.Src, p.Dst = src, dst
		p.SrcPort, p.DstPort = binary.BigEndian.Uint16(data[0:2]), binary.BigEndian.Uint16(data[2:4])
		return OK
	}
	if err := p.TCP.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
		return Malformed
	}
	p.Src, p.Dst = src, dst
	p.SrcPort, p.DstPort = uint16(p.TCP.SrcPort), uint16(p.TCP.DstPort)
	p.NetFlow = gopacket.NewFlow(et, sb, db)
	return OK
}

func (d *Decoder) udp(data []byte, src, dst netip.Addr, p *Packet, depth int) Result {
	if len(data) < 8 {
		return Truncated
	}
	port := binary.BigEndian.Uint16(data[2:4])
	payload := data[8:]
	switch port {
	case d.opts.VXLANPort:
		if depth >= d.opts.MaxDepth {
			return TooDeep
		}
		if len(payload) < 8 {
			return Truncated
		}
		if payload[0]&0x08 == 0 {
			return Malformed
		}
		vni := binary.BigEndian.Uint32(payload[4:8]) >> 8
		d.setTunnel(p, TunnelVXLAN, src, dst, vni)
		return d.ether(payload[8:], p, depth+1)
	case d.opts.GENEVEPort:
		if depth >= d.opts.MaxDepth {
			return TooDeep
		}
		if len(payload) < 8 {
			return Truncated
		}
		if payload[0]>>6 != 0 {
			return Malformed
		}
		optLen := int(payload[0]&0x3f) * 4
		if len(payload) < 8+optLen {
			return Truncated
		}
		vni := binary.BigEndian.Uint32(payload[4:8]) >> 8
		d.setTunnel(p, TunnelGENEVE, src, dst, vni)
		inner := payload[8+optLen:]
		switch binary.BigEndian.Uint16(payload[2:4]) {
		case etherTEB:
			return d.ether(inner, p, depth+1)
		case etherIPv4:
			return d.ipv4(inner, p, depth+1)
		case etherIPv6:
			return d.ipv6(inner, p, depth+1)
		}
		return NotTCP
	}
	if port == teredoPort || binary.BigEndian.Uint16(data[0:2]) == teredoPort {
		if depth >= d.opts.MaxDepth {
			return TooDeep
		}
		return d.teredo(payload, src, dst, p, depth)
	}
	return NotTCP
}

func (d *Decoder) gre(data []byte, src, dst netip.Addr, p *Packet, depth int) Result {
	if depth >= d.opts.MaxDepth {
		return TooDeep
	}
	if len(data) < 4 {
		return Truncated
	}
	flags := binary.BigEndian.Uint16(data[0:2])
	if flags&0x7 != 0 { // only GRE version 0 carries mirror traffic
		return NotTCP
	}
	proto := binary.BigEndian.Uint16(data[2:4])
	n := 4
	if flags&0x8000 != 0 { // checksum present
		n += 4
	}
	var key uint32
	if flags&0x2000 != 0 { // key present
		if len(data) < n+4 {
			return Truncated
		}
		key = binary.BigEndian.Uint32(data[n : n+4])
		n += 4
	}
	seqPresent := flags&0x1000 != 0
	if seqPresent {
		n += 4
	}
	if len(data) < n {
		return Truncated
	}
	inner := data[n:]
	switch proto {
	case etherTEB:
		d.setTunnel(p, TunnelGRE, src, dst, key)
		return d.ether(inner, p, depth+1)
	case etherIPv4:
		d.setTunnel(p, TunnelGRE, src, dst, key)
		return d.ipv4(inner, p, depth+1)
	case etherIPv6:
		d.setTunnel(p, TunnelGRE, src, dst, key)
		return d.ipv6(inner, p, depth+1)
	case etherERS2:
		if !seqPresent { // ERSPAN type I: no ERSPAN header
			d.setTunnel(p, TunnelERSPAN2, src, dst, 0)
			return d.ether(inner, p, depth+1)
		}
		if len(inner) < 8 {
			return Truncated
		}
		d.setTunnel(p, TunnelERSPAN2, src, dst, uint32(binary.BigEndian.Uint16(inner[2:4])&0x03ff))
		return d.ether(inner[8:], p, depth+1)
	case etherERS3:
		if len(inner) < 12 {
			return Truncated
		}
		session := uint32(binary.BigEndian.Uint16(inner[2:4]) & 0x03ff)
		hl := 12
		if inner[11]&0x01 != 0 { // O flag: 8-byte platform-specific subheader
			hl += 8
		}
		if len(inner) < hl {
			return Truncated
		}
		d.setTunnel(p, TunnelERSPAN3, src, dst, session)
		return d.ether(inner[hl:], p, depth+1)
	}
	return NotTCP
}
