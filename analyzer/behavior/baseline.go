package behavior

import (
	"math"
	"math/bits"
)

// The baselines: what normal looks like, learnt from the traffic itself.
//
// A hist is the distribution of one measure (requests in a minute,
// sensitive answers in a window, distinct objects of an endpoint read in a
// window) over actors and their windows: the current window of every actor
// that has one (live) and the windows that ended (done, halved whenever
// they weigh more than histMemory, so the distribution follows the
// traffic). A detector compares an actor's value with a high quantile of
// its peer group's distribution; the actor itself is part of it, so the
// busiest member of a small group is never its own outlier.

// histBuckets: values 0-3 exactly, then four buckets per doubling up to
// 2^24.
const histBuckets = 96

// robustTop is how many of the highest samples a quantile leaves out at
// least.
const robustTop = 5

// histMemory bounds the weight of ended windows.
const histMemory = 4096

type hist struct {
	live [histBuckets]uint32
	done [histBuckets]float32
	n    float64 // live and done weight
}

// bucket places a value (monotone in v).
func bucket(v uint32) int {
	if v < 4 {
		return int(v)
	}
	e := bits.Len32(v) - 1 // v in [2^e, 2^(e+1)), e >= 2
	b := 4*(e-1) + int(v>>(e-2))&3
	return min(b, histBuckets-1)
}

// upper is the largest value of bucket b (the smallest of b+1, minus one).
func upper(b int) float64 {
	if b < 4 {
		return float64(b)
	}
	e := b/4 + 1
	m := b % 4
	return float64(uint64(4+m+1)<<(e-2)) - 1
}

// set records that an actor's open window went from old to v (old is 0
// for a new window: counted as a new live sample).
func (h *hist) set(old, v uint32, fresh bool) {
	if fresh {
		h.live[bucket(v)]++
		h.n++
		return
	}
	if a, b := bucket(old), bucket(v); a != b {
		if h.live[a] > 0 {
			h.live[a]--
		}
		h.live[b]++
	}
}

// end moves an actor's window that ended with v from live to done.
func (h *hist) end(v uint32) {
	b := bucket(v)
	if h.live[b] > 0 {
		h.live[b]--
	} else {
		h.n++
	}
	h.done[b]++
	if h.n > 2*histMemory {
		var n float64
		for i := range h.done {
			h.done[i] *= 0.5
			n += float64(h.done[i]) + float64(h.live[i])
		}
		h.n = n
	}
}

// drop removes an actor's open window (the actor was evicted).
func (h *hist) drop(v uint32) {
	if b := bucket(v); h.live[b] > 0 {
		h.live[b]--
		h.n--
	}
}

// quantile is the value below which a share q of the samples lie (the
// upper bound of its bucket), and whether there were at least min samples.
// The top robustTop samples are never the answer: one actor's few windows
// do not make the baseline of a small group.
func (h *hist) quantile(q float64, min float64) (float64, bool) {
	if h.n < min || h.n <= 0 {
		return 0, false
	}
	want := math.Min(q, 1-robustTop/h.n) * h.n
	var c float64
	for b := 0; b < histBuckets; b++ {
		c += float64(h.live[b]) + float64(h.done[b])
		if c >= want {
			return upper(b), true
		}
	}
	return upper(histBuckets - 1), true
}

// quantileOthers is quantile without one open window of value self (the
// actor being judged; 0: none).
func (h *hist) quantileOthers(q float64, min float64, self uint32) (float64, bool) {
	if self == 0 {
		return h.quantile(q, min)
	}
	b := bucket(self)
	if h.live[b] == 0 {
		return h.quantile(q, min)
	}
	h.live[b]--
	h.n--
	v, ok := h.quantile(q, min)
	h.live[b]++
	h.n++
	return v, ok
}

// lincount counts distinct items (linear counting on 1024 bits): exact for
// a few, within a few percent up to a few thousand, 128 bytes. Two of them
// merge (a union) by or-ing.
type lincount struct {
	w [16]uint64
}

const lincountBits = 1024

// add sets h's bit and reports whether it was new.
func (l *lincount) add(h uint64) bool {
	h = spread(h)
	i := h >> (64 - 10)
	m := uint64(1) << (i & 63)
	w := &l.w[i>>6]
	if *w&m != 0 {
		return false
	}
	*w |= m
	return true
}

// ones is the number of bits set.
func (l *lincount) ones() int {
	n := 0
	for _, w := range l.w {
		n += bits.OnesCount64(w)
	}
	return n
}

// estimate is the number of distinct items added.
func (l *lincount) estimate() int {
	return linEstimate(l.ones(), lincountBits)
}

func linEstimate(ones, m int) int {
	if ones == 0 {
		return 0
	}
	if ones >= m {
		ones = m - 1
	}
	return int(math.Round(-float64(m) * math.Log(float64(m-ones)/float64(m))))
}

func (l *lincount) or(o *lincount) {
	for i := range l.w {
		l.w[i] |= o.w[i]
	}
}

func (l *lincount) reset() { *l = lincount{} }

// bits64 is a 64-bit linear counter (distinct principals of an address,
// addresses of a fingerprint): exact for a few, saturating past about 200.
type bits64 uint64

func (b *bits64) add(h uint64) {
	*b |= 1 << (spread(h) >> 58)
}

func (b bits64) has(h uint64) bool { return b&(1<<(spread(h)>>58)) != 0 }

// spread mixes every bit of h into the top bits (a 64-bit finaliser):
// the counters take their positions from them.
func spread(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func (b bits64) estimate() int { return linEstimate(bits.OnesCount64(uint64(b)), 64) }

// ewma is a usual value learnt over an actor's own windows.
type ewma struct {
	mean float32
	n    uint16 // windows learnt (saturating)
}

func (e *ewma) learn(v float64) {
	if e.n == 0 {
		e.mean = float32(v)
	} else {
		e.mean = float32(0.8*float64(e.mean) + 0.2*v)
	}
	if e.n < math.MaxUint16 {
		e.n++
	}
}
