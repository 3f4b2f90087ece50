package sensor

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// mergeHarness is a pipeline whose stage two is fed by hand.
func mergeHarness(t *testing.T, workers int, live bool) (*merge, *bytes.Buffer, func() string) {
	t.Helper()
	cfg := Config{}
	cfg.Sensor.ID, cfg.Sensor.Workers = "t", workers
	cfg.Output.Emit = []string{"transaction"}
	var out bytes.Buffer
	p, err := NewPipeline(cfg, &out, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	m := newMerge(p.s2, workers, make(chan *obsBatch, 16), live)
	read := func() string {
		p.s2.out()
		if err := p.out.flush(); err != nil {
			t.Fatal(err)
		}
		s := strings.TrimSpace(out.String())
		out.Reset()
		return s
	}
	return m, &out, read
}

// batchOf makes a batch of transaction observations whose event lines are
// their names, at the given positions.
func batchOf(worker int, mark uint64, at ...uint64) *obsBatch {
	b := &obsBatch{worker: worker, mark: mark}
	t0 := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	for _, a := range at {
		o := b.next()
		o.kind, o.key, o.ts = obsTx, orderKey{at: a, flow: a}, t0.Add(time.Duration(a))
		o.line = append(o.line, "o"+strconv.FormatUint(a, 10)+"\n"...)
	}
	return b
}

// TestMergeOrder: observations of several workers come out in key order,
// each only once every other worker is past it.
func TestMergeOrder(t *testing.T) {
	m, _, read := mergeHarness(t, 2, false)
	m.add(batchOf(0, 10, 1, 5, 9))
	m.drain(false)
	if got := read(); got != "" {
		t.Fatalf("processed %q before worker 1 said anything", got)
	}
	m.add(batchOf(1, 8, 3, 7))
	m.drain(false)
	if got := read(); got != "o1\no3\no5\no7" {
		t.Fatalf("got %q, want o1..o7 (o9 waits for worker 1's mark 8)", got)
	}
	m.add(batchOf(1, 20))
	m.drain(false)
	m.add(&obsBatch{worker: 0, final: true})
	m.add(&obsBatch{worker: 1, final: true})
	m.drain(false)
	if got := read(); got != "o9" {
		t.Fatalf("got %q, want o9", got)
	}
	if !m.finished() || m.s.late.Load() != 0 {
		t.Fatalf("finished %v, late %d", m.finished(), m.s.late.Load())
	}
}

// TestMergeLate: a live worker that lags past the bound is not waited for;
// what it sends later than observations already processed is processed on
// arrival and counted.
func TestMergeLate(t *testing.T) {
	m, _, read := mergeHarness(t, 2, true)
	m.add(batchOf(0, 300, 100, 200))
	m.drain(false)
	if got := read(); got != "" {
		t.Fatalf("processed %q while worker 1 might send earlier ones", got)
	}
	if m.since.IsZero() {
		t.Fatal("the merge did not note when it started waiting")
	}
	m.drain(true) // the lateness bound (maxLate) passed
	if got := read(); got != "o100\no200" {
		t.Fatalf("got %q after the bound", got)
	}
	m.add(batchOf(1, 400, 150, 350))
	m.drain(false)
	if got := read(); got != "o150" {
		t.Fatalf("got %q, want the late o150 at once (o350 waits for worker 0)", got)
	}
	if n := m.s.late.Load(); n != 1 {
		t.Fatalf("late = %d, want 1", n)
	}
	if m.s.buffered.Load() < 2 {
		t.Fatalf("buffered = %d", m.s.buffered.Load())
	}
}
