package aggregate

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/apitap/apitap/analyzer/event"
)

type lines []string

func (l *lines) Detection(d *event.Detection) {
	*l = append(*l, fmt.Sprintf("%s %s %d %s %s", d.ID, d.Class, d.Count, d.LastSeen.Format(time.StampMicro), d.Severity))
}

// naive is the aggregator as it was: every flush walks every open key.
type naive struct {
	a *Aggregator
}

func (n *naive) flush(now time.Time, emit *lines, final bool) {
	a := n.a
	keys := make([]Key, 0, len(a.open))
	for k := range a.open {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return less(keys[i], keys[j]) })
	for _, k := range keys {
		o := a.open[k]
		if o.pending > 0 && (final || now.Sub(o.emitted) >= a.Interval) {
			d := o.d
			d.LastSeen = o.lastSeen
			d.ID = a.id(k, d.FirstSeen, d.LastSeen, d.Count)
			emit.Detection(&d)
			o.emitted, o.pending = now, 0
			continue
		}
		if final || now.Sub(o.lastSeen) >= 2*a.Interval {
			delete(a.open, k)
			a.lastO = nil
		}
	}
}

// TestFlushDue: a flush that looks only at what is due emits exactly what
// walking every open detection emitted, in the same order.
func TestFlushDue(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 3))
		fast, slow := New(10*time.Second, 40, "x-"), New(10*time.Second, 40, "x-")
		var got, want lines
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		sev := []string{"low", "medium", "high"}
		for step := 0; step < 3000; step++ {
			now = now.Add(time.Duration(r.IntN(900)) * time.Millisecond)
			k := Key{Class: "c", Path: fmt.Sprintf("/p/%d", r.IntN(60))}
			s := sev[r.IntN(3)]
			for _, x := range []struct {
				a   *Aggregator
				out *lines
			}{{fast, &got}, {slow, &want}} {
				if !x.a.Add(k, 1, now, s) {
					x.a.Emit(k, event.Detection{Class: "c", Severity: s, FirstSeen: now, LastSeen: now, Count: 1}, x.out)
				}
			}
			if step%7 == 0 {
				fast.Flush(now, &got, false)
				(&naive{slow}).flush(now, &want, false)
			}
		}
		fast.Flush(now, &got, true)
		(&naive{slow}).flush(now, &want, true)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed %d: %d detections, want %d\n%v\n%v", seed, len(got), len(want), got, want)
		}
		if len(fast.open) != 0 || len(fast.heap) != 0 {
			t.Fatalf("after the final flush: %d open, %d queued", len(fast.open), len(fast.heap))
		}
	}
}

// BenchmarkFlush: many open detections, few due.
func BenchmarkFlush(b *testing.B) {
	a := New(10*time.Minute, 100000, "x-")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var out lines
	for i := 0; i < 50000; i++ {
		k := Key{Class: "c", Path: fmt.Sprintf("/p/%d", i)}
		a.Emit(k, event.Detection{Class: "c", FirstSeen: now, LastSeen: now, Count: 1}, &out)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now = now.Add(time.Second)
		a.Flush(now, &out, false)
	}
}
