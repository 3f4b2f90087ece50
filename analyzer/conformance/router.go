package conformance

import (
	"net/url"
	"sort"
	"strings"

	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/reassembly/http1"
)

// rnode is one position of a spec's path trie.
type rnode struct {
	lit   map[string]*rnode
	param *rnode
	pname string         // parameter name at this position (param nodes)
	ops   map[string]*Op // by method, at the end of a path
}

// insert adds a spec path template. A segment with a {parameter} in it
// (/files/{name}.json too) matches any one segment.
func (n *rnode) insert(path string, op *Op) {
	discovery.Segments(path, func(seg string) bool {
		if strings.IndexByte(seg, '{') >= 0 {
			if n.param == nil {
				n.param = &rnode{pname: strings.Trim(seg, "{}")}
			}
			n = n.param
			return true
		}
		seg = unescape(seg)
		if n.lit == nil {
			n.lit = map[string]*rnode{}
		}
		c := n.lit[seg]
		if c == nil {
			c = &rnode{}
			n.lit[seg] = c
		}
		n = c
		return true
	})
	if n.ops == nil {
		n.ops = map[string]*Op{}
	}
	n.ops[op.Method] = op
}

// maxSegs bounds the path segments matched (longer paths do not match).
const maxSegs = 32

// match finds the node of a path: literal segments before parameters, and
// among full matches one that has the method. It allocates nothing.
func (n *rnode) match(segs []string, method string) (node *rnode, withMethod bool) {
	if len(segs) == 0 {
		if n.ops == nil {
			return nil, false
		}
		_, ok := n.ops[method]
		return n, ok
	}
	var fallback *rnode
	if c := n.lit[segs[0]]; c != nil {
		if m, ok := c.match(segs[1:], method); m != nil {
			if ok {
				return m, true
			}
			fallback = m
		}
	}
	if n.param != nil {
		if m, ok := n.param.match(segs[1:], method); m != nil {
			if ok {
				return m, true
			}
			if fallback == nil {
				fallback = m
			}
		}
	}
	return fallback, false
}

// params fills the path parameters of a matched path (for validation).
func (n *rnode) params(segs []string, method string, out map[string]string) bool {
	if len(segs) == 0 {
		_, ok := n.ops[method]
		return ok
	}
	if c := n.lit[segs[0]]; c != nil && c.params(segs[1:], method, out) {
		return true
	}
	if n.param != nil && n.param.params(segs[1:], method, out) {
		out[n.param.pname] = segs[0]
		return true
	}
	return false
}

// unescape percent-decodes a segment (unchanged when it has no escapes or
// a bad one).
func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// Status of a transaction against the specs.
const (
	Unbound            = ""                    // no spec covers the host
	Documented         = "documented"          // a current, not deprecated operation
	Zombie             = "zombie"              // deprecated, or only in an older version of the spec
	Shadow             = "shadow"              // the host is covered but no path matches
	UndocumentedMethod = "undocumented_method" // the path matches, the method does not
	Infrastructure     = "infrastructure"      // a health, readiness or metrics endpoint no spec documents
)

// group is the specs bound to one host and base path, newest version last.
type group struct {
	host  string
	base  []string // base path segments
	specs []*Spec
	// the current spec's version segments (v1, v2), oldest first, and its
	// operations by method and version-free template
	versions  []string
	versioned map[string][]*Op
}

// Router matches transactions to operations across specs.
type Router struct {
	byHost map[string][]*group // host -> groups, longest base first; "" = any host
	Specs  []*Spec
	// hosts by their name with the version label taken out
	// (api-{v}.example.com): versioned hosts supersede each other
	hostVersions map[string][]string
}

// NewRouter binds specs; specs bound to the same host and base path form
// a version group whose newest version (info.version) is current.
func NewRouter(specs []*Spec) *Router {
	r := &Router{byHost: map[string][]*group{}, Specs: specs}
	type gk struct{ host, base string }
	groups := map[gk]*group{}
	for _, s := range specs {
		for _, b := range s.Bindings {
			k := gk{b.Host, b.Base}
			g := groups[k]
			if g == nil {
				g = &group{host: b.Host}
				discovery.Segments(b.Base, func(seg string) bool {
					g.base = append(g.base, unescape(seg))
					return true
				})
				groups[k] = g
				r.byHost[b.Host] = append(r.byHost[b.Host], g)
			}
			g.specs = append(g.specs, s)
		}
	}
	for _, g := range groups {
		sort.SliceStable(g.specs, func(i, j int) bool { return specVersionLess(g.specs[i].Version, g.specs[j].Version) })
	}
	for h, gs := range r.byHost {
		sort.SliceStable(gs, func(i, j int) bool { return len(gs[i].base) > len(gs[j].base) })
		r.byHost[h] = gs
		if key, _, ok := hostVersion(h); ok {
			if r.hostVersions == nil {
				r.hostVersions = map[string][]string{}
			}
			r.hostVersions[key] = append(r.hostVersions[key], h)
		}
	}
	for _, g := range groups {
		g.index()
	}
	return r
}

// Match is the result of matching one request.
type Match struct {
	Status string
	Op     *Op      // Documented, Zombie: the operation (the replacing one for a superseded version)
	Older  bool     // Zombie: only an older spec version has it
	Segs   []string // the path segments after the base path
	Group  string   // the host the group is bound to
	// Reason says why a Zombie is one (deprecated, only_in_older_version:1.2,
	// superseded, superseded_host, superseded_version:2023-10-16) and
	// Replacement names what supersedes it (GET /v2/accounts/{accountId},
	// a host, or a version header value).
	Reason, Replacement string
	// Superseded says Op is the replacement, not the operation called (a
	// version or host the spec no longer documents); Called then names
	// the endpoint called (GET /v1/accounts/{accountId}).
	Superseded bool
	Called     string
}

// Match matches a request. segs is scratch space for the path segments
// (reused by the caller, so matching allocates nothing).
func (r *Router) Match(host, method, path string, segs []string) Match {
	gs := r.byHost[host]
	if len(gs) == 0 {
		gs = r.byHost[""]
		if len(gs) == 0 {
			return Match{Status: Unbound}
		}
	}
	segs = segs[:0]
	discovery.Segments(path, func(seg string) bool {
		segs = append(segs, unescape(seg))
		return len(segs) < maxSegs
	})
	res := Match{Status: Shadow, Segs: segs}
	for _, g := range gs {
		if len(segs) < len(g.base) || !hasPrefix(segs, g.base) {
			continue
		}
		rel := segs[len(g.base):]
		cur := g.specs[len(g.specs)-1]
		if n, ok := cur.root.match(rel, method); n != nil {
			if ok {
				op := n.ops[method]
				if op.Deprecated {
					return Match{Status: Zombie, Op: op, Segs: rel, Group: g.host, Reason: "deprecated"}
				}
				return Match{Status: Documented, Op: op, Segs: rel, Group: g.host}
			}
			res = Match{Status: UndocumentedMethod, Segs: rel, Group: g.host}
		}
		for i := len(g.specs) - 2; i >= 0; i-- { // older versions, newest first
			if n, ok := g.specs[i].root.match(rel, method); n != nil && ok {
				return Match{Status: Zombie, Op: n.ops[method], Older: true, Segs: rel, Group: g.host, Reason: "only_in_older_version:" + g.specs[i].Version}
			}
		}
		if res.Status == UndocumentedMethod {
			return res
		}
	}
	return res
}

func hasPrefix(segs, base []string) bool {
	for i, b := range base {
		if segs[i] != b {
			return false
		}
	}
	return true
}

// Covers says whether a host is bound to any spec.
func (r *Router) Covers(host string) bool {
	return len(r.byHost[host]) > 0 || len(r.byHost[""]) > 0
}

// versionSeg says whether a path segment is an API version (v1, v2.1,
// v1beta2).
func versionSeg(s string) bool {
	if len(s) < 2 || len(s) > 12 || (s[0] != 'v' && s[0] != 'V') || s[1] < '0' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c == '.' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// versionLess orders API versions: v1 < v1.1 < v2, a pre-release before
// its release (v2beta1 < v2), dates as dates (2023-10-16 < 2024-06-20).
func versionLess(a, b string) bool {
	a, b = strings.TrimLeft(a, "vV"), strings.TrimLeft(b, "vV")
	na, pa := splitPre(a)
	nb, pb := splitPre(b)
	if na != nb {
		return specVersionLess(na, nb)
	}
	switch {
	case pa == pb:
		return false
	case pa == "":
		return false
	case pb == "":
		return true
	}
	return pa < pb
}

// splitPre splits "2beta1" into "2" and "beta1".
func splitPre(v string) (num, pre string) {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= 'a' && c <= 'z' {
			return v[:i], v[i:]
		}
	}
	return v, ""
}

// versionFree is an operation's key without its version segment: method
// and template with parameters unnamed (GET /{v}/accounts/{}).
func versionFree(method string, segs []string) (key, version string) {
	var b strings.Builder
	b.WriteString(method)
	for _, s := range segs {
		b.WriteByte('/')
		switch {
		case version == "" && versionSeg(s):
			version = s
			b.WriteString("{v}")
		case strings.IndexByte(s, '{') >= 0:
			b.WriteString("{}")
		default:
			b.WriteString(s)
		}
	}
	return b.String(), version
}

// index finds the versions of the group's current spec.
func (g *group) index() {
	cur := g.specs[len(g.specs)-1]
	seen := map[string]bool{}
	for _, op := range cur.Ops {
		var segs []string
		discovery.Segments(op.Path, func(s string) bool { segs = append(segs, s); return true })
		key, v := versionFree(op.Method, segs)
		if v == "" {
			continue
		}
		if g.versioned == nil {
			g.versioned = map[string][]*Op{}
		}
		g.versioned[key] = append(g.versioned[key], op)
		op.version = v
		if !seen[v] {
			seen[v] = true
			g.versions = append(g.versions, v)
		}
	}
	sort.Slice(g.versions, func(i, j int) bool { return versionLess(g.versions[i], g.versions[j]) })
	for _, ops := range g.versioned {
		sort.Slice(ops, func(i, j int) bool { return versionLess(ops[i].version, ops[j].version) })
	}
}

// newest returns the operation that supersedes op in its group (the same
// method and template under the highest version), or nil.
func (g *group) newest(op *Op) *Op {
	if op.version == "" {
		return nil
	}
	var segs []string
	discovery.Segments(op.Path, func(s string) bool { segs = append(segs, s); return true })
	key, _ := versionFree(op.Method, segs)
	ops := g.versioned[key]
	if len(ops) == 0 || !versionLess(op.version, ops[len(ops)-1].version) {
		return nil
	}
	return ops[len(ops)-1]
}

// hostVersion takes the version label out of a host name: v1.api.example
// and api-v1.example give ("{v}.api.example", "v1") and ("api-{v}.example",
// "v1").
func hostVersion(h string) (key, version string, ok bool) {
	labels := strings.Split(h, ".")
	for i, l := range labels {
		for _, sep := range []string{"", "-"} {
			j := strings.LastIndex(l, sep+"v")
			if sep == "" {
				j = 0
				if !versionSeg(l) {
					continue
				}
			} else if j < 0 || !versionSeg(l[j+1:]) {
				continue
			}
			version = l[j+len(sep):]
			labels[i] = l[:j+len(sep)] + "{v}"
			return strings.Join(labels, "."), version, true
		}
	}
	return "", "", false
}

// MatchRequest matches a request and tells zombies apart: deprecated
// operations, operations only an older spec version has, and operations
// a newer version supersedes: the same template under a higher version
// segment (whether or not the spec still documents the old one), the same
// path on a host with a higher version label, or an older value of the
// operation's version header or query parameter.
func (r *Router) MatchRequest(host string, req *http1.Request, segs []string) Match {
	m := r.Match(host, req.Method, req.Path, segs)
	switch m.Status {
	case Unbound:
		key, v, ok := hostVersion(host)
		if !ok {
			return m
		}
		var best string
		for _, h := range r.hostVersions[key] {
			if _, hv, _ := hostVersion(h); versionLess(v, hv) && (best == "" || versionLess(best2(best), hv)) {
				best = h
			}
		}
		if best == "" {
			return m
		}
		if n := r.Match(best, req.Method, req.Path, segs); n.Op != nil {
			n.Status, n.Reason, n.Replacement, n.Superseded, n.Called = Zombie, "superseded_host", best+" "+n.Op.ID(), true, n.Op.ID()
			return n
		}
		return m
	case Shadow:
		return r.supersededPath(host, req, segs, m)
	case Zombie:
		if m.Older { // only an older spec has it: name what replaced it, if anything
			if n := r.supersededPath(host, req, segs, Match{}); n.Op != nil {
				m.Replacement = n.Replacement
			}
		}
	case Documented:
		g := r.groupOf(host, m)
		if g != nil {
			if nw := g.newest(m.Op); nw != nil {
				m.Status, m.Reason, m.Replacement = Zombie, "superseded", nw.ID()
				return m
			}
		}
		if old, newest := m.Op.versionParam(req); old != "" {
			m.Status, m.Reason, m.Replacement = Zombie, "superseded_version:"+old, newest
		}
	}
	return m
}

func best2(h string) string {
	_, v, _ := hostVersion(h)
	return v
}

// groupOf finds the group a match was made in.
func (r *Router) groupOf(host string, m Match) *group {
	gs := r.byHost[host]
	if len(gs) == 0 {
		gs = r.byHost[""]
	}
	for _, g := range gs {
		if g.host == m.Group && m.Op != nil && contains(g.specs, m.Op.Spec) {
			return g
		}
	}
	return nil
}

func contains(specs []*Spec, s *Spec) bool {
	for _, x := range specs {
		if x == s {
			return true
		}
	}
	return false
}

// supersededPath tries a shadow request's path under the group's higher
// versions (/v1/accounts/7 when the spec has /v2/accounts/{id}).
func (r *Router) supersededPath(host string, req *http1.Request, scratch []string, m Match) Match {
	gs := r.byHost[host]
	if len(gs) == 0 {
		gs = r.byHost[""]
	}
	var segs []string
	discovery.Segments(req.Path, func(s string) bool {
		segs = append(segs, unescape(s))
		return len(segs) < maxSegs
	})
	for _, g := range gs {
		if len(segs) < len(g.base) || !hasPrefix(segs, g.base) || len(g.versions) == 0 {
			continue
		}
		rel := append([]string(nil), segs[len(g.base):]...)
		at := -1
		for i, s := range rel {
			if versionSeg(s) {
				at = i
				break
			}
		}
		if at < 0 {
			continue
		}
		old := rel[at]
		cur := g.specs[len(g.specs)-1]
		for i := len(g.versions) - 1; i >= 0 && versionLess(old, g.versions[i]); i-- {
			rel[at] = g.versions[i]
			if n, ok := cur.root.match(rel, req.Method); n != nil && ok {
				op := n.ops[req.Method]
				called := strings.Replace(op.Path, "/"+g.versions[i]+"/", "/"+old+"/", 1)
				if strings.HasSuffix(called, "/"+g.versions[i]) {
					called = strings.TrimSuffix(called, g.versions[i]) + old
				}
				return Match{Status: Zombie, Op: op, Segs: rel, Group: g.host, Reason: "superseded", Replacement: op.ID(),
					Superseded: true, Called: op.Method + " " + called}
			}
		}
	}
	return m
}
