package sensor

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/internal/testutil/eventtest"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/sensor/capture"
)

// notFound is a test analyzer: it reports 404 responses as scanner
// detections and, on Flush, how many it saw.
type notFound struct {
	cfg     *notFoundConfig
	n       int
	flushes int
}

type notFoundConfig struct {
	Severity string `yaml:"severity"`
}

func (c *notFoundConfig) Validate() error {
	for _, s := range event.Severities {
		if s == c.Severity {
			return nil
		}
	}
	return fmt.Errorf("severity: unknown level %q", c.Severity)
}

func (a *notFound) Name() string { return "test_notfound" }

func (a *notFound) Analyze(tx *reassembly.Transaction, emit analyzer.Emitter) {
	if tx.Response == nil || tx.Response.Status != 404 || tx.Request == nil {
		return
	}
	a.n++
	emit.Detection(&event.Detection{
		ID: fmt.Sprintf("nf-%s-%d", tx.Flow.ID, tx.Seq), Class: "scanner", Severity: a.cfg.Severity, Confidence: 0.5,
		Actor:     event.Actor{IP: tx.Flow.Client.Addr().String()},
		Endpoint:  event.Endpoint{Host: tx.Request.Host, Method: tx.Request.Method, Path: tx.Request.Path},
		Evidence:  []event.Evidence{{Location: "path", Value: tx.Request.Path, Rule: "status_404"}},
		FirstSeen: tx.Request.Start, LastSeen: tx.Response.End, Count: 1,
	})
}

func (a *notFound) Flush(now time.Time, emit analyzer.Emitter) { a.flushes++ }

func init() {
	analyzer.Register(analyzer.Descriptor{
		Name: "test_notfound", Default: false,
		NewConfig: func() any { return &notFoundConfig{Severity: "low"} },
		New: func(cfg any, env analyzer.Env) (analyzer.Analyzer, error) {
			return &notFound{cfg: cfg.(*notFoundConfig)}, nil
		},
	})
}

func settings(t *testing.T, y string) analyzer.Settings {
	t.Helper()
	var c Config
	if err := yaml.Unmarshal([]byte(y), &c); err != nil {
		t.Fatal(err)
	}
	return c.Analyzers
}

func TestAnalyzerConfig(t *testing.T) {
	cases := []struct {
		name, yaml string
		enabled    bool
		err        string
	}{
		{"off by default", "sensor:\n  id: x\n", false, ""},
		{"section turns it on", "analyzers:\n  test_notfound:\n    severity: high\n", true, ""},
		{"enabled false", "analyzers:\n  test_notfound:\n    enabled: false\n", false, ""},
		{"empty section", "analyzers:\n  test_notfound:\n", true, ""},
		{"unknown analyzer", "analyzers:\n  nope:\n    enabled: true\n", false, "analyzers.nope (line 2): unknown analyzer"},
		{"unknown key", "analyzers:\n  test_notfound:\n    enabled: true\n    sevrity: high\n", false, "line 4: unknown key sevrity"},
		{"invalid value", "analyzers:\n  test_notfound:\n    severity: extreme\n", false, `unknown level "extreme"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			en, err := analyzer.Configure(settings(t, c.yaml))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := len(en) == 1; got != c.enabled {
				t.Fatalf("enabled %v, want %v", got, c.enabled)
			}
		})
	}
}

// readFile reads a capture through a pipeline of cfg (setup, if set, sees
// the pipeline before it runs) and returns what it wrote, the pipeline and
// its summary.
func readFile(t testing.TB, cfg Config, path string, setup func(*Pipeline)) (string, *Pipeline, *Summary) {
	t.Helper()
	var out bytes.Buffer
	p, err := NewPipeline(cfg, &out, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(p)
	}
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := p.Run(src); err != nil {
		t.Fatal(err)
	}
	s, err := p.Close()
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), p, s
}

// TestAnalyzerChainOnDemo runs the test analyzer over the demo capture: its
// detections reach the output, validate against the schema, and are the
// same with one and with three workers.
func TestAnalyzerChainOnDemo(t *testing.T) {
	run := func(workers int) (string, *Summary) {
		cfg := Config{Analyzers: settings(t, "analyzers:\n  test_notfound:\n    severity: medium\n")}
		cfg.Sensor.ID, cfg.Sensor.Workers = "t", workers
		cfg.Output.Emit = []string{"detection"}
		out, _, s := readFile(t, cfg, "../testdata/demo/demo.pcap", nil)
		return out, s
	}
	one, s := run(1)
	eventtest.ValidateStream(t, strings.NewReader(one))
	if n := strings.Count(one, `"class":"scanner"`); n != 10 {
		t.Fatalf("%d detections, want the 10 scanner 404s of the demo:\n%s", n, one)
	}
	if len(s.Detections) != 1 || s.Detections[0].N != 10 || strings.Join(s.Analyzers, ",") != "test_notfound" {
		t.Fatalf("summary: %+v %v", s.Detections, s.Analyzers)
	}
	three, _ := run(3)
	if three != one {
		t.Fatalf("3 workers give other output than 1:\n%s\n---\n%s", three, one)
	}
}
