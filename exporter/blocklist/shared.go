package blocklist

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// sharedShards splits the address table so that workers noting clients
// rarely wait for each other.
const sharedShards = 16

// sharedAddrs counts distinct authenticated identities per client
// address: an address that many users or API keys come from (a NAT, a
// corporate proxy, a mobile carrier) is shared, and blocking it would deny
// them all. Safe for concurrent use; bounded.
type sharedAddrs struct {
	threshold int           // distinct identities that make an address shared (<= 0: off)
	window    time.Duration // identities are counted within it
	perShard  int
	seed      maphash.Seed
	shards    [sharedShards]sharedShard
}

type sharedShard struct {
	mu    sync.Mutex
	addrs map[netip.Addr]*addrIDs
	swept int64 // capture second of the last sweep
	full  uint64
}

type addrIDs struct {
	start       time.Time // of the counting window
	ids         []uint64  // distinct identity hashes, up to threshold
	sharedUntil time.Time
}

func newSharedAddrs(threshold int, window time.Duration, bound int) *sharedAddrs {
	s := &sharedAddrs{threshold: threshold, window: window, perShard: max(bound/sharedShards, 1), seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].addrs = map[netip.Addr]*addrIDs{}
	}
	return s
}

func (s *sharedAddrs) shard(a netip.Addr) *sharedShard {
	return &s.shards[maphash.Comparable(s.seed, a)%sharedShards]
}

// note records that an identity (a user or API key, authenticated), by
// its seeded hash h, made a request from a at capture time at.
func (s *sharedAddrs) note(a netip.Addr, h uint64, at time.Time) {
	if s.threshold <= 0 || !a.IsValid() {
		return
	}
	a = a.WithZone("").Unmap()
	sh := s.shard(a)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.addrs[a]
	if e == nil {
		if len(sh.addrs) >= s.perShard {
			sh.sweep(at, s.window)
			if len(sh.addrs) >= s.perShard {
				sh.full++
				return
			}
		}
		e = &addrIDs{start: at, ids: make([]uint64, 0, min(s.threshold, 4))}
		sh.addrs[a] = e
	}
	if at.Sub(e.start) > s.window {
		e.start, e.ids = at, e.ids[:0]
	}
	for _, x := range e.ids {
		if x == h {
			return
		}
	}
	if len(e.ids) < s.threshold {
		e.ids = append(e.ids, h)
	}
	if len(e.ids) >= s.threshold {
		e.sharedUntil = at.Add(s.window)
	}
}

// sweep forgets addresses idle for a window, at most once per capture
// second.
func (sh *sharedShard) sweep(now time.Time, window time.Duration) {
	if sec := now.Unix(); sec == sh.swept {
		return
	} else {
		sh.swept = sec
	}
	for a, e := range sh.addrs {
		if now.Sub(e.start) > window && now.After(e.sharedUntil) {
			delete(sh.addrs, a)
		}
	}
}

// shared says whether a is shared at capture time at.
func (s *sharedAddrs) shared(a netip.Addr, at time.Time) bool {
	if s.threshold <= 0 {
		return false
	}
	sh := s.shard(a)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.addrs[a]
	return e != nil && !at.After(e.sharedUntil)
}

// untracked counts the notes dropped because the table was full.
func (s *sharedAddrs) untracked() uint64 {
	var n uint64
	for i := range s.shards {
		s.shards[i].mu.Lock()
		n += s.shards[i].full
		s.shards[i].mu.Unlock()
	}
	return n
}
