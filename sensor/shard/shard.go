// Package shard maps flows to workers with a symmetric hash, so that both
// directions of a TCP connection are handled by the same worker: the stage
// between decode and reassembly.
//
// Concurrency: stateless and safe for concurrent use; no allocation.
package shard

import (
	"net/netip"

	"github.com/apitap/apitap/sensor/decode"
)

const seed = 0x9e3779b97f4a7c15

// mix is a 64-bit finaliser (splitmix64).
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func endpoint(a netip.Addr, port uint16) uint64 {
	if a.Is4() {
		// address and port fit in 48 bits as they are: the mix in Hash
		// spreads them (cheaper than mixing each endpoint)
		b := a.As4()
		return uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(port)
	}
	b := a.As16()
	hi := uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 | uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
	lo := uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 | uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15])
	return mix(mix(hi^seed) ^ lo ^ uint64(port)<<1)
}

// Hash returns the same value for (a,ap,b,bp) and (b,bp,a,ap).
func Hash(a, b netip.Addr, ap, bp uint16) uint64 {
	x, y := endpoint(a, ap), endpoint(b, bp)
	if x > y {
		x, y = y, x
	}
	// Ordered combination: symmetric because the pair is sorted, and unlike
	// x^y it does not collapse when both endpoints hash alike.
	return mix(x*0x9e3779b97f4a7c15 + y)
}

// Of returns the worker index in [0,n) for the packet's inner flow.
func Of(p *decode.Packet, n int) int {
	if n <= 1 {
		return 0
	}
	return int(Hash(p.Src, p.Dst, p.SrcPort, p.DstPort) % uint64(n))
}
