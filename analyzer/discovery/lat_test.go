package discovery

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestLatBuckets: the binary search over latBounds puts every duration in
// the bucket its definition (latBucket) gives, at the bounds too.
func TestLatBuckets(t *testing.T) {
	var ds []time.Duration
	for _, b := range latBounds {
		ds = append(ds, b-1, b, b+1)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		ds = append(ds, time.Duration(r.Int64N(int64(latBase<<(latBuckets/2+2)))), time.Duration(r.Int64N(int64(10*time.Millisecond))))
	}
	for _, d := range ds {
		if d < 0 {
			continue
		}
		var h latHist
		h.add(d)
		if want := latBucket(d); h.n[want] != 1 {
			t.Fatalf("%v: not in bucket %d (%v)", d, want, h.n)
		}
	}
}
