package attack

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// The shortcuts of the hot path must answer what the slow forms they
// replace answer: these tests compare them on values built from the
// bytes that matter (case, the separators, the encodings' bytes, and K
// and ſ, the runes that fold to ASCII letters).

var trickyBytes = []string{"a", "b", "c", "k", "K", "s", "S", "e", "/", ".", "%", "&", "+", "\\", "-", "$", "_", "p", "r", "o", "t",
	"2", "e", "{", "'", ";", "\u212a", "\u017f", "\xff", "é", " "}

func trickyString(r *rand.Rand, max int) string {
	var b strings.Builder
	for n := r.IntN(max + 1); n > 0; n-- {
		b.WriteString(trickyBytes[r.IntN(len(trickyBytes))])
	}
	return b.String()
}

func TestNameIs(t *testing.T) {
	names := []string{"cookie", "Cookie", "COOKIE", "coo\u212aie", "cookies", "cooki", "", "user-agent", "User-Agent", "u\u017fer-agent",
		"USER-AGENT", "user_agent", "authorization", "Authorization", "x-api-key", "X-API-\u212aey", "\xffookie"}
	for _, lower := range []string{"cookie", "user-agent", "authorization", "x-api-key", "content-type"} {
		for _, n := range names {
			if got, want := nameIs(n, lower), strings.EqualFold(n, lower); got != want {
				t.Errorf("nameIs(%q, %q) = %v, EqualFold says %v", n, lower, got, want)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		lower := strings.ToLower(trickyString(r, 4))
		if !isASCII(lower) {
			continue
		}
		n := trickyString(r, 5)
		if r.IntN(2) == 0 { // a near miss of lower
			n = strings.ToUpper(lower)
			if j := strings.IndexAny(n, "KS"); j >= 0 && r.IntN(2) == 0 {
				n = n[:j] + map[byte]string{'K': "\u212a", 'S': "\u017f"}[n[j]] + n[j+1:]
			}
		}
		if got, want := nameIs(n, lower), strings.EqualFold(n, lower); got != want {
			t.Fatalf("nameIs(%q, %q) = %v, EqualFold says %v", n, lower, got, want)
		}
	}
}

// TestScan: one pass that also finds what needs decoding gives what
// normalising and then running the prefilter gives.
func TestScan(t *testing.T) {
	w := newWorker(newTestState(t))
	var n normalizer
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 100000; i++ {
		raw := trickyString(r, 12)
		for _, plus := range []bool{false, true} {
			want := n.norm(raw, plus)
			wantBits := w.st.pre.classes(want) | cmdBit(want)
			if w.st.pre.scan(want)&pWeakSQL != 0 && countProse(want, 6) < 6 {
				wantBits |= cSQLi
			}
			got, bits := w.scan(raw, plus)
			if got != want || bits&classBits != wantBits {
				t.Fatalf("scan(%q, %v) = %q, %b; want %q, %b", raw, plus, got, bits&classBits, want, wantBits)
			}
			b2, g := w.st.pre.scanGrams(raw)
			var g2 grams
			g2.add(raw)
			if b2 != w.st.pre.scan(raw) || g != g2 {
				t.Fatalf("scanGrams(%q) = %b, %x; want %b, %x", raw, b2, g, w.st.pre.scan(raw), g2)
			}
		}
	}
}

// TestGateLiteral: whenever a condition holds for a value, the value
// has its gate literal's bigrams.
func TestGateLiteral(t *testing.T) {
	pack := `rules:
  - {id: a, match: {all: [{target: path, contains: "/Kiosk/"}]}}
  - {id: b, match: {all: [{target: path, prefix: "/ss"}]}}
  - {id: c, match: {all: [{target: path, equals: "/kiss"}]}}
  - {id: d, match: {all: [{target: path, equals: "/etc/a.b"}]}}
  - {id: e, match: {all: [{target: path, regex: '(?i)/pro+to/%2e'}]}}
  - {id: f, match: {all: [{target: path, contains: "a"}]}}
  - {id: g, match: {all: [{target: path, regex: '(?i)^/(a|b)$'}]}}
  - {id: h, match: {all: [{target: path, equals: "sksks"}]}}
`
	rules, err := parseRules("gate.yaml", []byte(pack))
	if err != nil {
		t.Fatal(err)
	}
	var conds []*Condition
	for _, r := range rules {
		conds = append(conds, &r.Match.All[0])
	}
	r := rand.New(rand.NewPCG(5, 6))
	vals := []string{"/\u212aiosk/", "/\u212aISS", "/KI\u017f\u017f", "/\u017fs", "/ETC/A.B", "/PrOoOTo/%2E", "/a", "\u017f\u212a\u017fks"}
	for i := 0; i < 200000; i++ {
		vals = append(vals[:8], trickyString(r, 10))
		for _, v := range vals {
			var vg grams
			vg.add(v)
			for _, c := range conds {
				_, lit, ok := gateLiteral(c)
				if !ok || !c.test(v) {
					continue
				}
				var lg grams
				lg.add(lit)
				if !lg.within(vg) {
					t.Fatalf("%+v holds for %q but its gate literal %q is not there", *c, v, lit)
				}
			}
		}
	}
}

// TestRuleGates: the starter rules are gated and still match (their
// cases are in TestStarterRules); a rule on a header or body, which have
// no summary, is evaluated on every transaction.
func TestRuleGates(t *testing.T) {
	rs := newTestState(t).rules.Load()
	open := 0
	for _, g := range rs.gates {
		if g.grams == 0 && !g.or {
			open++
		}
	}
	if open > 3 {
		t.Errorf("%d of %d starter rules have no gate", open, len(rs.rules))
	}
}

func TestProbesBy(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	old := func(p string) string {
		for _, pp := range probePaths {
			if len(p) >= len(pp) && strings.EqualFold(p[:len(pp)], pp) {
				return pp
			}
		}
		return ""
	}
	w := newWorker(newTestState(t))
	for i := 0; i < 100000; i++ {
		p := probePaths[r.IntN(len(probePaths))]
		switch r.IntN(3) {
		case 0:
			p = strings.ToUpper(p)
		case 1:
			p = trickyString(r, 6)
		}
		if r.IntN(3) == 0 {
			p += trickyString(r, 3)
		}
		tx := mk("GET", p, "", nil, "", "")
		w.hits = w.hits[:0]
		w.ua = ""
		w.scanner(tx)
		got := ""
		if len(w.hits) > 0 {
			got = strings.TrimPrefix(w.hits[0].rule, "probe_path:")
		}
		if want := old(p); got != want {
			t.Fatalf("%q: probe %q, want %q", p, got, want)
		}
	}
}

// TestPrefilter compares the prefilter with a plain search for every
// keyword in the lower-cased value.
func TestPrefilter(t *testing.T) {
	p := newPrefilter()
	all := append(keywords[:len(keywords):len(keywords)], normKeywords...)
	oracle := func(v string) int {
		b := []byte(v)
		for i := range b {
			b[i] = lowerTab[b[i]]
		}
		bits := 0
		for _, k := range all {
			if strings.Contains(string(b), k.kw) {
				bits |= k.class
			}
		}
		return bits
	}
	var parts []string
	for _, k := range all {
		parts = append(parts, k.kw, strings.ToUpper(k.kw), k.kw[:len(k.kw)/2])
	}
	parts = append(parts, "a", "e", "x", " ", "/", "\xc5")
	r := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 200000; i++ {
		var b strings.Builder
		for n := r.IntN(8); n > 0; n-- {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		v := b.String()
		if got, want := p.scan(v), oracle(v); got != want {
			t.Fatalf("scan(%q) = %b, want %b", v, got, want)
		}
	}
}
