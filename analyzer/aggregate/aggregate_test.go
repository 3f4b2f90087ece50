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

type sink struct{ dets []event.Detection }

func (s *sink) Detection(d *event.Detection) { s.dets = append(s.dets, *d) }

// TestClients: with Clients set, a folded detection lists its clients
// busiest first with their counts, up to the bound, and counts the rest;
// the first evidence stays first.
func TestClients(t *testing.T) {
	a := New(time.Hour, 10, "pc-")
	a.Clients = 2
	var s sink
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := Key{Class: "plaintext_credentials", Rule: "authorization_basic", Host: "h"}
	for i, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.2", "192.0.2.3", "192.0.2.2", "192.0.2.1", "192.0.2.3"} {
		d := event.Detection{Class: k.Class, Severity: "high", Actor: event.Actor{IP: ip}, Count: 1, FirstSeen: t0, LastSeen: t0.Add(time.Duration(i) * time.Minute),
			Evidence: []event.Evidence{{Location: "header", Name: "authorization", Value: "[REDACTED len=12]", Rule: "credentials:authorization_basic"}}}
		a.Fold(k, &d, &s)
	}
	a.Flush(t0.Add(2*time.Hour), &s, true)
	if len(s.dets) != 2 {
		t.Fatalf("%d detections, want the first and the final update", len(s.dets))
	}
	got := fmt.Sprint(s.dets[1].Evidence)
	want := "[{header authorization [REDACTED len=12] credentials:authorization_basic } {client 192.0.2.2 3 requests client } {client 192.0.2.1 2 requests client } {client others 2 requests from clients not listed client }]"
	if got != want {
		t.Errorf("evidence\n%s\nwant\n%s", got, want)
	}
	if s.dets[1].Count != 7 {
		t.Errorf("count %d", s.dets[1].Count)
	}
	if first := fmt.Sprint(s.dets[0].Evidence); first != "[{header authorization [REDACTED len=12] credentials:authorization_basic } {client 192.0.2.1 1 requests client }]" {
		t.Errorf("first %s", first)
	}
}

// TestRepeatIsFold: folding a repeat with repeat (no detection built)
// gives what Fold gives, and repeat on a key that is not open changes
// nothing.
func TestRepeatIsFold(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := Key{Class: "plaintext_credentials", Rule: "authorization_basic", Host: "h"}
	ips := []string{"192.0.2.1", "192.0.2.2", "192.0.2.2", "192.0.2.3"}
	run := func(repeat bool) string {
		a := New(time.Hour, 10, "pc-")
		a.Clients = 2
		var s sink
		if repeat && a.repeat(k, 1, t0, "high", false, ips[0]) {
			t.Fatal("repeat on a key that is not open")
		}
		for i, ip := range ips {
			at, sev := t0.Add(time.Duration(i)*time.Minute), []string{"medium", "high"}[i%2]
			if repeat && a.repeat(k, 1, at, sev, i == 2, ip) {
				continue
			}
			d := event.Detection{Class: k.Class, Severity: sev, Actor: event.Actor{IP: ip}, Count: 1, FirstSeen: at, LastSeen: at, Confirmed: i == 2,
				Evidence: []event.Evidence{{Location: "header", Name: "authorization", Value: "[REDACTED len=12]", Rule: "credentials:authorization_basic"}}}
			a.Fold(k, &d, &s)
		}
		a.Flush(t0.Add(2*time.Hour), &s, true)
		return fmt.Sprintf("%+v", s.dets)
	}
	if fold, repeat := run(false), run(true); fold != repeat {
		t.Errorf("Fold gave\n%s\nRepeat gave\n%s", fold, repeat)
	}
}
