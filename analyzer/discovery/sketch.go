package discovery

import (
	"math"
	"math/bits"
	"net/netip"
)

// sketchP is the precision of the distinct counters: 2^sketchP one-byte
// registers (256 bytes, about 6.5% standard error).
const sketchP = 8

// sketch is a HyperLogLog distinct counter: fixed size, mergeable, and it
// never holds the values it counts (client IPs, users).
type sketch struct {
	reg [1 << sketchP]uint8
	// exact holds the first distinct hashes, so small counts are exact;
	// n > len(exact) means the registers alone count.
	exact [24]uint64
	n     uint8
}

func (s *sketch) remember(h uint64) {
	if int(s.n) > len(s.exact) {
		return
	}
	for _, x := range s.exact[:s.n] {
		if x == h {
			return
		}
	}
	if int(s.n) < len(s.exact) {
		s.exact[s.n] = h
	}
	s.n++
}

// hash64 is FNV-1a with a murmur3 finaliser: stable across processes.
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func (s *sketch) add(v string) { s.addHash(hash64(v)) }

// addAddr adds an IP address without formatting it.
func (s *sketch) addAddr(a netip.Addr) {
	b := a.Unmap().As16()
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	s.addHash(h)
}

func (s *sketch) addHash(h uint64) {
	s.remember(h)
	i := h >> (64 - sketchP)
	w := h<<sketchP | 1<<(sketchP-1)
	r := uint8(bits.LeadingZeros64(w) + 1)
	if r > s.reg[i] {
		s.reg[i] = r
	}
}

func (s *sketch) merge(o *sketch) {
	if int(o.n) > len(o.exact) {
		s.n = uint8(len(s.exact) + 1)
	} else {
		for _, h := range o.exact[:o.n] {
			s.remember(h)
		}
	}
	for i, r := range o.reg {
		if r > s.reg[i] {
			s.reg[i] = r
		}
	}
}

// count estimates the number of distinct values added.
func (s *sketch) count() uint64 {
	if int(s.n) <= len(s.exact) {
		return uint64(s.n)
	}
	const m = 1 << sketchP
	var sum float64
	zeros := 0
	for _, r := range s.reg {
		sum += 1 / float64(uint64(1)<<r)
		if r == 0 {
			zeros++
		}
	}
	alpha := 0.7213 / (1 + 1.079/m)
	e := alpha * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros)) // linear counting for small sets
	}
	return uint64(e + 0.5)
}
