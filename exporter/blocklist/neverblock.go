package blocklist

import (
	"hash/maphash"
	"net/netip"
	"sync"
)

// Reasons an entry is withheld (the `reason` label of
// apitap_blocklist_withheld_total and the keys of the stats event's
// blocklist_withheld). The list is closed: labels stay bounded.
const (
	ReasonUnconfirmed   = "unconfirmed"    // the flow had no handshake and server answer: the source may be spoofed
	ReasonLowConfidence = "low_confidence" // confidence below the policy's medium level: logged only
	ReasonInvalidActor  = "invalid_actor"  // no identity that can be an entry (not an address, control bytes, too long)
	ReasonShared        = "shared_address" // an address many identities share, and the detection names none of them
	ReasonLoopback      = "loopback"
	ReasonUnspecified   = "unspecified"
	ReasonBroadcast     = "broadcast"
	ReasonMulticast     = "multicast"
	ReasonLinkLocal     = "link_local"
	ReasonDocumentation = "documentation"
	ReasonReserved      = "reserved"
	ReasonPrivate       = "private"
	ReasonServer        = "server"        // a monitored server, learned from traffic
	ReasonSensor        = "sensor"        // one of the sensor's own addresses
	ReasonTrustedProxy  = "trusted_proxy" // a configured trusted proxy
	ReasonGateway       = "gateway"       // a configured (or the host's) gateway
	ReasonAllow         = "allow"         // blocklist.allow
	ReasonRateLimited   = "rate_limited"  // over max_new_per_second
	ReasonFull          = "full"          // max_entries reached
)

// WithheldReasons lists every reason, in the order metrics report them.
var WithheldReasons = []string{ReasonUnconfirmed, ReasonLowConfidence, ReasonInvalidActor, ReasonShared,
	ReasonLoopback, ReasonUnspecified, ReasonBroadcast, ReasonMulticast, ReasonLinkLocal, ReasonDocumentation, ReasonReserved, ReasonPrivate,
	ReasonServer, ReasonSensor, ReasonTrustedProxy, ReasonGateway, ReasonAllow, ReasonRateLimited, ReasonFull}

type reasonPrefix struct {
	p      netip.Prefix
	reason string
}

// special is the built-in never-block set, most specific first: addresses
// no client legitimately has, whose blocking breaks the enforcement point
// (nginx rejects `deny 255.255.255.255;`) or the host (loopback).
var special = mustPrefixes([]reasonPrefix{
	{reason: ReasonBroadcast, p: netip.MustParsePrefix("255.255.255.255/32")},
	{reason: ReasonUnspecified, p: netip.MustParsePrefix("0.0.0.0/8")}, // "this network"
	{reason: ReasonLoopback, p: netip.MustParsePrefix("127.0.0.0/8")},
	{reason: ReasonLinkLocal, p: netip.MustParsePrefix("169.254.0.0/16")},
	{reason: ReasonDocumentation, p: netip.MustParsePrefix("192.0.2.0/24")},    // TEST-NET-1
	{reason: ReasonDocumentation, p: netip.MustParsePrefix("198.51.100.0/24")}, // TEST-NET-2
	{reason: ReasonDocumentation, p: netip.MustParsePrefix("203.0.113.0/24")},  // TEST-NET-3
	{reason: ReasonReserved, p: netip.MustParsePrefix("192.0.0.0/24")},         // IETF protocol assignments
	{reason: ReasonReserved, p: netip.MustParsePrefix("198.18.0.0/15")},        // benchmarking
	{reason: ReasonMulticast, p: netip.MustParsePrefix("224.0.0.0/4")},
	{reason: ReasonReserved, p: netip.MustParsePrefix("240.0.0.0/4")},
	{reason: ReasonUnspecified, p: netip.MustParsePrefix("::/128")},
	{reason: ReasonLoopback, p: netip.MustParsePrefix("::1/128")},
	{reason: ReasonReserved, p: netip.MustParsePrefix("::/8")}, // IPv4-compatible and other reserved
	{reason: ReasonReserved, p: netip.MustParsePrefix("100::/64")},
	{reason: ReasonLinkLocal, p: netip.MustParsePrefix("fe80::/10")},
	{reason: ReasonReserved, p: netip.MustParsePrefix("fec0::/10")}, // deprecated site-local
	{reason: ReasonMulticast, p: netip.MustParsePrefix("ff00::/8")},
	{reason: ReasonDocumentation, p: netip.MustParsePrefix("2001:db8::/32")},
	{reason: ReasonDocumentation, p: netip.MustParsePrefix("3fff::/20")},
})

// private are the ranges kept out unless never_block.private is false.
var private = mustPrefixes([]reasonPrefix{
	{reason: ReasonPrivate, p: netip.MustParsePrefix("10.0.0.0/8")},
	{reason: ReasonPrivate, p: netip.MustParsePrefix("172.16.0.0/12")},
	{reason: ReasonPrivate, p: netip.MustParsePrefix("192.168.0.0/16")},
	{reason: ReasonPrivate, p: netip.MustParsePrefix("100.64.0.0/10")}, // shared CGNAT space: one address, many subscribers
	{reason: ReasonPrivate, p: netip.MustParsePrefix("fc00::/7")},
})

func mustPrefixes(l []reasonPrefix) []reasonPrefix {
	for _, r := range l {
		if r.p != r.p.Masked() {
			panic("unmasked built-in prefix " + r.p.String())
		}
	}
	return l
}

// SpecialReason says why an address is in the built-in never-block set,
// or "". a must be normalised (NormalizeAddr).
func SpecialReason(a netip.Addr) string {
	for _, r := range special {
		if r.p.Contains(a) {
			return r.reason
		}
	}
	return ""
}

// PrivateReason is ReasonPrivate for addresses of the private ranges.
func PrivateReason(a netip.Addr) string {
	for _, r := range private {
		if r.p.Contains(a) {
			return r.reason
		}
	}
	return ""
}

// NormalizeAddr parses an address the way every blocklist decision sees
// it: the zone dropped (netip accepts any zone text, "fe80::1%x;allow all"
// included) and IPv4-mapped IPv6 addresses unmapped (::ffff:127.0.0.1 is
// 127.0.0.1). ok is false when s is not an address.
func NormalizeAddr(s string) (netip.Addr, bool) {
	if len(s) == 0 || len(s) > 128 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// Guard is the never-block set: the built-in ranges, configured ones
// (allow, gateways, trusted proxies, the sensor's own addresses) and the
// monitored servers learned from traffic. Safe for concurrent use.
type Guard struct {
	private bool // the private ranges are never blocked
	mu      sync.RWMutex
	extra   []reasonPrefix
	// learned servers; candidates collect distinct clients until
	// minClients
	learn      bool
	minClients int
	maxServers int
	servers    map[netip.Addr]struct{}
	candidates map[netip.Addr]*candidate
	seed       maphash.Seed
	// NotLearned counts servers not learned because the table was full.
	notLearned uint64
}

type candidate struct {
	clients [8]uint64 // hashes of distinct clients seen answering
	n       int
}

// NewGuard returns the never-block set of a configuration (after
// WithDefaults).
func NewGuard(cfg Config) *Guard {
	g := &Guard{private: *cfg.NeverBlock.Private, learn: *cfg.NeverBlock.LearnServers,
		minClients: min(cfg.NeverBlock.ServerMinClients, 8), maxServers: cfg.NeverBlock.MaxServers,
		servers: map[netip.Addr]struct{}{}, candidates: map[netip.Addr]*candidate{}, seed: maphash.MakeSeed()}
	for _, a := range cfg.Allow {
		if p, err := parsePrefix(a); err == nil {
			g.extra = append(g.extra, reasonPrefix{p: p, reason: ReasonAllow})
		}
	}
	for _, a := range cfg.NeverBlock.Gateways {
		if p, err := parsePrefix(a); err == nil {
			g.extra = append(g.extra, reasonPrefix{p: p, reason: ReasonGateway})
		}
	}
	return g
}

// Add puts prefixes into the set under a reason (ReasonSensor,
// ReasonTrustedProxy, ReasonGateway, ReasonAllow, ReasonServer).
func (g *Guard) Add(reason string, ps ...netip.Prefix) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range ps {
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		p = netip.PrefixFrom(p.Addr().WithZone(""), p.Bits()).Masked()
		if p.IsValid() {
			g.extra = append(g.extra, reasonPrefix{p: p, reason: reason})
		}
	}
}

// NoteServer records that server answered an HTTP request of client on a
// listening port. Once it has answered ServerMinClients distinct clients
// it is never blocked. It reports whether server is learned (callers may
// then skip further calls for it). Cheap when server is known: one read
// lock.
func (g *Guard) NoteServer(server, client netip.Addr) bool {
	if !g.learn {
		return false
	}
	server, client = server.WithZone("").Unmap(), client.WithZone("").Unmap()
	g.mu.RLock()
	_, ok := g.servers[server]
	g.mu.RUnlock()
	if ok {
		return true
	}
	if !server.IsValid() || !client.IsValid() || server == client {
		return false
	}
	h := maphash.Comparable(g.seed, client)
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.servers[server]; ok {
		return true
	}
	c := g.candidates[server]
	if c == nil {
		if len(g.candidates)+len(g.servers) >= g.maxServers {
			g.notLearned++
			return false
		}
		c = &candidate{}
		g.candidates[server] = c
	}
	for _, x := range c.clients[:c.n] {
		if x == h {
			return false
		}
	}
	c.clients[c.n] = h
	c.n++
	if c.n < g.minClients {
		return false
	}
	delete(g.candidates, server)
	g.servers[server] = struct{}{}
	return true
}

// Servers returns how many servers were learned, and how many were not
// because the table was full.
func (g *Guard) Servers() (learned int, notLearned uint64) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.servers), g.notLearned
}

// AddrReason says why address a (normalised) is never blocked, or "".
func (g *Guard) AddrReason(a netip.Addr) string {
	if r := SpecialReason(a); r != "" {
		return r
	}
	if g.private {
		if r := PrivateReason(a); r != "" {
			return r
		}
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	if _, ok := g.servers[a]; ok {
		return ReasonServer
	}
	for _, r := range g.extra {
		if r.p.Contains(a) {
			return r.reason
		}
	}
	return ""
}

// PrefixReason says why a network may not be blocked: it overlaps the
// never-block set (blocking 203.0.113.0/24 blocks the load balancer at
// 203.0.113.5 too), or "".
func (g *Guard) PrefixReason(p netip.Prefix) string {
	for _, r := range special {
		if r.p.Overlaps(p) {
			return r.reason
		}
	}
	if g.private {
		for _, r := range private {
			if r.p.Overlaps(p) {
				return r.reason
			}
		}
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, r := range g.extra {
		if r.p.Overlaps(p) {
			return r.reason
		}
	}
	for s := range g.servers {
		if p.Contains(s) {
			return ReasonServer
		}
	}
	return ""
}
