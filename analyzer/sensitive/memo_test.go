package sensitive

import (
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/apitap/apitap/reassembly/http1"
)

// TestTokenMemo: a bearer token replayed from the memo gives the same
// findings (counts, examples, evidence bytes) as scanning it.
func TestTokenMemo(t *testing.T) {
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"jane@example.com"}`))
	tokens := []string{
		"eyJhbGciOiJSUzI1NiJ9." + claims + ".c2lnbmF0dXJlc2lnbmF0dXJl",
		"eyJhbGciOiJub25lIn0." + claims + ".",
		"sk_live_4eC39HqLyjWDarjtT1zdp7dc",
		"opaque-token-without-findings",
		"jane@example.com 4111111111111111 bob@example.org", // three findings: not memoized
		"a",
	}
	snap := func(a *Analyzer) string {
		s := fmt.Sprint(a.seen, a.counts, a.weakJWT)
		for l := range a.ex {
			for ty, e := range a.ex[l] {
				if e.set {
					s += fmt.Sprintf(" %d/%d:%v %q %q %d", l, ty, e.weak, e.rule, a.arena[e.v0:e.f1], e.n)
				}
			}
		}
		return s
	}
	for _, tok := range tokens {
		a, err := New(NewConfig())
		if err != nil {
			t.Fatal(err)
		}
		tx := mktx("GET", "/me", []http1.Header{{Name: "Authorization", Value: "Bearer " + tok}}, "", 200, nil, "")
		var col collector
		a.Analyze(tx, &col)
		first := snap(a)
		for i := 0; i < 2; i++ {
			a.Analyze(tx, &col)
			if got := snap(a); got != first {
				t.Errorf("token %q, call %d:\n got %s\nwant %s", tok, i+2, got, first)
			}
		}
		_, memoized := a.tokens[tok]
		if want := tok != tokens[4]; memoized != want {
			t.Errorf("token %q memoized %v, want %v", tok, memoized, want)
		}
	}
}
