package uprobe

import (
	"encoding/binary"
	"net/netip"
)

// Plaintext reaches reassembly as TCP segments of raw IP frames
// (LINKTYPE_RAW) between the connection's real addresses: a handshake when
// a connection is first seen, one segment per probe event, FINs when the
// socket is gone. Sequence numbers are the source's own, so that the TCP
// reassembly and the HTTP parser downstream work on them as on packets.

// TCP flags.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagPSH = 0x08
	flagACK = 0x10
)

// maxPayload bounds one frame's payload (an IPv4 total length is 16 bits).
const maxPayload = 65535 - 60

// appendFrame appends an IPv4 or IPv6 packet carrying a TCP segment from
// src to dst with the given sequence numbers, flags and payload
// (len(payload) <= maxPayload). Both addresses are of one family.
func appendFrame(b []byte, src, dst netip.AddrPort, seq, ack uint32, flags uint8, payload []byte) []byte {
	be := binary.BigEndian
	tcpLen := 20 + len(payload)
	if src.Addr().Is4() {
		h := len(b)
		b = append(b, 0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0)
		be.PutUint16(b[h+2:], uint16(20+tcpLen))
		s, d := src.Addr().As4(), dst.Addr().As4()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
		be.PutUint16(b[h+10:], ipChecksum(b[h:h+20]))
	} else {
		h := len(b)
		b = append(b, 0x60, 0, 0, 0, 0, 0, 6, 64)
		be.PutUint16(b[h+4:], uint16(tcpLen))
		s, d := src.Addr().As16(), dst.Addr().As16()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
	}
	t := len(b)
	b = append(b, make([]byte, 20)...)
	be.PutUint16(b[t:], src.Port())
	be.PutUint16(b[t+2:], dst.Port())
	be.PutUint32(b[t+4:], seq)
	be.PutUint32(b[t+8:], ack)
	b[t+12] = 5 << 4
	b[t+13] = flags
	be.PutUint16(b[t+14:], 65535) // window
	return append(b, payload...)
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
