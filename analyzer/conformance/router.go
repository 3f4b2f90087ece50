package conformance

import (
	"net/url"
	"sort"
	"strings"

	"github.com/apitap/apitap/analyzer/discovery"
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
)

// group is the specs bound to one host and base path, newest version last.
type group struct {
	host  string
	base  []string // base path segments
	specs []*Spec
}

// Router matches transactions to operations across specs.
type Router struct {
	byHost map[string][]*group // host -> groups, longest base first; "" = any host
	Specs  []*Spec
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
	}
	return r
}

// Match is the result of matching one request.
type Match struct {
	Status string
	Op     *Op      // Documented, Zombie: the operation
	Older  bool     // Zombie: only an older spec version has it
	Segs   []string // the path segments after the base path
	Group  string   // the host the group is bound to
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
				st := Documented
				if op.Deprecated {
					st = Zombie
				}
				return Match{Status: st, Op: op, Segs: rel, Group: g.host}
			}
			res = Match{Status: UndocumentedMethod, Segs: rel, Group: g.host}
		}
		for i := len(g.specs) - 2; i >= 0; i-- { // older versions, newest first
			if n, ok := g.specs[i].root.match(rel, method); n != nil && ok {
				return Match{Status: Zombie, Op: n.ops[method], Older: true, Segs: rel, Group: g.host}
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
