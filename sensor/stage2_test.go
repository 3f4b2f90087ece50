package sensor

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/internal/testgen/pcapgen"
	"github.com/apitap/apitap/reassembly"
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

// prePart is a flow analyzer whose ordered part reads half the response
// bodies (decoding gzip), folds a finding on some, emits a detection on
// others, and notes a hash of the body; preCheck, a StageOrdered analyzer
// behind it, reads every body and emits a detection if one the part read
// differs from what it saw (a body decoded by the pre-stage must stay
// valid until stage two is done with it; one it left coded decodes behind
// it, with stage two's decoder: under -race a shared decoder shows).
type prePart struct{ folder analyzer.Folder }

func (prePart) Name() string                                      { return "test_prepart" }
func (prePart) Analyze(*reassembly.Transaction, analyzer.Emitter) {}

type prePartOrdered struct{ folder analyzer.Folder }

func (prePartOrdered) Name() string { return "test_prepart" }

func bodyHash(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h | 1
}

var preSpec = analyzer.FoldSpec{Prefix: "tp", Interval: time.Minute, Max: 100}

func (p prePartOrdered) Analyze(tx *reassembly.Transaction, emit analyzer.Emitter) {
	if tx.Request == nil || tx.Response == nil || tx.Response.Body.Empty() || tx.Seq%2 == 1 {
		return // half the bodies are left to the analyzers behind (coded ones decode there)
	}
	h := bodyHash(tx.Response.Body.Bytes())
	tx.Notes.SensitiveResponse = h
	d := event.Detection{Class: "test", Severity: "low", Confidence: 0.5,
		Endpoint:  event.Endpoint{Host: tx.Request.Host, Method: tx.Request.Method},
		Evidence:  []event.Evidence{{Location: "response_body", Value: strconv.FormatUint(h%1000, 10), Rule: "test:body"}},
		FirstSeen: tx.Request.Start, LastSeen: tx.Response.End, Count: 1}
	switch {
	case h%5 == 0:
		p.folder.Fold(preSpec, analyzer.FoldKey{Class: "test", Rule: "fold", Host: tx.Request.Host, Method: tx.Request.Method}, &d)
	case h%11 == 0:
		d.ID = "tp-" + tx.Flow.ID + "-" + strconv.Itoa(tx.Seq)
		emit.Detection(&d)
	}
}

type preCheck struct{}

func (preCheck) Name() string { return "test_precheck" }

func (preCheck) Analyze(tx *reassembly.Transaction, emit analyzer.Emitter) {
	if tx.Request == nil || tx.Response == nil || tx.Response.Body.Empty() {
		return
	}
	h := bodyHash(tx.Response.Body.Bytes())
	if tx.Seq%2 == 1 { // not read by the part: decoded here, where it reads
		tx.Notes.SensitiveResponse = h
	}
	if h != tx.Notes.SensitiveResponse {
		emit.Detection(&event.Detection{ID: "mismatch-" + tx.Flow.ID + "-" + strconv.Itoa(tx.Seq), Class: "mismatch", Severity: "high"})
	}
}

func init() {
	analyzer.Register(analyzer.Descriptor{
		Name: "test_prepart", Default: false,
		NewConfig: func() any { return &struct{}{} },
		New:       func(any, analyzer.Env) (analyzer.Analyzer, error) { return prePart{}, nil },
		NewOrdered: func(_ any, env analyzer.Env) (analyzer.Analyzer, error) {
			return prePartOrdered{folder: env.Folder}, nil
		},
	})
	analyzer.Register(analyzer.Descriptor{
		Name: "test_precheck", Default: false, Stage: analyzer.StageOrdered,
		NewConfig: func() any { return &struct{}{} },
		New:       func(any, analyzer.Env) (analyzer.Analyzer, error) { return preCheck{}, nil },
	})
}

// TestPreStageSameOutput: behind pipelineWorkers workers or more, the flow
// analyzers' ordered parts run ahead of the rest of stage two, on the
// merge's goroutine, and stage two replays what they emitted and folded.
// The output is byte for byte the one chain's (one worker, inline), on API
// traffic with gzip-encoded responses, which the pre-stage decodes: the
// bodies it decoded stay valid for the analyzers behind it.
func TestPreStageSameOutput(t *testing.T) {
	var capBuf bytes.Buffer
	res, err := pcapgen.Realistic(&capBuf, 3<<20, "../testdata/specs")
	if err != nil {
		t.Fatal(err)
	}
	if res.Gzipped == 0 {
		t.Fatal("no gzip-encoded response in the capture")
	}
	path := filepath.Join(t.TempDir(), "realistic.pcap")
	if err := os.WriteFile(path, capBuf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	y := allOff(t) + "  test_prepart: {enabled: true}\n  test_precheck: {enabled: true}\n"
	run := func(workers int) (string, bool) {
		cfg := Config{Analyzers: settings(t, y)}
		cfg.Sensor.ID, cfg.Sensor.Workers = "t", workers
		cfg.Output.Emit = []string{"detection"}
		out, p, _ := readFile(t, cfg, path, nil)
		return out, p.s2.pre != nil
	}
	one, pre := run(1)
	switch {
	case pre:
		t.Fatal("one worker: a pre-stage")
	case strings.Contains(one, `"mismatch"`):
		t.Fatal("one worker: a body changed between the analyzers")
	case !strings.Contains(one, `"id":"tp-`) || !strings.Contains(one, `"rule":"test:body"`):
		t.Fatalf("no folded or emitted detection: the test shows nothing\n%.2000s", one)
	}
	for _, w := range []int{2, pipelineWorkers, pipelineWorkers + 1} {
		out, pre := run(w)
		if pre != (w >= pipelineWorkers) {
			t.Errorf("%d workers: pre-stage %v", w, pre)
		}
		if strings.Contains(out, `"mismatch"`) {
			t.Errorf("%d workers: a body the pre-stage decoded changed before stage two read it", w)
		}
		if out != one {
			a, b := strings.Split(one, "\n"), strings.Split(out, "\n")
			for i := range min(len(a), len(b)) {
				if a[i] != b[i] {
					t.Fatalf("%d workers: output differs from one worker's at line %d of %d/%d:\n%s\n---\n%s", w, i+1, len(a), len(b), a[i], b[i])
				}
			}
			t.Fatalf("%d workers: %d lines, one worker %d", w, len(b), len(a))
		}
	}
}
