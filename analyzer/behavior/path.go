package behavior

import (
	"strings"

	"github.com/apitap/apitap/analyzer/discovery"
)

// Path flags: what the last segment of a path names.
const (
	lastLogin = 1 << iota // a login endpoint (loginNames)
	lastProbe             // an account endpoint (probeNames)
)

// lastFlags says what the last segment of p names.
func lastFlags(p string) uint8 {
	last := strings.TrimRight(p, "/")
	if i := strings.LastIndexByte(last, '/'); i >= 0 {
		last = last[i+1:]
	}
	var f uint8
	if loginNames.has(last, strings.ToLower) {
		f |= lastLogin
	}
	if probeNames.has(last, strings.ToLower) {
		f |= lastProbe
	}
	return f
}

// pathInfo walks the path once: the template's hash and the last
// parameter segment (an object id).
func pathInfo(p string) (tpl uint64, idSeg string, priv bool) {
	h := uint64(14695981039346656037)
	discovery.Segments(p, func(seg string) bool {
		if discovery.Classify(seg) != discovery.KindLiteral {
			idSeg = seg
			seg = "{}"
		} else if !priv && len(seg) >= 4 && len(seg) <= 13 && privilegedNames.has(seg, lowerShort) {
			priv = true
		}
		for i := 0; i < len(seg); i++ {
			h ^= uint64(seg[i])
			h *= 1099511628211
		}
		h ^= '/'
		h *= 1099511628211
		return true
	})
	return h, idSeg, priv
}

// privilegedNames are path segments of administrative functions.
var privilegedNames = newNameSet("admin", "administrator", "_admin", "internal", "manage", "management", "actuator", "debug", "superuser", "staff", "sudo",
	"backoffice", "console")

const (
	pathCacheBits = 9
	pathCacheSize = 1 << pathCacheBits // entries
	maxCachedPath = 64                 // bytes
)

// pathCache remembers pathInfo of a worker's recent paths: clients ask
// for the same paths over and over, and the template hash goes through
// every byte one after the other. It is direct-mapped and its entries
// hold copies of short paths, so it is bounded and a miss (a path of a
// fresh object id) allocates nothing.
type pathCache struct {
	entries *[pathCacheSize]pathEntry
}

type pathEntry struct {
	n            uint8 // the path's length, 0 for an empty entry
	path         [maxCachedPath]byte
	priv         bool
	flags        uint8 // lastFlags
	idOff, idLen uint8 // idSeg's place in the path, idLen 0 for none
	tpl          uint64
}

// info is pathInfo(p) and lastFlags(p).
func (c *pathCache) info(p string) (tpl uint64, idSeg string, priv bool, flags uint8) {
	if len(p) == 0 || len(p) > maxCachedPath {
		tpl, idSeg, priv = pathInfo(p)
		return tpl, idSeg, priv, lastFlags(p)
	}
	if c.entries == nil {
		c.entries = new([pathCacheSize]pathEntry)
	}
	e := &c.entries[pathSlot(p)]
	if int(e.n) == len(p) && string(e.path[:e.n]) == p {
		if e.idLen > 0 {
			idSeg = p[e.idOff : e.idOff+e.idLen]
		}
		return e.tpl, idSeg, e.priv, e.flags
	}
	tpl, idSeg, priv = pathInfo(p)
	flags = lastFlags(p)
	e.n = uint8(copy(e.path[:], p))
	e.tpl, e.priv, e.flags, e.idOff, e.idLen = tpl, priv, flags, 0, 0
	if idSeg != "" { // any place of the same bytes will do: idSeg is only read
		e.idOff, e.idLen = uint8(strings.Index(p, idSeg)), uint8(len(idSeg))
	}
	return tpl, idSeg, priv, flags
}

// pathSlot places a path in the cache, a word at a time (inline: a hash
// function of the runtime is more code to fetch on every request). Paths
// that share a slot take turns; the entry's copy of the path tells them
// apart.
func pathSlot(p string) int {
	const k = 0x9e3779b97f4a7c15 // multiplying carries every bit of a word up to the top bits
	h, i := uint64(len(p)), 0
	for ; i+8 <= len(p); i += 8 {
		h = (h ^ word(p, i)) * k
	}
	if i < len(p) {
		var t uint64
		for ; i < len(p); i++ {
			t = t<<8 | uint64(p[i])
		}
		h = (h ^ t) * k
	}
	return int(h >> (64 - pathCacheBits))
}
