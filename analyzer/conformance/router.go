package conformance

import (
	"sort"
	"strings"
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
	for rest := path; ; {
		var seg string
		seg, rest = nextSegment(rest)
		if seg == "" {
			if rest == "" {
				break
			}
			continue
		}
		if strings.IndexByte(seg, '{') >= 0 {
			if n.param == nil {
				n.param = &rnode{pname: strings.Trim(seg, "{}")}
			}
			n = n.param
			continue
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
	}
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

// nextSegment cuts the first segment of a path, skipping empty segments
// and matrix parameters: the same rules as the discovery analyzer.
func nextSegment(p string) (seg, rest string) {
	for len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	if i := strings.IndexByte(p, '/'); i >= 0 {
		seg, rest = p[:i], p[i:]
	} else {
		seg, rest = p, ""
	}
	if j := strings.IndexByte(seg, ';'); j >= 0 {
		seg = seg[:j]
	}
	return seg, rest
}

// unescape percent-decodes a segment (unchanged when it has no escapes or
// a bad one).
func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func ishex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
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
				for rest := b.Base; ; {
					var seg string
					seg, rest = nextSegment(rest)
					if seg == "" {
						if rest == "" {
							break
						}
						continue
					}
					g.base = append(g.base, unescape(seg))
				}
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
	for rest := path; ; {
		var seg string
		seg, rest = nextSegment(rest)
		if seg == "" {
			if rest == "" {
				break
			}
			continue
		}
		if len(segs) == maxSegs {
			break
		}
		segs = append(segs, unescape(seg))
	}
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
