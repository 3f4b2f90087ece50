package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	_ "github.com/apitap/apitap/analyzer/all"
	"github.com/apitap/apitap/analyzer/behavior"
	"github.com/apitap/apitap/analyzer/conformance"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/sensor"
	"github.com/apitap/apitap/sensor/capture"
)

var repoRoot = filepath.Join("..", "..")

// demoInput runs the demo capture through every analyzer, with the demo
// spec, as apitap report does.
func demoInput(t testing.TB) *Input {
	t.Helper()
	var cfg sensor.Config
	cfg.Sensor.ID, cfg.Sensor.Workers = "report-test", 1
	cfg.Analyzers.Override("conformance", true, func(c any) {
		c.(*conformance.Config).Specs = []string{filepath.Join(repoRoot, "testdata", "demo", "spec.yaml")}
	})
	p, err := sensor.NewPipeline(cfg.WithDefaults(), &bytes.Buffer{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenFile(filepath.Join(repoRoot, "testdata", "demo", "demo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := p.Run(src); err != nil {
		t.Fatal(err)
	}
	sum, err := p.Close()
	if err != nil {
		t.Fatal(err)
	}
	in := &Input{Title: "demo", Sensor: "report-test", Sources: []string{"demo.pcap"}, Transactions: sum.Reassembly.Transactions, Until: sum.LastTime, Detections: p.Detections, Specs: true}
	in.Catalog = p.Shared(discovery.Name).(*discovery.Catalog).View()
	in.Actors = p.Shared(behavior.Name).(*behavior.Tracker).Top(20, sum.LastTime)
	return in
}

func TestRenderDemo(t *testing.T) {
	in := demoInput(t)
	var b bytes.Buffer
	if err := Render(&b, in); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{`id="catalog"`, "/v1/internal/export", `class="chip critical"`, "credential_stuffing", "Shadow and zombie endpoints",
		"ip:203.0.113.12", "Spec conformance", `<svg id="timeline"`} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://", "<link", "src=\"http"} {
		if strings.Contains(html, bad) {
			t.Errorf("report refers to something outside itself: %q", bad)
		}
	}
}

// TestEscaping: hosts, paths and evidence come from the traffic; the
// report shows them as text.
func TestEscaping(t *testing.T) {
	log := sensor.NewDetectionLog()
	log.Add(&event.Detection{ID: "x", Class: "xss", Severity: "high", LastSeen: time.Unix(1700000000, 0),
		Endpoint: event.Endpoint{Host: "<script>alert(1)</script>", Method: "GET", Path: "/a\"><img src=x onerror=alert(2)>"},
		Evidence: []event.Evidence{{Location: "query", Name: "q", Value: "<svg onload=alert(3)>"}}})
	var b bytes.Buffer
	if err := Render(&b, &Input{Sensor: "<b>s</b>", Detections: log}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>alert", "<img src=x", "<svg onload", "<b>s</b>"} {
		if strings.Contains(b.String(), bad) {
			t.Errorf("unescaped %q in the report", bad)
		}
	}
}

func TestEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, &Input{Sensor: "s"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "No API endpoints seen.") || !strings.Contains(b.String(), "No detections.") {
		t.Errorf("empty report:\n%s", b.String())
	}
}

func TestTimelineBuckets(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mins []sensor.Minute
	for i := 0; i < 24*60; i += 7 {
		mins = append(mins, sensor.Minute{Start: start.Add(time.Duration(i) * time.Minute), N: [5]uint64{0, 1, 2, 0, 1}})
	}
	c := timeline(mins)
	buckets := map[int]bool{}
	for _, b := range c.Bars {
		buckets[b.X] = true
	}
	if len(buckets) > 60 || len(buckets) < 20 {
		t.Errorf("%d bars for a day of minutes", len(buckets))
	}
	if c.Max == 0 || c.Empty {
		t.Error("empty chart")
	}
	if _, err := os.Stat(repoRoot); err != nil {
		t.Fatal(err)
	}
}
