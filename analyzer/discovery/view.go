package discovery

import (
	"maps"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// View is the catalog at one moment: literal segments folded into
// parameters where the evidence says they are values, and endpoints with
// their templates. Endpoints refer to the catalog's statistics (merged
// when they are rendered, under the catalog's lock): a view costs a few
// hundred bytes per endpoint, not a copy of the catalog.
type View struct {
	Time      time.Time // latest capture time seen
	Endpoints []*Endpoint
	Hosts     []HostSummary
	// HostsDropped counts requests of hosts that found no room, and
	// HostsEvicted the hosts evicted to make room for others.
	HostsDropped, HostsEvicted uint64
	// Unattributed counts responses whose request was not seen.
	Unattributed uint64
	// HostProbes counts probes that named no known host (or carried
	// payload syntax in the Host header).
	HostProbes uint64
	// Evicted and EvictedCalls count the endpoints evicted to keep the
	// catalog within its budget, and their calls.
	Evicted, EvictedCalls uint64
	// Budget is the endpoint budget (max_endpoints).
	Budget int
}

// HostSummary is what the catalog saw of one host and API version.
type HostSummary struct {
	Host, Version string
	Calls         uint64 // every request, static, noise and probes included
	Endpoints     int
	Static        uint64 // requests for static assets (not in the catalog)
	Noise         uint64 // requests to paths that only ever answered 404 (or only errors to one client)
	Folded        uint64 // path segments forced into a parameter by a bound
	Dropped       uint64 // requests not recorded: no room for their endpoint
	Evicted       uint64 // endpoints evicted to make room
	EvictedCalls  uint64 // calls of the evicted endpoints
	// Probes counts the probes that found no endpoint of the host near
	// their path, by class in ProbeClasses.
	Probes       uint64
	ProbeClasses map[string]uint64
}

// Endpoint is one (host, version, method, path template) of the catalog.
type Endpoint struct {
	ID      string
	Host    string
	Version string // from an api-version header or query parameter, if any
	Method  string
	Path    string // template, such as /v1/users/{userId}
	Kind    string // "api" or "health"
	// PathParams are the template's parameters in order.
	PathParams []PathParam
	parts      []*epStats // the catalog's statistics folded into this endpoint
	names      *names
	mu         *sync.Mutex
	decorate   func(*EndpointJSON)
	fixed      *EndpointJSON // an entry of ViewOf: no statistics
}

// with calls fn with the endpoint's statistics (its parts merged), under
// the catalog's lock.
func (ep *Endpoint) with(fn func(st *epStats)) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if len(ep.parts) == 1 {
		fn(ep.parts[0])
		return
	}
	st := ep.parts[0].clone()
	for _, p := range ep.parts[1:] {
		st.merge(p)
	}
	fn(st)
}

// ConformanceStatus is the endpoint's most frequent conformance status
// (documented, zombie, undocumented_method, shadow; "" without specs),
// its calls and first and last capture times.
func (ep *Endpoint) ConformanceStatus() (status string, calls uint64, first, last time.Time) {
	if ep.fixed != nil {
		return fixedStatus(ep.fixed)
	}
	ep.with(func(st *epStats) {
		var best uint64
		st.t.each(tConf, func(k uint32, n uint64) {
			if n > best && int(k) < len(confNames) {
				status, best = confNames[k], n
			}
		})
		calls, first, last = st.calls, time.Unix(0, st.first).UTC(), time.Unix(0, st.last).UTC()
	})
	return status, calls, first, last
}

// Probes is the number of probes counted on the endpoint.
func (ep *Endpoint) Probes() uint64 {
	if ep.fixed != nil {
		if ep.fixed.Probes == nil {
			return 0
		}
		return ep.fixed.Probes.Count
	}
	var n uint64
	ep.with(func(st *epStats) { n = st.t.sum(tProbe) })
	return n
}

// Calls is the number of calls counted on the endpoint.
func (ep *Endpoint) Calls() uint64 {
	if ep.fixed != nil {
		return ep.fixed.Calls
	}
	var n uint64
	ep.with(func(st *epStats) { n = st.calls })
	return n
}

// PathParam is one parameter of a template.
type PathParam struct {
	Name   string
	Type   string // integer or string
	Format string // uuid, date, email, ... or ""
}

// View derives the templates of the catalog as it is now. Deriving walks
// the whole trie, so the result is kept until the catalog changes: the
// reports at the end of a run (the catalog's, the risk analyzer's, the
// printed table) share one derivation. Each caller gets its own copy of
// the View and of its slices; the Endpoints themselves are shared (they
// read their statistics under the catalog's lock).
func (c *Catalog) View() *View {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.view == nil {
		c.view = c.derive()
	}
	return c.view.clone()
}

// clone copies v, its slices and its hosts' maps.
func (v *View) clone() *View {
	cp := *v
	cp.Endpoints = slices.Clone(v.Endpoints)
	cp.Hosts = slices.Clone(v.Hosts)
	for i := range cp.Hosts {
		cp.Hosts[i].ProbeClasses = maps.Clone(cp.Hosts[i].ProbeClasses)
	}
	return &cp
}

// derive builds the View (c.mu held).
func (c *Catalog) derive() *View {
	t := c.t
	v := &View{Time: t.last, HostsDropped: t.hostsDropped, HostsEvicted: t.hostsEvicted, Unattributed: t.unattributed,
		HostProbes: t.hostProbes, Evicted: t.evicted, EvictedCalls: t.evCalls, Budget: c.cfg.MaxEndpoints}
	hosts := append([]*hostTree(nil), t.hostList...)
	sort.Slice(hosts, func(i, j int) bool {
		if hosts[i].key.host != hosts[j].key.host {
			return hosts[i].key.host < hosts[j].key.host
		}
		return hosts[i].key.version < hosts[j].key.version
	})
	for _, ht := range hosts {
		k := ht.key
		hs := HostSummary{Host: k.host, Version: k.version, Calls: ht.calls, Static: ht.static, Folded: ht.folded, Dropped: ht.dropped,
			Evicted: ht.evicted, EvictedCalls: ht.evCalls, Probes: ht.probes}
		ht.probeKind.each(tProbe, func(key uint32, n uint64) {
			if hs.ProbeClasses == nil {
				hs.ProbeClasses = map[string]uint64{}
			}
			hs.ProbeClasses[probeKeyName(key)] += n
		})
		root := &vnode{srcs: []*node{&ht.root}, top: true}
		fold(root, c.cfg)
		var eps []*Endpoint
		walk(root, nil, nil, func(segs []string, params []PathParam, vn *vnode) {
			path := "/" + strings.Join(segs, "/")
			byMethod := map[string][]*epStats{}
			var methods []string
			for _, src := range vn.srcs {
				for _, e := range src.eps {
					if byMethod[e.method] == nil {
						methods = append(methods, e.method)
					}
					byMethod[e.method] = append(byMethod[e.method], e)
				}
			}
			sort.Strings(methods)
			for _, m := range methods {
				parts := byMethod[m]
				if t.noise(parts) {
					for _, p := range parts {
						hs.Noise += p.calls
					}
					continue
				}
				kind := "api"
				if len(segs) > 0 && healthNames[strings.ToLower(segs[len(segs)-1])] {
					kind = "health"
				}
				eps = append(eps, &Endpoint{
					ID: endpointID(k.host, k.version, m, path), Host: k.host, Version: k.version, Method: m,
					Path: path, Kind: kind, PathParams: append([]PathParam(nil), params...), parts: parts, names: t.names, mu: &c.mu, decorate: c.decorate,
				})
			}
		})
		hs.Endpoints = len(eps)
		v.Hosts = append(v.Hosts, hs)
		v.Endpoints = append(v.Endpoints, eps...)
	}
	return v
}

// noise says whether an endpoint's calls are scanner noise rather than
// an API: it only ever answered 404, 405 or 501, or it only ever answered
// errors, at most three times or only to clients flagged as scanners
// (the catalog's table of them decides after the fact for the first
// requests of a scanner, made before it was known).
func (t *trie) noise(parts []*epStats) bool {
	var calls uint64
	missing, errs := true, true
	for _, p := range parts {
		calls += p.calls
		p.t.each(tStatus, func(k uint32, n uint64) {
			if k != 404 && k != 405 && k != 501 {
				missing = false
			}
			if k >= 100 && k < 400 {
				errs = false
			}
		})
	}
	if calls == 0 {
		return false
	}
	if missing || errs && calls <= 3 {
		return true
	}
	if !errs {
		return false
	}
	for _, p := range parts {
		if p.ips.reg != nil {
			return false // many clients
		}
		for _, h := range p.ips.exact {
			if !t.everFlagged(h) {
				return false
			}
		}
	}
	return true
}

// vnode is one position of a host's templates: the trie nodes folded
// together there.
type vnode struct {
	seg      string // literal
	suffix   string // parameter: the extension its values carry
	param    bool
	top      bool // the root or a version segment: its children are resources
	fixed    bool // a gRPC service or method name: never folded
	srcs     []*node
	hits     uint64
	kinds    uint16
	prefixes []string
	kids     []*vnode // literal children, sorted by seg
	params   []*vnode // parameter children, sorted by suffix
	info     *vinfo
}

// vinfo is what fold compares positions by.
type vinfo struct {
	methods string   // the methods of its endpoints ("GET POST")
	lits    []string // literal child segments, sorted
	param   bool     // has a parameter child
	resp    []uint32 // property paths of its main response schema (sorted)
	req     []uint32 // ... of its request schema
	desc    []string // literal segments two and three levels down (sorted, bounded)
	ok      bool     // an endpoint at or below it answered without an error
}

func (v *vnode) paramFor(suffix string) *vnode {
	for _, p := range v.params {
		if p.suffix == suffix {
			return p
		}
	}
	return nil
}

// expand builds v's children from its trie nodes.
func (v *vnode) expand() {
	v.hits, v.kinds, v.prefixes, v.kids, v.params, v.info = 0, 0, nil, nil, nil, nil
	kids := map[string]*vnode{}
	params := map[string]*vnode{}
	for _, s := range v.srcs {
		v.hits += s.hits
		v.kinds |= s.kinds
		for _, p := range s.prefixes {
			if !contains(v.prefixes, p) && len(v.prefixes) < 8 {
				v.prefixes = append(v.prefixes, p)
			}
		}
		for _, k := range s.kids {
			c := kids[k.seg]
			if c == nil {
				c = &vnode{seg: k.seg}
				kids[k.seg] = c
				v.kids = append(v.kids, c)
			}
			c.srcs = append(c.srcs, k)
			c.hits += k.hits
			c.fixed = c.fixed || k.fixed
		}
		for _, p := range s.params {
			c := params[p.suffix]
			if c == nil {
				c = &vnode{param: true, suffix: p.suffix}
				params[p.suffix] = c
				v.params = append(v.params, c)
			}
			c.srcs = append(c.srcs, p)
			c.hits += p.hits
			c.kinds |= p.kinds
			for _, x := range p.prefixes {
				if !contains(c.prefixes, x) && len(c.prefixes) < 8 {
					c.prefixes = append(c.prefixes, x)
				}
			}
		}
	}
	sort.Slice(v.kids, func(i, j int) bool { return v.kids[i].seg < v.kids[j].seg })
	sort.Slice(v.params, func(i, j int) bool { return v.params[i].suffix < v.params[j].suffix })
}

// param returns v's parameter child with a suffix, made if needed.
func (v *vnode) paramMade(suffix string) *vnode {
	if p := v.paramFor(suffix); p != nil {
		return p
	}
	p := &vnode{param: true, suffix: suffix}
	v.params = append(v.params, p)
	sort.Slice(v.params, func(i, j int) bool { return v.params[i].suffix < v.params[j].suffix })
	return p
}

// absorb folds the literal child k into parameter p.
func (p *vnode) absorb(k *vnode) {
	p.srcs = append(p.srcs, k.srcs...)
	p.hits += k.hits
	p.kinds |= 1 << KindSlug
	p.info = nil
}

// removeKids drops folded literal children.
func (v *vnode) removeKids(gone map[*vnode]bool) {
	out := v.kids[:0]
	for _, k := range v.kids {
		if !gone[k] {
			out = append(out, k)
		}
	}
	v.kids = out
}

// inf computes what fold compares of v.
func (v *vnode) inf() *vinfo {
	if v.info != nil {
		return v.info
	}
	in := &vinfo{}
	var methods []string
	var best *epStats
	lits := map[string]bool{}
	for _, s := range v.srcs {
		for _, e := range s.eps {
			if !contains(methods, e.method) {
				methods = append(methods, e.method)
			}
			if best == nil || mainScore(e) > mainScore(best) {
				best = e
			}
		}
		for _, k := range s.kids {
			lits[k.seg] = true
		}
		in.param = in.param || len(s.params) > 0
	}
	sort.Strings(methods)
	in.methods = strings.Join(methods, " ")
	for k := range lits {
		in.lits = append(in.lits, k)
	}
	sort.Strings(in.lits)
	if best != nil {
		in.resp, in.req = shapes(best)
	}
	desc := map[string]bool{}
	for _, s := range v.srcs {
		in.ok = in.ok || descend(s, 0, desc)
	}
	for k := range desc {
		in.desc = append(in.desc, k)
	}
	sort.Strings(in.desc)
	v.info = in
	return in
}

// descend collects the literal segments two and three levels below n (at
// most 256): the resources under a value's subtree (/repos/{owner}'s
// values have the same ones: pulls, issues, branches). It reports
// whether an endpoint within three levels answered without an error.
func descend(n *node, depth int, out map[string]bool) bool {
	ok := false
	for _, e := range n.eps {
		ok = ok || e.success()
	}
	if depth >= 3 || len(out) >= 256 {
		return ok
	}
	for _, k := range n.kids {
		if depth >= 1 && !exempt(k.seg) {
			out[k.seg] = true
		}
		ok = descend(k, depth+1, out) || ok
	}
	for _, p := range n.params {
		ok = descend(p, depth+1, out) || ok
	}
	return ok
}

// mainScore prefers the GET endpoint, then the busiest, as the one whose
// schemas describe a position.
func mainScore(e *epStats) uint64 {
	s := min(e.calls, 1<<40)
	if e.method == "GET" {
		s |= 1 << 41
	}
	return s
}

// shapes returns the property paths of an endpoint's main response schema
// (its lowest 2xx status with one) and of its request schema.
func shapes(e *epStats) (resp, req []uint32) {
	for _, ss := range e.respSchema {
		if ss.status >= 200 && ss.status < 300 && ss.t.root.types != 0 {
			ss.t.root.shape(14695981039346656037, 0, &resp, 64)
			break
		}
	}
	if e.reqSchema != nil && e.reqSchema.root.types != 0 {
		e.reqSchema.root.shape(14695981039346656037, 0, &req, 64)
	}
	return uniq(resp), uniq(req)
}

func uniq(s []uint32) []uint32 {
	if len(s) == 0 {
		return s
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	out := s[:1]
	for _, x := range s[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

// jaccard compares two sorted sets: the shared count and the ratio of
// shared to all.
func jaccard[T uint32 | string](a, b []T) (int, float64) {
	i, j, both := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			both++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	all := len(a) + len(b) - both
	if all == 0 {
		return 0, 0
	}
	return both, float64(both) / float64(all)
}

// similar says whether two sets of property paths (or sub-paths) are
// those of one kind of document: the same, one holding the other
// (optional properties missing from a few samples), or at least three in
// common and half of all.
func similar[T uint32 | string](a, b []T) bool {
	n, r := jaccard(a, b)
	if n == 0 {
		return false
	}
	return r == 1 || n == min(len(a), len(b)) || n >= 3 && (r >= 0.5 || n*5 >= 4*min(len(a), len(b)))
}

// sameSchema says whether two positions answer with the same kind of
// document (similar property paths, and request bodies too if any).
func sameSchema(a, b *vinfo) bool {
	if len(a.resp) == 0 || len(b.resp) == 0 {
		return false
	}
	if !similar(a.resp, b.resp) {
		return false
	}
	if len(a.req)+len(b.req) > 0 {
		if n, r := jaccard(a.req, b.req); n == 0 || r < 0.5 {
			return false
		}
	}
	return true
}

// alikeValues says whether two literal positions look like values of one
// parameter: a method in common and the same schemas, and the same
// sub-paths where both have some (a rarely seen value may lack them); a
// position seen only below (no endpoint of its own) must share sub-paths.
func alikeValues(a, b *vinfo) bool {
	if len(a.lits) > 0 && len(b.lits) > 0 && !similar(a.lits, b.lits) && !contained(a.lits, b.lits) {
		return false
	}
	if a.methods == "" || b.methods == "" {
		return len(a.lits) > 0 && len(b.lits) > 0 // seen only below: the same sub-paths
	}
	return sharesWord(a.methods, b.methods) && sameSchema(a, b)
}

// fitsParam says whether a literal position is a value of an existing
// parameter sibling: a method in common and a sub-path in common, or
// resources in common further down (values of /repos/{owner} have pulls
// and issues two levels down), or the same schemas; weak evidence is
// enough where the literal is busy or only ever failed: a method in
// common, no sub-paths, no schemas that differ.
func fitsParam(k, p *vinfo, weak bool) bool {
	if k.methods != "" && p.methods != "" && !sharesWord(k.methods, p.methods) {
		return false
	}
	if n, _ := jaccard(k.lits, p.lits); n > 0 {
		return true
	}
	if n, _ := jaccard(k.desc, p.desc); n >= 2 {
		return true
	}
	if k.methods != "" && sameSchema(k, p) {
		return true
	}
	differ := len(k.resp) > 0 && len(p.resp) > 0
	return weak && k.methods != "" && sharesWord(k.methods, p.methods) && len(k.lits) == 0 && !differ
}

// contradicts says whether a literal position is clearly not a value of
// the parameter next to it: no method in common, schemas that differ, or
// sub-paths that share nothing, not even further down.
func contradicts(k, p *vinfo) bool {
	if k.methods != "" && p.methods != "" && !sharesWord(k.methods, p.methods) {
		return true
	}
	if len(k.resp) > 0 && len(p.resp) > 0 && !sameSchema(k, p) {
		return true
	}
	if len(k.lits) > 0 && len(p.lits) > 0 {
		if n, _ := jaccard(k.lits, p.lits); n == 0 {
			d, _ := jaccard(k.desc, p.desc)
			return d < 2 // values of /repos/{owner} share pulls and issues further down
		}
	}
	return false
}

func sharesWord(a, b string) bool {
	for _, w := range strings.Fields(a) {
		if contains(strings.Fields(b), w) {
			return true
		}
	}
	return false
}

// fold decides, top-down, which literal children of v are values of a
// parameter, on the catalog as it is now (the trie is not changed):
//
//   - literals carrying the type prefix of the parameter's token values
//     (cus_, inv_) fold into it;
//   - literals that fit a parameter made of typed values (ids, SHAs) fold
//     into it: a method and a sub-path in common, or the same schemas
//     (tags and branch names next to commit SHAs);
//   - many distinct literals that are rarely repeated fold (at least
//     fold_min_distinct of them and distinct/requests >= fold_ratio), or
//     fold_max_literals of them, or twice fold_min_distinct leaves of one
//     shape below the first level, unless their schemas say they are
//     different resources; busy ones (eight times the median) stay if they
//     are clearly something else (no method in common, another schema,
//     other sub-paths);
//   - below the first level and under a literal, three or more literals
//     with the same methods, schemas and sub-paths are values of one
//     parameter (slugs of a small pool, a closed vocabulary such as
//     capabilities, country codes);
//
// version segments and well-known words (me, search, ...) stay literal.
func fold(v *vnode, cfg *Config) {
	v.expand()
	var vals []*vnode
	for _, k := range v.kids {
		if !exempt(k.seg) && !k.fixed {
			vals = append(vals, k)
		}
	}
	gone := map[*vnode]bool{}
	// the statistics are those of every candidate value
	var hits uint64
	for _, k := range vals {
		hits += k.hits
	}
	overflow, folded := false, false
	for _, s := range v.srcs {
		overflow, folded = overflow || s.overflow, folded || s.folded
	}
	many := len(vals) >= cfg.FoldMaxLiterals
	varied := len(vals) >= cfg.FoldMinDistinct && hits > 0 && float64(len(vals))/float64(hits) >= cfg.FoldRatio
	values := overflow || many || (varied || !v.top && alike(vals, 2*cfg.FoldMinDistinct)) && !diverse(vals)
	// prefixes and typed parameters
	if len(v.params) > 0 {
		for _, k := range vals {
			_, ext := splitExt(k.seg)
			p := v.paramFor(ext)
			if p == nil {
				p = v.paramFor("")
			}
			if p == nil {
				continue
			}
			pi := p.inf()
			typed := p.kinds&^(1<<KindSlug) != 0 && pi.ok
			rare := k.hits <= 3 && !contradicts(k.inf(), pi)
			if pre := tokenPrefix(k.seg); pre != "" && contains(p.prefixes, pre) || typed && (rare || fitsParam(k.inf(), pi, !k.inf().ok)) {
				p.absorb(k)
				gone[k] = true
			}
		}
		vals = without(vals, gone)
	}
	// statistics
	if len(vals) > 0 {
		switch {
		case v.top && (overflow || many):
			// scanner junk next to the resources: the many rarely seen
			// fold, the busy stay
			hs := make([]uint64, len(vals))
			for i, k := range vals {
				hs[i] = k.hits
			}
			sort.Slice(hs, func(i, j int) bool { return hs[i] < hs[j] })
			median := hs[len(hs)/2]
			for _, k := range vals {
				if k.hits < 5 || k.hits < 8*max(median, 1) {
					v.paramMade("").absorb(k)
					gone[k] = true
				}
			}
			vals = without(vals, gone)
		case v.top:
		case folded && !many:
			// the catalog folded this position: the literals left are the
			// busy ones it kept; they fold unless they are clearly
			// something else (/blog/posts/drafts next to /blog/posts/{slug})
			exts := extTargets(vals)
			for _, k := range vals {
				if p := v.paramMade(exts[k]); !contradicts(k.inf(), p.inf()) {
					p.absorb(k)
					gone[k] = true
				}
			}
			vals = without(vals, gone)
		case values:
			hs := make([]uint64, len(vals))
			for i, k := range vals {
				hs[i] = k.hits
			}
			sort.Slice(hs, func(i, j int) bool { return hs[i] < hs[j] })
			median := hs[len(hs)/2]
			exts := extTargets(vals)
			var busy []*vnode
			for _, k := range vals {
				if k.hits >= 5 && k.hits >= 8*max(median, 1) {
					busy = append(busy, k)
					continue
				}
				v.paramMade(exts[k]).absorb(k)
				gone[k] = true
			}
			for _, k := range busy {
				if p := v.paramMade(exts[k]); !contradicts(k.inf(), p.inf()) {
					p.absorb(k)
					gone[k] = true
				}
			}
			vals = without(vals, gone)
		}
	}
	// sibling evidence
	if !v.top && !v.param && len(vals) >= 3 {
		sort.SliceStable(vals, func(i, j int) bool { return vals[i].hits > vals[j].hits })
		for _, seed := range vals {
			if gone[seed] {
				continue
			}
			group := []*vnode{seed}
			for _, k := range vals {
				if k != seed && !gone[k] && alikeValues(seed.inf(), k.inf()) {
					group = append(group, k)
				}
			}
			if len(group) < 3 {
				continue
			}
			// values seen only without a body (a DELETE) join the group
			// when nothing says they differ
			for _, k := range vals {
				if in := k.inf(); !gone[k] && len(in.resp) == 0 && in.methods != "" && !contains2(group, k) && !contradicts(in, seed.inf()) {
					group = append(group, k)
				}
			}
			exts := extTargets(group)
			for _, k := range group {
				v.paramMade(exts[k]).absorb(k)
				gone[k] = true
			}
		}
	}
	// the values left over fit the parameter the rules above made
	if formed := v.paramFor(""); formed != nil && !v.top && len(gone) >= 3 {
		pi := formed.inf()
		for _, k := range vals {
			if !gone[k] && fitsParam(k.inf(), pi, false) {
				formed.absorb(k)
				gone[k] = true
			}
		}
	}
	v.removeKids(gone)
	for _, k := range v.kids {
		k.top = isVersion(k.seg)
		fold(k, cfg)
	}
	for _, p := range v.params {
		fold(p, cfg)
	}
}

func without(vals []*vnode, gone map[*vnode]bool) []*vnode {
	out := vals[:0:0]
	for _, k := range vals {
		if !gone[k] {
			out = append(out, k)
		}
	}
	return out
}

// extTargets says which parameter each folded literal goes to: the one of
// its extension when the values carry an API extension (US.json and
// GB.json into {countryCode}.json; three at least, and no value without
// one has a dot), else the bare one (file names such as package.json are
// values of one parameter with the others).
func extTargets(vals []*vnode) map[*vnode]string {
	byExt := map[string]int{}
	dotted := false
	for _, k := range vals {
		_, ext := splitExt(k.seg)
		byExt[ext]++
		if ext == "" && strings.IndexByte(k.seg, '.') >= 0 {
			dotted = true
		}
	}
	out := map[*vnode]string{}
	for _, k := range vals {
		if _, ext := splitExt(k.seg); ext != "" && !dotted && (byExt[ext] >= 3 || byExt[""] == 0) {
			out[k] = ext
		}
	}
	return out
}

// diverse says whether literal siblings answer with different kinds of
// documents (resources, not values of one parameter): of those with a
// response schema (three at least), fewer than half are like the busiest.
func diverse(vals []*vnode) bool {
	var shaped []*vinfo
	var seed *vinfo
	var seedHits uint64
	for _, k := range vals {
		if in := k.inf(); len(in.resp) >= 3 {
			shaped = append(shaped, in)
			if seed == nil || k.hits > seedHits {
				seed, seedHits = in, k.hits
			}
		}
	}
	if len(shaped) < 3 {
		return false
	}
	like := 0
	for _, in := range shaped {
		if in == seed || sameSchema(seed, in) {
			like++
		}
	}
	return like*2 < len(shaped)
}

// alike says whether at least min literal children, 90% of them, share
// one shape without a parameter child: values of a small pool seen often
// (tags, categories) rather than resource collections, which have ids
// below them.
func alike(vals []*vnode, min int) bool {
	if len(vals) < min {
		return false
	}
	count := map[string]int{}
	best, bestN := "", 0
	for _, k := range vals {
		in := k.inf()
		if in.param {
			continue
		}
		s := in.methods + "|" + strings.Join(in.lits, " ")
		count[s]++
		if count[s] > bestN {
			best, bestN = s, count[s]
		}
	}
	return best != "" && bestN*10 >= len(vals)*9
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// walk visits every position holding endpoints with its template segments.
func walk(v *vnode, segs []string, params []PathParam, visit func([]string, []PathParam, *vnode)) {
	for _, s := range v.srcs {
		if len(s.eps) > 0 {
			visit(segs, params, v)
			break
		}
	}
	for _, k := range v.kids {
		walk(k, append(segs, escapeSegment(k.seg)), params, visit)
	}
	for _, p := range v.params {
		prev := ""
		if len(segs) > 0 && !strings.HasPrefix(segs[len(segs)-1], "{") {
			prev = segs[len(segs)-1]
			if stem, ext := splitExt(prev); ext != "" {
				prev = stem
			}
		}
		kind := paramKind(p.kinds)
		name := uniqueName(paramName(prev, kind), params)
		pp := PathParam{Name: name, Type: "string"}
		switch kind {
		case KindInt:
			pp.Type = "integer"
		case KindUUID:
			pp.Format = "uuid"
		case KindDate:
			pp.Format = "date"
		case KindEmail:
			pp.Format = "email"
		}
		walk(p, append(segs, "{"+name+"}"+escapeSegment(p.suffix)), append(params, pp), visit)
	}
}

// paramKind is the one kind of a parameter's values, or KindSlug when
// they are of several kinds.
func paramKind(kinds uint16) Kind {
	if bits.OnesCount16(kinds) == 1 {
		return Kind(bits.TrailingZeros16(kinds))
	}
	return KindSlug
}

func uniqueName(name string, params []PathParam) string {
	out := name
	for i := 2; ; i++ {
		dup := false
		for _, p := range params {
			if p.Name == out {
				dup = true
				break
			}
		}
		if !dup {
			return out
		}
		out = name + strconv.Itoa(i)
	}
}

// endpointID is a stable id of an endpoint: a hash of host, version,
// method and the template with parameter names removed.
func endpointID(host, version, method, path string) string {
	var b strings.Builder
	b.WriteString(host)
	b.WriteByte(0)
	b.WriteString(version)
	b.WriteByte(0)
	b.WriteString(method)
	b.WriteByte(0)
	b.WriteString(TemplateShape(path))
	return "ep-" + strconv.FormatUint(hash64(b.String()), 16)
}

// TemplateShape replaces every {name} of a template by {}, so templates
// that differ only in parameter names compare equal.
func TemplateShape(path string) string {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '{' {
			if j := strings.IndexByte(path[i:], '}'); j > 0 {
				b.WriteString("{}")
				i += j
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// escapeSegment percent-encodes the bytes of a literal segment that are
// not RFC 3986 path characters, so a template's braces are always its
// parameters and the template is a valid OpenAPI path.
func escapeSegment(s string) string {
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		clean = isPchar(s[i])
	}
	if clean {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; isPchar(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func isPchar(c byte) bool { return pchars[c] }

// pchars holds the bytes a path segment keeps as they are.
var pchars = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@%", byte(c)) >= 0
	}
	return
}()

// Match returns the endpoint of the view that a request (host, API
// version, method and path) is counted on, or nil: the template whose
// literal segments equal the path's and whose parameters take the rest,
// literals preferred to parameters from the left.
func (v *View) Match(host, version, method, path string) *Endpoint {
	host = normHost(host, nil)
	var segs []string
	Segments(path, func(s string) bool { segs = append(segs, s); return true })
	var best *Endpoint
	var bestScore []bool
	for _, ep := range v.Endpoints {
		if ep.Host != host || ep.Version != version || ep.Method != method {
			continue
		}
		tsegs := strings.Split(strings.TrimPrefix(ep.Path, "/"), "/")
		if ep.Path == "/" {
			tsegs = nil
		}
		if len(tsegs) != len(segs) {
			continue
		}
		score := make([]bool, len(segs))
		ok := true
		for i, ts := range tsegs {
			if open := strings.IndexByte(ts, '{'); open >= 0 {
				close := strings.IndexByte(ts, '}')
				if close < open || !strings.HasPrefix(segs[i], ts[:open]) || !strings.HasSuffix(segs[i], ts[close+1:]) {
					ok = false
					break
				}
				continue
			}
			if ts != escapeSegment(segs[i]) {
				ok = false
				break
			}
			score[i] = true
		}
		if !ok {
			continue
		}
		if best == nil || betterMatch(score, bestScore) {
			best, bestScore = ep, score
		}
	}
	return best
}

func betterMatch(a, b []bool) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i]
		}
	}
	return false
}

func contains2(s []*vnode, v *vnode) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// contained says whether the smaller of two sets is inside the other (a
// rarely seen value has a few of the sub-paths of the others).
func contained(a, b []string) bool {
	n, _ := jaccard(a, b)
	return n > 0 && n == min(len(a), len(b))
}
