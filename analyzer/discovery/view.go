package discovery

import (
	"maps"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// View is the catalog at one moment: the workers' tries merged, literal
// segments folded into parameters where statistics say they vary, and
// endpoints with their templates. It is a copy: the sensor keeps running.
type View struct {
	Time      time.Time // latest capture time seen
	Endpoints []*Endpoint
	Hosts     []HostSummary
	// HostsDropped counts requests of hosts beyond max_hosts.
	HostsDropped uint64
	// Unattributed counts responses whose request was not seen.
	Unattributed uint64
}

// HostSummary is what the catalog saw of one host and API version.
type HostSummary struct {
	Host, Version string
	Calls         uint64 // every request, static and noise included
	Endpoints     int
	Static        uint64 // requests for static assets (not in the catalog)
	Noise         uint64 // requests to paths that only ever answered 404
	Folded        uint64 // path segments forced into a parameter by a bound
	Dropped       uint64 // requests not recorded: endpoint bound reached
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
	st         *epStats
	decorate   func(*EndpointJSON)
}

// ConformanceStatus is the endpoint's most frequent conformance status
// (documented, zombie, undocumented_method, shadow; "" without specs),
// its calls and first and last capture times.
func (ep *Endpoint) ConformanceStatus() (status string, calls uint64, first, last time.Time) {
	var best uint64
	for _, k := range slices.Sorted(maps.Keys(ep.st.conf)) {
		if n := ep.st.conf[k]; n > best {
			status, best = k, n
		}
	}
	return status, ep.st.calls, ep.st.first, ep.st.last
}

// PathParam is one parameter of a template.
type PathParam struct {
	Name   string
	Type   string // integer or string
	Format string // uuid, date, email, ... or ""
}

// View merges every worker's part of the catalog and derives templates.
func (c *Catalog) View() *View {
	merged := map[hostKey]*hostTree{}
	v := &View{}
	c.mu.Lock()
	tries := append([]*trie(nil), c.tries...)
	dec := c.decorate
	c.mu.Unlock()
	for _, t := range tries {
		t.mu.Lock()
		for k, ht := range t.hosts {
			m := merged[k]
			if m == nil {
				m = &hostTree{}
				merged[k] = m
			}
			m.calls += ht.calls
			m.static += ht.static
			m.folded += ht.folded
			m.dropped += ht.dropped
			mergeNode(&m.root, &ht.root)
		}
		v.HostsDropped += t.hostsDropped
		v.Unattributed += t.unattributed
		if t.last.After(v.Time) {
			v.Time = t.last
		}
		t.mu.Unlock()
	}
	keys := make([]hostKey, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].host != keys[j].host {
			return keys[i].host < keys[j].host
		}
		return keys[i].version < keys[j].version
	})
	for _, k := range keys {
		ht := merged[k]
		fold(&ht.root, c.cfg)
		hs := HostSummary{Host: k.host, Version: k.version, Calls: ht.calls, Static: ht.static, Folded: ht.folded, Dropped: ht.dropped}
		var eps []*Endpoint
		walk(&ht.root, nil, nil, func(segs []string, params []PathParam, n *node) {
			path := "/" + strings.Join(segs, "/")
			for _, m := range slices.Sorted(maps.Keys(n.eps)) {
				st := n.eps[m]
				if st.status[404] == st.calls && st.calls > 0 {
					hs.Noise += st.calls
					continue
				}
				kind := "api"
				if len(segs) > 0 && healthNames[strings.ToLower(segs[len(segs)-1])] {
					kind = "health"
				}
				eps = append(eps, &Endpoint{
					ID: endpointID(k.host, k.version, m, path), Host: k.host, Version: k.version, Method: m,
					Path: path, Kind: kind, PathParams: append([]PathParam(nil), params...), st: st, decorate: dec,
				})
			}
		})
		hs.Endpoints = len(eps)
		v.Hosts = append(v.Hosts, hs)
		v.Endpoints = append(v.Endpoints, eps...)
	}
	return v
}

// mergeNode adds src (a worker's trie) into dst (the view's copy).
func mergeNode(dst, src *node) {
	dst.hits += src.hits
	dst.kinds |= src.kinds
	dst.overflow = dst.overflow || src.overflow
	dst.fixed = dst.fixed || src.fixed
	for _, p := range src.prefixes {
		dst.addPrefix(p)
	}
	for _, k := range slices.Sorted(maps.Keys(src.lit)) {
		d := dst.lit[k]
		if d == nil {
			if dst.lit == nil {
				dst.lit = map[string]*node{}
			}
			d = &node{}
			dst.lit[k] = d
		}
		mergeNode(d, src.lit[k])
	}
	if src.param != nil {
		if dst.param == nil {
			dst.param = &node{}
		}
		mergeNode(dst.param, src.param)
	}
	for _, m := range slices.Sorted(maps.Keys(src.eps)) {
		e := dst.eps[m]
		if e == nil {
			if dst.eps == nil {
				dst.eps = map[string]*epStats{}
			}
			e = &epStats{}
			dst.eps[m] = e
		}
		e.merge(src.eps[m])
	}
}

// fold decides, top-down, which literal children of n are values of a
// parameter: when n has many distinct literal children that are each
// rarely seen (high cardinality under a common prefix), or more than
// fold_max_literals of them, they merge into n's parameter child. Version
// segments, well-known words (me, search, ...) and busy siblings whose
// shape (methods and children) differs from the values' stay literal.
// Literals with the type prefix of the parameter's token values (cus_,
// inv_) fold into it whatever their number.
func fold(n *node, cfg *Config) { foldAt(n, cfg, true) }

func foldAt(n *node, cfg *Config, top bool) {
	var vals []string
	var hits uint64
	for k, c := range n.lit {
		if isVersion(k) || literalWords[strings.ToLower(k)] || c.fixed {
			continue
		}
		vals = append(vals, k)
		hits += c.hits
	}
	sort.Strings(vals)
	if n.param != nil && len(n.param.prefixes) > 0 {
		rest := vals[:0]
		for _, k := range vals {
			if p := tokenPrefix(k); p != "" && contains(n.param.prefixes, p) {
				mergeNode(n.param, n.lit[k])
				delete(n.lit, k)
				continue
			}
			rest = append(rest, k)
		}
		vals = rest
	}
	if len(vals) > 0 && hits > 0 {
		many := len(vals) >= cfg.FoldMaxLiterals
		varied := len(vals) >= cfg.FoldMinDistinct && float64(len(vals))/float64(hits) >= cfg.FoldRatio
		if n.overflow || many || varied || (!top && alike(n, vals, 2*cfg.FoldMinDistinct)) {
			hs := make([]uint64, len(vals))
			for i, k := range vals {
				hs[i] = n.lit[k].hits
			}
			sorted := append([]uint64(nil), hs...)
			sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
			median := sorted[len(sorted)/2]
			if n.param == nil {
				n.param = &node{}
			}
			var busy []string
			for i, k := range vals {
				if hs[i] >= 5 && hs[i] >= 8*max(median, 1) {
					busy = append(busy, k)
					continue
				}
				mergeNode(n.param, n.lit[k])
				n.param.kinds |= 1 << KindSlug
				delete(n.lit, k)
			}
			// a busy sibling shaped like the values is a popular value
			ps := shape(n.param)
			for _, k := range busy {
				if shape(n.lit[k]) == ps {
					mergeNode(n.param, n.lit[k])
					delete(n.lit, k)
				}
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(n.lit)) {
		foldAt(n.lit[k], cfg, isVersion(k))
	}
	if n.param != nil {
		foldAt(n.param, cfg, false)
	}
}

// alike says whether at least min literal children, 90% of them, share
// one shape without a parameter child: values of a small pool seen often
// (tags, categories) rather than resource collections, which have ids
// below them. The root and version nodes (top) never fold this way.
func alike(n *node, vals []string, min int) bool {
	if len(vals) < min {
		return false
	}
	count := map[string]int{}
	best, bestN := "", 0
	for _, k := range vals {
		c := n.lit[k]
		if c.param != nil {
			continue
		}
		s := shape(c)
		count[s]++
		if count[s] > bestN {
			best, bestN = s, count[s]
		}
	}
	return best != "" && bestN*10 >= len(vals)*9
}

// shape describes a node by its methods and children, to tell operations
// from values.
func shape(n *node) string {
	var b strings.Builder
	for _, m := range slices.Sorted(maps.Keys(n.eps)) {
		b.WriteString(m + " ")
	}
	b.WriteByte('|')
	for _, k := range slices.Sorted(maps.Keys(n.lit)) {
		b.WriteString(k + " ")
	}
	if n.param != nil {
		b.WriteString("{}")
	}
	return b.String()
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// walk visits every node holding endpoints with its template segments.
func walk(n *node, segs []string, params []PathParam, visit func([]string, []PathParam, *node)) {
	if len(n.eps) > 0 {
		visit(segs, params, n)
	}
	for _, k := range slices.Sorted(maps.Keys(n.lit)) {
		walk(n.lit[k], append(segs, escapeSegment(k)), params, visit)
	}
	if p := n.param; p != nil {
		prev := ""
		if len(segs) > 0 && !strings.HasPrefix(segs[len(segs)-1], "{") {
			prev = segs[len(segs)-1]
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
		walk(p, append(segs, "{"+name+"}"), append(params, pp), visit)
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

func isPchar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@%", c) >= 0
}
