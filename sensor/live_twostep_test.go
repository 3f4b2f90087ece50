package sensor

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/rs/zerolog"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
	"github.com/apitap/apitap/sensor/capture"
)

// replaySource hands out frames given to it, then times out as an idle
// live source does.
type replaySource struct {
	frames [][]byte
	cis    []gopacket.CaptureInfo
	i      int
}

func (s *replaySource) Next() ([]byte, gopacket.CaptureInfo, error) {
	if s.i < len(s.frames) {
		s.i++
		return s.frames[s.i-1], s.cis[s.i-1], nil
	}
	time.Sleep(10 * time.Millisecond)
	return nil, gopacket.CaptureInfo{}, capture.ErrTimeout
}
func (*replaySource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }
func (*replaySource) Name() string              { return "replay" }
func (*replaySource) Close() error              { return nil }

// TestLiveTwoStepTraffic: a live pipeline with real API traffic (the
// realistic generator's, replayed at 100 times its speed through sources
// split by flow, as a fanout group would) runs stage two in two steps from
// pipelineWorkers workers: it finishes, bodies the analyzers read stay
// what the pre-stage saw, and the detections come out. (Live output is not
// byte-compared across worker counts: how long a lagging worker is waited
// for is wall time.)
func TestLiveTwoStepTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("runs live pipelines for 8 s")
	}
	var capBuf bytes.Buffer
	if _, err := pcapgen.Realistic(&capBuf, 3<<20, "../testdata/specs"); err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{2, 3} {
		f, err := capture.OpenReader("x", bytes.NewReader(capBuf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		srcs := make([]*replaySource, workers)
		for i := range srcs {
			srcs[i] = &replaySource{}
		}
		base := time.Now().Add(-time.Minute)
		var first time.Time
		for {
			data, ci, err := f.Next()
			if err != nil {
				break
			}
			if first.IsZero() {
				first = ci.Timestamp
			}
			ci.Timestamp = base.Add(ci.Timestamp.Sub(first) / 100)
			pk := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.NoCopy)
			var h uint64
			if tl := pk.TransportLayer(); tl != nil && pk.NetworkLayer() != nil {
				h = pk.NetworkLayer().NetworkFlow().FastHash() ^ tl.TransportFlow().FastHash()
			}
			s := srcs[h%uint64(workers)]
			s.frames = append(s.frames, append([]byte(nil), data...))
			s.cis = append(s.cis, ci)
		}
		cfg := Config{Analyzers: settings(t, "analyzers:\n  test_prepart: {enabled: true}\n  test_precheck: {enabled: true}\n")}
		cfg.Sensor.ID, cfg.Sensor.Workers = "live", workers
		cfg.Output.Emit = []string{"detection"}
		cfg.Live = true
		var out bytes.Buffer
		p, err := NewPipeline(cfg, &out, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		cs := make([]capture.Source, workers)
		for i := range cs {
			cs[i] = srcs[i]
		}
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		if err := p.RunLive(ctx, cs); err != nil {
			t.Fatal(err)
		}
		cancel()
		sum, err := p.Close()
		if err != nil {
			t.Fatal(err)
		}
		n := strings.Count(out.String(), `"type":"detection"`)
		t.Logf("%d workers, two steps %v: %d detections, late %d, held %d", workers, p.s2.pre != nil, n, sum.Late, sum.Held)
		switch {
		case (p.s2.pre != nil) != (workers >= pipelineWorkers):
			t.Errorf("%d workers: two steps %v", workers, p.s2.pre != nil)
		case strings.Contains(out.String(), `"class":"mismatch"`):
			t.Errorf("%d workers: a body changed between the pre-stage and the analyzers behind it", workers)
		case n == 0:
			t.Errorf("%d workers: no detection", workers)
		}
	}
}
