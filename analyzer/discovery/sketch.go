package discovery

import (
	"math"
	"math/bits"
	"net/netip"
)

// sketchP is the precision of the distinct counters: 2^sketchP one-byte
// registers (256 bytes, about 6.5% standard error).
const sketchP = 8

// sketchExact is how many distinct values a sketch counts exactly (their
// 32-bit hashes in a short list) before it allocates its registers.
const sketchExact = 24

// sketch is a HyperLogLog distinct counter over 32-bit hashes: mergeable,
// and it never holds the values it counts (client IPs, users). Small sets
// cost a few bytes: the registers exist only past sketchExact values.
type sketch struct {
	exact []uint32
	reg   *[1 << sketchP]uint8
}

// hash64 is FNV-1a with a murmur3 finaliser: stable across processes.
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return fmix(h)
}

func fmix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func (s *sketch) add(v string) { s.addHash(uint32(hash64(v) >> 32)) }

// clientHash is the 32-bit hash a client address is counted by (in the
// sketches and the table of scanners).
func clientHash(a netip.Addr) uint32 {
	b := a.Unmap().As16()
	h := uint64(14695981039346656037)
	// FNV-1a over the 16 bytes, unrolled (it runs for every call)
	const prime = 1099511628211
	h = (h ^ uint64(b[0])) * prime
	h = (h ^ uint64(b[1])) * prime
	h = (h ^ uint64(b[2])) * prime
	h = (h ^ uint64(b[3])) * prime
	h = (h ^ uint64(b[4])) * prime
	h = (h ^ uint64(b[5])) * prime
	h = (h ^ uint64(b[6])) * prime
	h = (h ^ uint64(b[7])) * prime
	h = (h ^ uint64(b[8])) * prime
	h = (h ^ uint64(b[9])) * prime
	h = (h ^ uint64(b[10])) * prime
	h = (h ^ uint64(b[11])) * prime
	h = (h ^ uint64(b[12])) * prime
	h = (h ^ uint64(b[13])) * prime
	h = (h ^ uint64(b[14])) * prime
	h = (h ^ uint64(b[15])) * prime
	return uint32(fmix(h) >> 32)
}

// addAddr adds an IP address without formatting it.
func (s *sketch) addAddr(a netip.Addr) { s.addHash(clientHash(a)) }

func (s *sketch) addHash(h uint32) {
	if s.reg != nil {
		s.setReg(h)
		return
	}
	for _, x := range s.exact {
		if x == h {
			return
		}
	}
	if len(s.exact) < sketchExact {
		s.exact = append(s.exact, h)
		return
	}
	s.toRegisters()
	s.setReg(h)
}

func (s *sketch) toRegisters() {
	s.reg = new([1 << sketchP]uint8)
	for _, x := range s.exact {
		s.setReg(x)
	}
	s.exact = nil
}

func (s *sketch) setReg(h uint32) {
	i := h >> (32 - sketchP)
	w := h<<sketchP | 1<<(sketchP-1)
	r := uint8(bits.LeadingZeros32(w) + 1)
	if r > s.reg[i] {
		s.reg[i] = r
	}
}

func (s *sketch) merge(o *sketch) {
	if o.reg == nil {
		for _, h := range o.exact {
			s.addHash(h)
		}
		return
	}
	if s.reg == nil {
		s.toRegisters()
	}
	for i, r := range o.reg {
		if r > s.reg[i] {
			s.reg[i] = r
		}
	}
}

// count estimates the number of distinct values added.
func (s *sketch) count() uint64 {
	if s.reg == nil {
		return uint64(len(s.exact))
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
