package sensor

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/sensor/capture"
)

// idleSource is a live source on a quiet link: every Next times out.
type idleSource struct{}

func (idleSource) Next() ([]byte, gopacket.CaptureInfo, error) {
	time.Sleep(20 * time.Millisecond)
	return nil, gopacket.CaptureInfo{}, capture.ErrTimeout
}
func (idleSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }
func (idleSource) Name() string              { return "idle" }
func (idleSource) Close() error              { return nil }

// oneAtATime is shared state whose Report notes calls made while another
// was running.
type oneAtATime struct {
	in, calls, overlaps atomic.Int32
}

func (r *oneAtATime) Report(now time.Time, final bool, out analyzer.EventSink) {
	if r.in.Add(1) > 1 {
		r.overlaps.Add(1)
	}
	r.calls.Add(1)
	time.Sleep(300 * time.Millisecond) // a slow report: a second caller would overlap
	r.in.Add(-1)
}

// TestLiveReportsOnOneGoroutine: a live pipeline calls each Reporter from
// one goroutine, as analyzer.Reporter promises (the risk analyzer's report
// state has no lock, and reports append to stage two's output buffer).
// The stats loop used to call them too, alongside stage two's tick.
func TestLiveReportsOnOneGoroutine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a live pipeline for 3 s")
	}
	// one worker, and enough for stage two to run in two stages (the
	// reports run on its second goroutine)
	for _, workers := range []int{1, pipelineWorkers} {
		cfg := Config{Analyzers: settings(t, "analyzers:\n  test_prepart: {enabled: true}\n")}
		cfg.Sensor.ID, cfg.Sensor.Workers = "one", workers
		cfg.Output.Emit = []string{"stats"}
		p, err := NewPipeline(cfg, io.Discard, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		if (p.s2.pre != nil) != (workers >= pipelineWorkers) {
			t.Fatalf("%d workers: pre-stage %v", workers, p.s2.pre != nil)
		}
		r := &oneAtATime{}
		p.shared["zz-report-once"] = r
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		srcs := make([]capture.Source, workers)
		for i := range srcs {
			srcs[i] = idleSource{}
		}
		if err := p.RunLive(ctx, srcs); err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if r.calls.Load() < 2 {
			t.Fatalf("%d workers: %d reports in 3 s of a live run", workers, r.calls.Load())
		}
		if n := r.overlaps.Load(); n > 0 {
			t.Fatalf("%d workers: %d of %d reports ran while another was running", workers, n, r.calls.Load())
		}
	}
}
