package behavior

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestPathCache: the cache answers what pathInfo does, for paths seen
// again, paths sharing a slot and paths too long to keep.
func TestPathCache(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	segs := []string{"v1", "users", "Admin", "backoffice", "bac\u212aoffice", "", "123", "550e8400-e29b-41d4-a716-446655440000", "me", "a;b=1", "orders", "login", "LOGIN", "forgot-password", "token",
		"2026-03-01", strings.Repeat("x", 40), "ord_8812", "%2F"}
	var paths []string
	for i := 0; i < 3000; i++ {
		var b strings.Builder
		for n := r.IntN(6); n >= 0; n-- {
			b.WriteString("/" + segs[r.IntN(len(segs))])
		}
		if r.IntN(3) == 0 {
			fmt.Fprintf(&b, "/%d", r.IntN(50))
		}
		paths = append(paths, b.String())
	}
	var c pathCache
	for round := 0; round < 3; round++ {
		for _, p := range paths {
			tpl, id, priv, flags := c.info(p)
			wtpl, wid, wpriv := pathInfo(p)
			if tpl != wtpl || id != wid || priv != wpriv || flags != lastFlags(p) {
				t.Fatalf("info(%q) = %x %q %v %b, want %x %q %v %b", p, tpl, id, priv, flags, wtpl, wid, wpriv, lastFlags(p))
			}
		}
	}
}
