package correlate

import (
	"container/heap"
	"math"
	"sync"
	"time"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/observation"
)

// engine is one partition's detectors behind its reorder buffer.
type engine struct {
	mu      sync.Mutex
	c       *Correlator
	det     Detectors
	held    recHeap
	sensors map[string]*sensorMark
	last    int64     // capture time of the last record released
	flush   int64     // next flush of the detectors' windows (capture time)
	arrived time.Time // wall time of the last arrival
	started time.Time // wall time of the first arrival
	cur     *observation.Record
	marks   map[string]*actorMarks // the actors' marks, decoded
	intern  observation.Interner
}

func newEngine(c *Correlator, d Detectors) *engine {
	return &engine{c: c, det: d, sensors: map[string]*sensorMark{}, marks: map[string]*actorMarks{}}
}

// sensorMark is how far one sensor's records reached a partition.
type sensorMark struct {
	at   int64     // latest capture time
	seen time.Time // wall time of its latest record
}

type recHeap []*observation.Record

func (h recHeap) Len() int           { return len(h) }
func (h recHeap) Less(i, j int) bool { return observation.Less(h[i], h[j]) }
func (h recHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *recHeap) Push(x any)        { *h = append(*h, x.(*observation.Record)) }
func (h *recHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return r
}

// add queues a record and releases what the watermark allows (mu held).
func (e *engine) add(r *observation.Record, now time.Time) {
	e.arrived = now
	if e.started.IsZero() {
		e.started = now
	}
	m := e.sensors[r.Sensor]
	if m == nil {
		m = &sensorMark{}
		e.sensors[r.Sensor] = m
	}
	if r.At > m.at {
		m.at = r.At
	}
	m.seen = now
	if r.At < e.last {
		e.c.late.Add(1) // older than what was released: processed now
		e.process(r)
		return
	}
	heap.Push(&e.held, r)
	e.release(now, false)
}

// watermark is the capture time up to which every recently active sensor
// has published (false: no sensor holds the partition back).
func (e *engine) watermark(now time.Time) (int64, bool) {
	if now.Sub(e.started) < e.c.cfg.Idle {
		return math.MinInt64, true // the sensors are still making themselves known
	}
	var wm int64
	ok := false
	for _, m := range e.sensors {
		if now.Sub(m.seen) > e.c.cfg.Idle {
			continue
		}
		if !ok || m.at < wm {
			wm, ok = m.at, true
		}
	}
	return wm, ok
}

// release processes the held records up to the watermark; all of them
// when all is set or when the buffer is over its bound (mu held).
func (e *engine) release(now time.Time, all bool) {
	wm, ok := e.watermark(now)
	for e.held.Len() > 0 {
		r := e.held[0]
		if !all && ok && r.At > wm && e.held.Len() <= e.c.cfg.MaxHeld {
			break
		}
		heap.Pop(&e.held)
		e.process(r)
	}
	if all && e.last > 0 {
		e.det.Flush(time.Unix(0, e.last), e)
	}
}

// process runs the detectors on one record (mu held).
func (e *engine) process(r *observation.Record) {
	if r.At > e.last {
		e.last = r.At
	}
	e.cur = r
	e.det.Observe(r, e)
	e.cur = nil
	recPool.Put(r)
	e.c.processed.Add(1)
	if e.flush == 0 {
		e.flush = e.last + int64(time.Second)
	} else if e.last >= e.flush {
		e.flush = e.last + int64(time.Second)
		e.det.Flush(time.Unix(0, e.last), e)
	}
}

// Detection implements analyzer.Emitter: the detection is central, and
// confirmed when the observation's flow was.
func (e *engine) Detection(d *event.Detection) {
	if e.cur != nil && e.cur.Has(observation.FlagConfirmed) {
		d.Confirmed = true
	}
	d.Central = true
	e.c.output(d)
}
