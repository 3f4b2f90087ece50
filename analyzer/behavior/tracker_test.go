package behavior

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestLatency: latency answers as Sub and After do, for capture times,
// far times and times with monotonic clock readings.
func TestLatency(t *testing.T) {
	want := func(resp, req time.Time) float64 {
		if resp.After(req) {
			return resp.Sub(req).Seconds()
		}
		return 0
	}
	r := rand.New(rand.NewPCG(5, 6))
	now := time.Now() // a monotonic reading
	bases := []time.Time{t0, time.Unix(0, 0), time.Unix(1<<32-1, 999999999), time.Unix(-(1<<32)+1, 0), time.Unix(1<<32, 0), time.Unix(1<<40, 5),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), now, now.Round(0), t0.In(time.FixedZone("x", 3600))}
	for _, a := range bases {
		for _, b := range bases {
			for k := 0; k < 50; k++ {
				resp := a.Add(time.Duration(r.Int64N(4e9) - 2e9))
				req := b
				if k%2 == 0 {
					req = a.Add(time.Duration(r.Int64N(4e9) - 2e9))
				}
				if got, w := latency(resp, req), want(resp, req); got != w {
					t.Fatalf("latency(%v, %v) = %v, want %v", resp, req, got, w)
				}
			}
		}
	}
}

// TestContainsLowerASCII agrees with strings.Contains(strings.ToLower(s), sub).
func TestContainsLowerASCII(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alpha := "aAbB-/ "
	for n := 0; n < 100000; n++ {
		s := make([]byte, r.IntN(12))
		for i := range s {
			s[i] = alpha[r.IntN(len(alpha))]
		}
		sub := strings.ToLower(string(s[:r.IntN(len(s)+1)]))
		if n%3 == 0 {
			sub = strings.ToLower(alpha[r.IntN(len(alpha)):])
		}
		if got, want := containsLowerASCII(string(s), sub), strings.Contains(strings.ToLower(string(s)), sub); got != want {
			t.Fatalf("%q in %q: %v, want %v", sub, s, got, want)
		}
	}
}
