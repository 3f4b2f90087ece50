// Package aggregate folds repeated detections: an analyzer reports each
// occurrence, the Aggregator emits a detection the first time its key is
// seen and then at most once per interval (capture time) with the updated
// count and last_seen, and once more at the end of the input. It keeps a
// bounded number of open detections; beyond the bound new ones are emitted
// without aggregation and counted.
//
// Folding spans flows, so in the sensor it happens in stage two: when the
// Emitter handed to Emit is an analyzer.Folder (a stage-one worker), Emit
// forwards the occurrence to it and keeps nothing, so Seen and Add report
// nothing open and the analyzer reports every occurrence; stage two folds
// them with one Aggregator per analyzer in capture order (Fold). With any
// other Emitter (tests, stage-two analyzers) the Aggregator folds itself.
//
// Concurrency: one Aggregator per analyzer instance (not safe for
// concurrent use).
package aggregate

import (
	"container/heap"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/event"
)

// Key identifies one aggregated detection.
type Key = analyzer.FoldKey

type open struct {
	k        Key
	d        event.Detection
	emitted  time.Time
	pending  int
	lastSeen time.Time
	queued   time.Time // the due time of its newest entry in the heap
	// with Clients: the first evidence, the clients (by address) and their
	// counts, and what the bound left out
	base    []event.Evidence
	clients []client
	others  int // occurrences of clients not listed
}

type client struct {
	ip string
	n  int
}

// client counts n occurrences of ip (listed up to max clients).
func (o *open) client(ip string, n, max int) {
	if ip == "" {
		return
	}
	for i := range o.clients {
		if o.clients[i].ip == ip {
			o.clients[i].n += n
			return
		}
	}
	if len(o.clients) < max {
		o.clients = append(o.clients, client{ip: ip, n: n})
		return
	}
	o.others += n
}

// evidence is the detection's evidence with its clients, busiest first.
func (o *open) evidence() []event.Evidence {
	if o.clients == nil {
		return o.d.Evidence
	}
	cs := slices.Clone(o.clients)
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].n != cs[j].n {
			return cs[i].n > cs[j].n
		}
		return cs[i].ip < cs[j].ip
	})
	ev := slices.Clip(o.base)
	for _, c := range cs {
		ev = append(ev, event.Evidence{Location: "client", Name: c.ip, Value: strconv.Itoa(c.n) + " requests", Rule: "client"})
	}
	if o.others > 0 {
		ev = append(ev, event.Evidence{Location: "client", Name: "others", Value: strconv.Itoa(o.others) + " requests from clients not listed", Rule: "client"})
	}
	return ev
}

// due is when Flush must look at o next: its interval ends (with
// occurrences pending) or it has been idle for two intervals.
func (o *open) due(interval time.Duration) time.Time {
	if o.pending > 0 {
		return o.emitted.Add(interval)
	}
	return o.lastSeen.Add(2 * interval)
}

// dueHeap orders open detections by the time Flush must look at them, so
// that a flush costs what is due, not what is open. Entries go stale when
// an open detection is queued again earlier or forgotten; Flush skips them.
type dueHeap []dueEntry

type dueEntry struct {
	at time.Time
	o  *open
}

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueEntry)) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = dueEntry{}
	*h = old[:len(old)-1]
	return e
}

// Aggregator holds the open detections of one worker.
type Aggregator struct {
	Interval  time.Duration
	Max       int
	Prefix    string // of detection ids ("sd-", "cf-")
	Clients   int    // list up to this many clients per detection (see analyzer.FoldSpec)
	open      map[Key]*open
	heap      dueHeap
	Untracked uint64 // detections emitted without aggregation (bound reached)
	// the detection Add found last: the same finding repeats on call after
	// call, and comparing keys costs less than hashing one
	lastK Key
	lastO *open
	// the occurrence Emit hands to an analyzer.Folder
	scratch event.Detection
}

// New returns an aggregator emitting at most once per interval per key.
func New(interval time.Duration, max int, prefix string) *Aggregator {
	return &Aggregator{Interval: interval, Max: max, Prefix: prefix, open: map[Key]*open{}}
}

// Seen reports whether k is open (its detection was emitted): the caller
// may then skip building the detection and call Add.
func (a *Aggregator) Seen(k Key) bool {
	_, ok := a.open[k]
	return ok
}

// Add counts n more occurrences of an open detection at capture time at;
// severity raises the detection's severity if higher. It reports whether
// the detection was open (one lookup: Seen first is not needed).
func (a *Aggregator) Add(k Key, n int, at time.Time, severity string) bool {
	o := a.lastO
	if o == nil || k != a.lastK {
		if o = a.open[k]; o == nil {
			return false
		}
		a.lastK, a.lastO = k, o
	}
	if o.pending == 0 {
		a.queue(o, o.emitted.Add(a.Interval)) // due earlier now
	}
	o.pending += n
	o.d.Count += n
	if at.After(o.lastSeen) {
		o.lastSeen = at
	}
	o.d.Severity = MaxSeverity(o.d.Severity, severity)
	return true
}

// Spec is what stage two needs to fold this aggregator's occurrences.
func (a *Aggregator) Spec() analyzer.FoldSpec {
	return analyzer.FoldSpec{Prefix: a.Prefix, Interval: a.Interval, Max: a.Max, Clients: a.Clients}
}

// FromSpec returns the aggregator folding a spec's occurrences.
func FromSpec(spec analyzer.FoldSpec) *Aggregator {
	a := New(spec.Interval, spec.Max, spec.Prefix)
	a.Clients = spec.Clients
	return a
}

// Emit emits a new detection d (its Count, FirstSeen and LastSeen set)
// under key k and opens it for aggregation; when emit is an
// analyzer.Folder it hands the occurrence over instead (see the package
// documentation).
func (a *Aggregator) Emit(k Key, d event.Detection, emit analyzer.Emitter) {
	if f, ok := emit.(analyzer.Folder); ok {
		// d is only valid during the call (analyzer.Folder): the scratch
		// copy spares a heap copy of d per occurrence
		a.scratch = d
		f.Fold(a.Spec(), k, &a.scratch)
		a.scratch = event.Detection{}
		return
	}
	o := &open{k: k, d: d, emitted: d.LastSeen, lastSeen: d.LastSeen}
	if a.Clients > 0 {
		o.base = slices.Clone(d.Evidence)
		o.client(d.Actor.IP, max(d.Count, 1), a.Clients)
		o.d.Evidence = o.evidence()
	}
	o.d.ID = a.id(k, d.FirstSeen, d.LastSeen, d.Count)
	emit.Detection(&o.d)
	if len(a.open) >= a.Max {
		a.Untracked++
		return
	}
	a.open[k] = o
	a.queue(o, o.due(a.Interval))
}

// queue puts o into the heap at at, unless it is queued earlier already.
func (a *Aggregator) queue(o *open, at time.Time) {
	if !o.queued.IsZero() && !at.Before(o.queued) {
		return
	}
	o.queued = at
	heap.Push(&a.heap, dueEntry{at: at, o: o})
}

// Fold counts one occurrence d reported under k (stage two): the first
// opens and emits it, the next ones add their count, last seen time and
// severity.
func (a *Aggregator) Fold(k Key, d *event.Detection, emit analyzer.Emitter) {
	if !a.repeat(k, d.Count, d.LastSeen, d.Severity, d.Confirmed, d.Actor.IP) {
		a.Emit(k, *d, emit)
	}
}

// FoldLazy folds an occurrence d handed over without its evidence
// (analyzer.LazyFolder): one of an open detection is counted, and only one
// that opens a detection gets its evidence from ev.
func (a *Aggregator) FoldLazy(k Key, d *event.Detection, ev analyzer.Evidencer, arg []byte, emit analyzer.Emitter) {
	if !a.repeat(k, d.Count, d.LastSeen, d.Severity, d.Confirmed, d.Actor.IP) {
		d.Evidence = ev.Evidence(arg)
		a.Emit(k, *d, emit)
	}
}

// repeat folds an occurrence of an open detection as Fold does (its
// count n, at least 1, capture time, severity, confirmation and client)
// and reports whether k was open; when it was not, nothing changed.
func (a *Aggregator) repeat(k Key, n int, at time.Time, severity string, confirmed bool, client string) bool {
	if !a.Add(k, max(n, 1), at, severity) {
		return false
	}
	if confirmed { // a.lastO is k's open detection after Add
		a.lastO.d.Confirmed = true
	}
	if a.Clients > 0 {
		a.lastO.client(client, max(n, 1), a.Clients)
	}
	return true
}

// Flush re-emits open detections whose interval has passed with new
// occurrences, and forgets those idle for two intervals; final emits every
// pending one and forgets all. What is due is taken from a heap (a flush
// costs what is due, not what is open) and handled in key order.
func (a *Aggregator) Flush(now time.Time, emit analyzer.Emitter, final bool) {
	var due []*open
	if final {
		due = make([]*open, 0, len(a.open))
		for _, o := range a.open {
			due = append(due, o)
		}
		a.heap = a.heap[:0]
	} else {
		for len(a.heap) > 0 && !now.Before(a.heap[0].at) {
			e := heap.Pop(&a.heap).(dueEntry)
			if e.o.queued != e.at || a.open[e.o.k] != e.o {
				continue // stale: queued again, or forgotten
			}
			e.o.queued = time.Time{}
			due = append(due, e.o)
		}
	}
	sort.Slice(due, func(i, j int) bool { return less(due[i].k, due[j].k) })
	for _, o := range due {
		if o.pending > 0 && (final || now.Sub(o.emitted) >= a.Interval) {
			d := o.d
			d.LastSeen = o.lastSeen
			if a.Clients > 0 {
				d.Evidence = o.evidence()
			}
			d.ID = a.id(o.k, d.FirstSeen, d.LastSeen, d.Count)
			emit.Detection(&d)
			o.emitted, o.pending = now, 0
			if !final {
				a.queue(o, o.due(a.Interval))
			}
			continue
		}
		if final || now.Sub(o.lastSeen) >= 2*a.Interval {
			delete(a.open, o.k)
			if a.lastO == o {
				a.lastO = nil
			}
			continue
		}
		a.queue(o, o.due(a.Interval))
	}
	if final {
		clear(a.open)
		a.lastO = nil
	}
}

func less(x, y Key) bool {
	for _, p := range [...][2]string{{x.Path, y.Path}, {x.Host, y.Host}, {x.Method, y.Method}, {x.Class, y.Class}, {x.Rule, y.Rule}, {x.Name, y.Name}} {
		if p[0] != p[1] {
			return p[0] < p[1]
		}
	}
	return false
}

// id is a deterministic detection id: the same key, window and count give
// the same id (consumers deduplicate redeliveries by it).
func (a *Aggregator) id(k Key, first, last time.Time, count int) string {
	h := uint64(14695981039346656037)
	for _, s := range [...]string{k.Class, k.Rule, k.Host, k.Method, k.Path, k.Name, first.UTC().Format(time.RFC3339Nano), last.UTC().Format(time.RFC3339Nano), strconv.Itoa(count)} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
		h ^= 0xff
		h *= 1099511628211
	}
	return a.Prefix + strconv.FormatUint(h, 16)
}

// MaxSeverity returns the higher of two severities.
func MaxSeverity(a, b string) string {
	rank := func(s string) int {
		for i, v := range event.Severities {
			if v == s {
				return i
			}
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}
