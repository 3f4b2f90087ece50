package report

import (
	"bytes"
	"fmt"
	"net/netip"
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
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
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

// TestPagedCatalog: a catalog larger than a page shows its riskiest and
// busiest endpoints first, says how many it left out, and a snapshot
// renders every page; the HTML stays small however big the catalog.
func TestPagedCatalog(t *testing.T) {
	cfg := discovery.NewConfig()
	cfg.MaxHosts = 5000
	cat := discovery.NewCatalog(cfg, "t")
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	const n = 4000
	for i := 0; i < n; i++ {
		req := &http1.Request{Method: "GET", Host: fmt.Sprintf("h%04d.example", i), Path: "/api/items", Target: "/api/items", Start: at, End: at}
		cat.Observe(&reassembly.Transaction{Flow: reassembly.Flow{Client: netip.MustParseAddrPort("10.0.0.9:4000"), Server: netip.MustParseAddrPort("10.0.0.1:80")},
			Exchange: http1.Exchange{Request: req, Response: &http1.Response{Status: 200, Start: at, End: at}}})
	}
	in := &Input{Title: "paged", Catalog: cat.View()}
	snap := NewSnapshot(in)
	var sizes []int
	for page := 0; page < 3; page++ {
		var b bytes.Buffer
		if err := snap.Render(&b, page); err != nil {
			t.Fatal(err)
		}
		shown := strings.Count(b.String(), `class="ep"`)
		want := min(DefaultMaxEndpoints, n-page*DefaultMaxEndpoints)
		if shown != want || !strings.Contains(b.String(), fmt.Sprintf("Showing %d of %d endpoints", want, n)) {
			t.Errorf("page %d: %d endpoints shown, want %d", page+1, shown, want)
		}
		sizes = append(sizes, b.Len())
	}
	t.Logf("4000 endpoints: pages of %v bytes", sizes)
	if sizes[0] > 2<<20 {
		t.Errorf("a page of %d bytes", sizes[0])
	}
}
