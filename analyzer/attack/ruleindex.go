package attack

import (
	"strings"

	"github.com/apitap/apitap/reassembly/http1"
)

// Most rules name a literal the request must contain: a CVE rule's path,
// a parameter name. Evaluating every condition of every rule on every
// transaction costs more than the detectors on a typical API call, so
// each rule gets a gate: a necessary condition that is cheap to test for
// all rules at once. A transaction is summarised, per target, by the set
// of byte pairs (bigrams, hashed into 64 bits) that occur in it; a rule
// whose gate literal has a bigram the target lacks can not match and is
// skipped. Rules that pass the gate are evaluated in full, as before.

// gate targets: the values whose bigrams a transaction is summarised by.
const (
	gPath      = iota // the decoded path (target path)
	gRawPath          // the path as sent (raw_path, or path with decoded: false)
	gQueryName        // every query parameter name
	gQuery            // every query parameter value
	// gBody stands for the body (targets body and json) by whether there
	// is one: all bigrams or none. Summing it up would cost a pass over
	// it, but most API calls have no body.
	gBody
	numGateTargets
)

// grams is a set of hashed bigrams of lower-cased bytes. One word: a
// path of 30 bytes sets about a third of its bits, and a gate literal of
// a dozen bytes, as CVE paths are, still passes one path in thousands.
type grams uint64

// bigram is the bit of the pair of lower-cased bytes a, b (Fibonacci
// hashing).
func bigram(a, b uint32) grams { return 1 << ((a<<8 | b) * 0x9e3779b1 >> 26) }

// add puts the bigrams of s into g.
func (g *grams) add(s string) {
	if len(s) < 2 {
		return
	}
	acc := *g
	prev := uint32(lowerTab[s[0]])
	for i := 1; i < len(s); i++ {
		c := uint32(lowerTab[s[i]])
		acc |= bigram(prev, c)
		prev = c
	}
	*g = acc
}

// within says whether every bigram of g is in t.
func (g grams) within(t grams) bool { return g&^t == 0 }

// gateLit is a literal that occurs (in either case) in a target whenever
// a condition holds: its bigrams.
type gateLit struct {
	grams  grams
	target uint8
	or     bool // the rule has more gate literals (ruleSet.or), one must hold
}

// ruleSet is the loaded rules with their gates.
type ruleSet struct {
	rules []*Rule
	// gates are the rules' necessary conditions: the literal, or one of
	// the others in or, is in the request. A rule without a gate has a
	// literal without bigrams, which every request passes. (Apart from
	// the rules, so that going over them reads a few cache lines.)
	gates    []gateLit
	or       map[int][]gateLit
	need     [numGateTargets]bool // targets some gate looks at
	anyValue bool                 // a rule looks at every value (target any_value)
}

func newRuleSet(rules []*Rule) *ruleSet {
	rs := &ruleSet{rules: rules, gates: make([]gateLit, len(rules)), or: map[int][]gateLit{}}
	for i, r := range rules {
		g := gateOf(r)
		if len(g) > 0 {
			rs.gates[i] = g[0]
		}
		if len(g) > 1 {
			rs.gates[i].or, rs.or[i] = true, g[1:]
		}
		for _, l := range g {
			rs.need[l.target] = true
		}
		for _, c := range append(r.Match.All[:len(r.Match.All):len(r.Match.All)], r.Match.Any...) {
			rs.anyValue = rs.anyValue || c.Target == "any_value"
		}
	}
	return rs
}

// gateOf finds a rule's gate: the most selective literal of its `all`
// conditions (each of which must hold), else one literal of each of its
// `any` conditions (one of which must hold), when all of them have one.
// The paths' bigrams are always at hand: a literal in the path is chosen
// over a longer one elsewhere, and the body's presence last.
func gateOf(r *Rule) []gateLit {
	best, bestLit := -1, ""
	rank := func(t int) int {
		switch t {
		case gPath, gRawPath:
			return 2
		case gBody:
			return 0
		}
		return 1
	}
	better := func(t int, lit string) bool {
		if best < 0 || rank(t) != rank(best) {
			return best < 0 || rank(t) > rank(best)
		}
		return len(lit) > len(bestLit)
	}
	for i := range r.Match.All {
		if t, lit, ok := gateLiteral(&r.Match.All[i]); ok && better(t, lit) {
			best, bestLit = t, lit
		}
	}
	if best >= 0 {
		return []gateLit{newGateLit(best, bestLit)}
	}
	var g []gateLit
	for i := range r.Match.Any {
		t, lit, ok := gateLiteral(&r.Match.Any[i])
		if !ok {
			return nil
		}
		g = append(g, newGateLit(t, lit))
	}
	return g
}

func newGateLit(target int, lit string) gateLit {
	l := gateLit{target: uint8(target)}
	l.grams.add(lit)
	return l
}

// gateLiteral is a literal of at least two bytes that the condition's
// target contains, byte for byte up to ASCII case, whenever the
// condition holds, and the gate target of that value.
//
// Contains, prefix and the regular expression's required literal are
// compared with strings.EqualFold over as many bytes as the ASCII
// literal has, which only matches ASCII bytes. Equals compares the whole
// value, which may hold K (KELVIN SIGN) for k or ſ (LONG S) for s: only
// a stretch of the literal without k and s is certain to be there.
func gateLiteral(c *Condition) (int, string, bool) {
	t := -1
	switch c.Target {
	case "path":
		t = gPath
		if c.Decoded != nil && !*c.Decoded {
			t = gRawPath
		}
	case "raw_path":
		t = gRawPath
	case "query_name":
		t = gQueryName
	case "query":
		t = gQuery
	case "body", "json":
		t = gBody
	default:
		return 0, "", false
	}
	var lit string
	switch {
	case c.re != nil:
		lit = c.must
	case c.Contains != "":
		lit = c.Contains
	case c.Prefix != "":
		lit = c.Prefix
	default:
		lit = longestWithout(c.Equals, "kKsS")
	}
	if len(lit) < 2 || !isASCII(lit) {
		return 0, "", false
	}
	return t, lit, true
}

// longestWithout is the longest stretch of s without bytes of cut.
func longestWithout(s, cut string) string {
	best := ""
	for s != "" {
		i := strings.IndexAny(s, cut)
		if i < 0 {
			i = len(s)
		}
		if i > len(best) {
			best = s[:i]
		}
		if i == len(s) {
			break
		}
		s = s[i+1:]
	}
	return best
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// summarize computes the request's bigrams for the gate targets the
// rules need.
func (w *worker) summarize(rs *ruleSet, req *http1.Request) {
	g := &w.grams
	*g = [numGateTargets]grams{}
	if rs.need[gPath] || rs.need[gRawPath] {
		g[gRawPath] = w.rawGrams
		if len(req.Path) > maxValue { // the path's scan stopped short
			g[gRawPath] = 0
			g[gRawPath].add(req.Path)
		}
		if req.Path == w.path { // nothing was decoded
			g[gPath] = g[gRawPath]
		} else {
			g[gPath].add(w.path)
		}
	}
	if rs.need[gQueryName] {
		for _, n := range w.names {
			if n.loc == "query" {
				g[gQueryName].add(n.value)
			}
		}
	}
	if rs.need[gQuery] {
		for _, v := range w.values {
			if v.loc == "query" {
				g[gQuery].add(v.value)
			}
		}
	}
	if len(req.Body.Bytes()) > 0 {
		g[gBody] = ^grams(0)
	}
}

// passes says whether rule i's gate lets it be evaluated.
func (w *worker) passes(rs *ruleSet, i int) bool {
	if g := &rs.gates[i]; g.grams.within(w.grams[g.target%numGateTargets]) {
		return true
	} else if !g.or {
		return false
	}
	for _, l := range rs.or[i] {
		if l.grams.within(w.grams[l.target]) {
			return true
		}
	}
	return false
}
