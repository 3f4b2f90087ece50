package blocklist

import (
	"encoding/json"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"
)

// Item is one entry as `apitap blocklist` keeps it, from a blocklist event
// of the topic. Items in a State are validated: Value is canonical for
// its Type (Canonical).
type Item struct {
	Key        string    `json:"key"`
	Type       string    `json:"type"`
	Value      string    `json:"value"`
	Action     string    `json:"action"`
	Confidence string    `json:"confidence,omitempty"`
	Reason     string    `json:"reason"`
	Expires    time.Time `json:"expires_at"`
	Sensor     string    `json:"sensor,omitempty"`
}

// Reasons an output rejects an item (the `reason` label of
// apitap_blocklist_rejected_total).
const (
	RejectBadEvent    = "bad_event"        // not a blocklist event, or its key is not <type>:<value>
	RejectType        = "unknown_type"     // actor type not ip, cidr, user, api_key, session, fingerprint
	RejectAction      = "unknown_action"   // not rate_limit, block, deceive or would_*
	RejectNotAddress  = "not_address"      // an ip or cidr value that does not parse
	RejectZone        = "zone"             // an address with a zone (fe80::1%eth0): no enforcement point takes one
	RejectNeverBlock  = "never_block"      // a special, local or configured never-block address, or a network holding one
	RejectShortPrefix = "prefix_too_short" // a network wider than /16 (IPv4) or /32 (IPv6)
	RejectIdentity    = "invalid_identity" // a user, API key, session or fingerprint with control bytes, or too long
	RejectReason      = "invalid_reason"   // a reason (free text) with control bytes, or too long
)

// RejectReasons lists every reject reason.
var RejectReasons = []string{RejectBadEvent, RejectType, RejectAction, RejectNotAddress, RejectZone, RejectNeverBlock, RejectShortPrefix, RejectIdentity, RejectReason}

// Actions an item may carry: the policy's, and their dry-run forms.
var Actions = []string{"rate_limit", "block", "deceive", "would_rate_limit", "would_block", "would_deceive"}

func knownAction(a string) bool {
	for _, x := range Actions {
		if x == a {
			return true
		}
	}
	return false
}

// Canonical validates an actor value for every enforcement point and
// returns its canonical text: an address (IPv4-mapped unmapped) or a
// masked network as net/netip formats it, or a valid identity as is.
// never, when not nil, says why an address may not be blocked (Guard:
// AddrReason, or SpecialReason); networks are checked with neverPrefix.
// reason is one of the Reject* constants when the value is refused.
func Canonical(typ, value string, never func(netip.Addr) string, neverPrefix func(netip.Prefix) string) (canon, reason string) {
	switch typ {
	case "ip":
		if len(value) > 64 {
			return "", RejectNotAddress
		}
		a, err := netip.ParseAddr(value)
		if err != nil {
			return "", RejectNotAddress
		}
		if a.Zone() != "" {
			return "", RejectZone
		}
		a = a.Unmap()
		if SpecialReason(a) != "" || (never != nil && never(a) != "") {
			return "", RejectNeverBlock
		}
		return a.String(), ""
	case "cidr":
		if len(value) > 64 {
			return "", RejectNotAddress
		}
		p, err := netip.ParsePrefix(value) // never zoned: ParsePrefix refuses zones
		if err != nil {
			if strings.IndexByte(value, '%') >= 0 {
				return "", RejectZone
			}
			return "", RejectNotAddress
		}
		if a := p.Addr(); a.Is4In6() {
			if p.Bits() < 96 {
				return "", RejectShortPrefix
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		if (p.Addr().Is4() && p.Bits() < MinPrefix4) || (p.Addr().Is6() && p.Bits() < MinPrefix6) {
			return "", RejectShortPrefix
		}
		for _, r := range special {
			if r.p.Overlaps(p) {
				return "", RejectNeverBlock
			}
		}
		if neverPrefix != nil && neverPrefix(p) != "" {
			return "", RejectNeverBlock
		}
		return p.String(), ""
	case "user", "api_key", "session", "fingerprint":
		if !ValidIdentity(value) {
			return "", RejectIdentity
		}
		return value, ""
	}
	return "", RejectType
}

// validReason bounds the free-text reason (class and rule) of an item.
func validReason(s string) bool { return len(s) <= 512 && (s == "" || ValidIdentity(s)) }

// IsAddress says whether an item type goes to address outputs.
func IsAddress(typ string) bool { return typ == "ip" || typ == "cidr" }

// Format is an output format: how items become a file for one kind of
// enforcement point.
type Format struct {
	// Name is the output's name (flag and metrics label).
	Name string
	// Addresses says the format takes only ip and cidr items.
	Addresses bool
	// Empty is the content of a file without entries (what is written
	// when there is no last good file to keep).
	Empty string
	// line appends one item's line; value is canonical, action known.
	line func(b []byte, value, action string) []byte
}

const header = "# written by apitap blocklist; do not edit\n"

// Formats are the file outputs, by name.
var Formats = map[string]*Format{
	// nginx access module: include in http, server or location.
	"nginx": {Name: "nginx", Addresses: true, Empty: header, line: func(b []byte, v, _ string) []byte {
		return append(append(append(b, "deny "...), v...), ";\n"...)
	}},
	// nginx geo module: include inside `geo $apitap_action { default ""; include FILE; }`.
	"nginx-geo": {Name: "nginx-geo", Addresses: true, Empty: header, line: func(b []byte, v, a string) []byte {
		return append(append(append(append(b, v...), ' '), a...), ";\n"...)
	}},
	// HAProxy ACL file: `acl apitap_blocked src -f FILE`.
	"haproxy": {Name: "haproxy", Addresses: true, Empty: header, line: func(b []byte, v, _ string) []byte {
		return append(append(b, v...), '\n')
	}},
	// HAProxy map file: `http-request deny if { src,map_ip(FILE) -m str block }`.
	"haproxy-map": {Name: "haproxy-map", Addresses: true, Empty: header, line: func(b []byte, v, a string) []byte {
		return append(append(append(append(b, v...), ' '), a...), '\n')
	}},
	// one address or network per line, nothing else (ipset restore
	// scripts, cloud IP sets).
	"plain": {Name: "plain", Addresses: true, line: func(b []byte, v, _ string) []byte {
		return append(append(b, v...), '\n')
	}},
	// every entry, identities included.
	"json": {Name: "json"},
}

// FormatNames lists the formats in flag order.
var FormatNames = []string{"nginx", "nginx-geo", "haproxy", "haproxy-map", "plain", "json"}

// Render writes items (sorted by key) in format f: the address formats
// take the ip and cidr items whose action is in enforce; json takes every
// item whose action is in enforce or is its dry-run form when dryRun.
// Every value is validated again on the way out (never only trusted
// because the state validated it): what fails is left out and counted in
// rej.
func (f *Format) Render(items []Item, enforce func(action string) bool, rej *Rejects) []byte {
	if f.Name == "json" {
		out := make([]Item, 0, len(items))
		for _, it := range items {
			if !enforce(it.Action) {
				continue
			}
			canon, why := Canonical(it.Type, it.Value, nil, nil)
			if why == "" && (!knownAction(it.Action) || !validReason(it.Reason)) {
				why = RejectAction
			}
			if why != "" || canon != it.Value {
				rej.Add(f.Name, orReason(why, RejectNotAddress))
				continue
			}
			out = append(out, it)
		}
		b, _ := json.MarshalIndent(map[string]any{"entries": out}, "", "  ")
		return append(b, '\n')
	}
	b := []byte(f.Empty)
	for _, it := range items {
		if !IsAddress(it.Type) || !enforce(it.Action) {
			continue
		}
		canon, why := Canonical(it.Type, it.Value, nil, nil)
		if why == "" && !knownAction(it.Action) {
			why = RejectAction
		}
		if why != "" || canon != it.Value {
			rej.Add(f.Name, orReason(why, RejectNotAddress))
			continue
		}
		b = f.line(b, canon, it.Action)
	}
	return b
}

func orReason(why, def string) string {
	if why == "" {
		return def
	}
	return why
}

// Rejects counts refused items by output and reason; safe for concurrent
// use.
type Rejects struct {
	mu sync.Mutex
	n  map[[2]string]uint64
}

// Add counts one refused item.
func (r *Rejects) Add(output, reason string) {
	r.mu.Lock()
	if r.n == nil {
		r.n = map[[2]string]uint64{}
	}
	r.n[[2]string{output, reason}]++
	r.mu.Unlock()
}

// Each calls fn for every (output, reason) counted, sorted.
func (r *Rejects) Each(fn func(output, reason string, n uint64)) {
	type kv struct {
		k [2]string
		n uint64
	}
	r.mu.Lock()
	l := make([]kv, 0, len(r.n))
	for k, n := range r.n {
		l = append(l, kv{k, n})
	}
	r.mu.Unlock()
	sort.Slice(l, func(i, j int) bool {
		if l[i].k[0] != l[j].k[0] {
			return l[i].k[0] < l[j].k[0]
		}
		return l[i].k[1] < l[j].k[1]
	})
	for _, x := range l {
		fn(x.k[0], x.k[1], x.n)
	}
}

// Total is the number of refused items for output ("" for all).
func (r *Rejects) Total(output string) uint64 {
	var n uint64
	r.Each(func(o, _ string, c uint64) {
		if output == "" || o == output {
			n += c
		}
	})
	return n
}
