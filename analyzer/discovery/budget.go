package discovery

import "strings"

// The catalog's memory is bounded by one endpoint budget for all hosts
// (max_endpoints), a share of it per host (max_endpoints_per_host), node
// bounds derived from them, and a host bound (max_hosts). When a bound is
// reached the least valuable endpoint of a sample goes first: endpoints
// that only answered errors, then those with the fewest calls, then the
// ones idle longest. Sampling uses a generator seeded the same way every
// run, so the same sequence of updates evicts the same endpoints.

// evictSample is how many endpoints (or hosts) eviction compares.
const evictSample = 16

// maxNodes is the node bound of the whole catalog.
func (t *trie) maxNodes() int { return 4*t.cfg.MaxEndpoints + t.cfg.MaxHosts }

// random returns the next value of the catalog's xorshift generator.
func (t *trie) random() uint64 {
	t.rng ^= t.rng << 13
	t.rng ^= t.rng >> 7
	t.rng ^= t.rng << 17
	return t.rng
}

// value orders endpoints for eviction (the lowest goes first).
func (e *epStats) value() uint64 {
	v := min(e.calls, 1<<30)<<32 | uint64(uint32(e.last/1e9))
	if e.success() {
		v |= 1 << 63
	}
	return v
}

// list adds a new endpoint to the catalog's and its host's lists.
func (t *trie) list(ht *hostTree, ep *epStats) {
	ep.host = ht
	ep.idx = int32(len(t.eps))
	t.eps = append(t.eps, ep)
	ep.hidx = int32(len(ht.eps))
	ht.eps = append(ht.eps, ep)
}

// unlist removes an endpoint from both lists (its node keeps it until the
// caller removes it there).
func (t *trie) unlist(ht *hostTree, ep *epStats) {
	if i := int(ep.idx); i >= 0 && i < len(t.eps) && t.eps[i] == ep {
		last := t.eps[len(t.eps)-1]
		t.eps[i], last.idx = last, int32(i)
		t.eps[len(t.eps)-1] = nil
		t.eps = t.eps[:len(t.eps)-1]
	}
	if i := int(ep.hidx); i >= 0 && i < len(ht.eps) && ht.eps[i] == ep {
		last := ht.eps[len(ht.eps)-1]
		ht.eps[i], last.hidx = last, int32(i)
		ht.eps[len(ht.eps)-1] = nil
		ht.eps = ht.eps[:len(ht.eps)-1]
	}
	ep.idx, ep.hidx = -1, -1
}

// roomForEndpoint makes room for one more endpoint of ht, evicting within
// the host, then across hosts; keep is the node the endpoint goes to (it
// is not pruned). It reports whether there is room.
func (t *trie) roomForEndpoint(ht *hostTree, keep *node) bool {
	for tries := 0; len(ht.eps) >= t.cfg.MaxEndpointsPerHost; tries++ {
		if tries == 4 || !t.evict(ht.eps, keep) {
			return false
		}
	}
	for tries := 0; len(t.eps) >= t.cfg.MaxEndpoints; tries++ {
		if tries == 4 || !t.evict(t.eps, keep) {
			return false
		}
	}
	return true
}

// roomForNode makes room for one more node of ht in the same way.
func (t *trie) roomForNode(ht *hostTree, keep *node) bool {
	for tries := 0; ht.nodes >= t.cfg.MaxNodesPerHost; tries++ {
		if tries == 4 || !t.evict(ht.eps, keep) {
			return false
		}
	}
	for tries := 0; t.nodes >= t.maxNodes(); tries++ {
		if tries == 4 || !t.evict(t.eps, keep) {
			return false
		}
	}
	return true
}

// evict removes the least valuable endpoint of a sample of list and
// prunes the nodes left empty (up to keep).
func (t *trie) evict(list []*epStats, keep *node) bool {
	if len(list) == 0 {
		return false
	}
	var victim *epStats
	var low uint64
	for i := 0; i < evictSample; i++ {
		e := list[t.random()%uint64(len(list))]
		if v := e.value(); victim == nil || v < low {
			victim, low = e, v
		}
	}
	n, ht := victim.node, victim.host
	if _, i := n.ep(victim.method); i < len(n.eps) && n.eps[i] == victim {
		n.eps = append(n.eps[:i], n.eps[i+1:]...)
	}
	t.unlist(ht, victim)
	ht.evicted++
	ht.evCalls += victim.calls
	t.evicted++
	t.evCalls += victim.calls
	t.prune(ht, n, keep)
	return true
}

// prune removes empty nodes from n up (not keep, not a root).
func (t *trie) prune(ht *hostTree, n, keep *node) {
	for n != keep && n.parent != nil && n.empty() {
		p := n.parent
		t.detach(n)
		ht.nodes--
		t.nodes--
		n = p
	}
}

// newHost adds a host, evicting the least valuable of a sample of hosts
// (fewest calls, then idle longest) when max_hosts is reached.
func (t *trie) newHost(hk hostKey) *hostTree {
	if len(t.hostList) >= t.cfg.MaxHosts {
		if len(t.hostList) == 0 {
			return nil
		}
		var victim *hostTree
		for i := 0; i < evictSample; i++ {
			h := t.hostList[t.random()%uint64(len(t.hostList))]
			if victim == nil || h.calls < victim.calls || h.calls == victim.calls && h.last < victim.last {
				victim = h
			}
		}
		t.dropHost(victim)
	}
	hk = hostKey{host: strings.Clone(hk.host), version: strings.Clone(hk.version)} // not the request's head
	ht := &hostTree{key: hk, idx: len(t.hostList)}
	t.hosts[hk] = ht
	t.hostList = append(t.hostList, ht)
	return ht
}

// dropHost evicts a host with all its endpoints.
func (t *trie) dropHost(ht *hostTree) {
	for len(ht.eps) > 0 {
		e := ht.eps[len(ht.eps)-1]
		t.evCalls += e.calls
		t.evicted++
		t.unlist(ht, e)
	}
	t.nodes -= ht.nodes
	delete(t.hosts, ht.key)
	last := t.hostList[len(t.hostList)-1]
	t.hostList[ht.idx], last.idx = last, ht.idx
	t.hostList[len(t.hostList)-1] = nil
	t.hostList = t.hostList[:len(t.hostList)-1]
	t.hostsEvicted++
	t.forgetHost(ht)
}
