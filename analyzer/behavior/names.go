package behavior

import "strings"

// nameSet is a set of lower-case names (header, cookie and path segment
// names) looked up case-insensitively on every request. Most lookups miss:
// a bit per name length and per first and last byte reject them before a
// hash is computed, and an ASCII name is lower-cased in a buffer on the
// stack (no allocation).
type nameSet struct {
	m           map[string]bool
	lens        uint64    // bit n: a name of n bytes (n < 64)
	first, last [4]uint64 // bit c: a name starting, ending with byte c
	long        bool      // a name of 64 bytes or more
}

func newNameSet(names ...string) nameSet {
	s := nameSet{m: map[string]bool{}}
	for _, n := range names {
		s.add(n)
	}
	return s
}

// add puts a name, lower-cased, in the set.
func (s *nameSet) add(name string) {
	n := strings.ToLower(name)
	s.m[n] = true
	if len(n) < 64 {
		s.lens |= 1 << len(n)
	} else {
		s.long = true
	}
	if n != "" {
		c, d := n[0], n[len(n)-1]
		s.first[c>>6] |= 1 << (c & 63)
		s.last[d>>6] |= 1 << (d & 63)
	}
}

func (s *nameSet) len() int { return len(s.m) }

// has says whether s holds name lower-cased by fold, which must agree
// with an ASCII lower-casing on ASCII names (lowerShort, strings.ToLower);
// fold only sees names with other bytes (which a Unicode lower-casing may
// shorten: the Kelvin sign is a k).
func (s *nameSet) has(name string, fold func(string) string) bool {
	n := len(name)
	if n > 64 || !isASCII(name) {
		return s.m[fold(name)]
	}
	// ASCII: lower-casing keeps the length and maps byte by byte
	if n < 64 && s.lens&(1<<n) == 0 || n == 64 && !s.long {
		return false
	}
	if n > 0 {
		if c, d := lowerByte(name[0]), lowerByte(name[n-1]); s.first[c>>6]&(1<<(c&63)) == 0 || s.last[d>>6]&(1<<(d&63)) == 0 {
			return false
		}
	}
	var buf [64]byte
	for i := 0; i < n; i++ {
		buf[i] = lowerByte(name[i])
	}
	return s.m[string(buf[:n])] // no allocation: the key is only looked up
}

// isASCII says whether s has no byte of 0x80 or more.
func isASCII(s string) bool {
	var or uint64
	i := 0
	for ; i+8 <= len(s); i += 8 {
		or |= word(s, i)
	}
	for ; i < len(s); i++ {
		or |= uint64(s[i])
	}
	return or&0x8080808080808080 == 0
}

// word reads the 8 bytes of s at i, little-endian (the compiler makes it
// one load).
func word(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 | uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// half reads the 4 bytes of s at i, little-endian.
func half(s string, i int) uint32 {
	s = s[i : i+4]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	return c
}
