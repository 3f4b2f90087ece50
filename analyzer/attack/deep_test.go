package attack

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/internal/testgen/apigen"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

var deepOnce struct {
	sync.Once
	st  *State
	err error
}

// deepState compiles the Core Rule Set once for every test: every
// transaction is checked (sample 1000), up to 10 per second.
func deepState(t testing.TB) *State {
	deepOnce.Do(func() {
		cfg := NewConfig()
		cfg.DeepCheck = DeepConfig{Enabled: true, SamplePerMille: 1000, MaxPerSecond: 10}
		deepOnce.st, deepOnce.err = NewState(cfg, zerolog.Nop())
		if deepOnce.err == nil {
			deepOnce.st.deep.live = true // the per-worker budget of live sources
		}
	})
	if deepOnce.err != nil {
		t.Fatal(deepOnce.err)
	}
	return deepOnce.st
}

// TestDeepCheck: the Core Rule Set backs a flagged SQL injection with its
// own rule, finds what it knows on a sampled transaction, stays quiet on
// ordinary API calls, and keeps to its budget.
func TestDeepCheck(t *testing.T) {
	st := deepState(t)
	w := newWorker(st)
	var c collector
	// flagged by the fast engine, backed by CRS
	w.Analyze(mk("GET", "/v1/search", "q=%27%20UNION%20SELECT%20username%2Cpassword%20FROM%20users--", nil, "", ""), &c)
	if len(c.Detections) != 1 || c.Detections[0].Class != "sqli" {
		t.Fatalf("detections: %+v", c.Detections)
	}
	crs := ""
	for _, e := range c.Detections[0].Evidence {
		if strings.HasPrefix(e.Rule, "crs:942") {
			crs = e.Rule
		}
	}
	if crs == "" {
		t.Errorf("no CRS SQL injection rule in the evidence: %+v", c.Detections[0].Evidence)
	}
	// ordinary API traffic, every call checked: no detection
	doc, err := apigen.Load(filepath.Join("..", "..", "testdata", "specs", "shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	g := apigen.New(doc, "api.shop.test", 3)
	c.Detections = nil
	cfgMax := st.deep.cfg.MaxPerSecond
	st.deep.cfg.MaxPerSecond = 1 << 30
	for i := 0; i < 300; i++ {
		tx, _ := g.Next()
		w.Analyze(tx, &c)
	}
	st.deep.cfg.MaxPerSecond = cfgMax
	for _, d := range c.Detections {
		t.Errorf("benign API call detected: %s %s %+v", d.Class, d.Endpoint.Path, d.Evidence)
	}
	// budget: 10 checks per second of capture time, of which sampled
	// transactions take at most half; flagged ones get the rest
	checked, skipped := st.DeepStats()
	w2 := newWorker(st)
	for i := 0; i < 25; i++ {
		w2.Analyze(mk("GET", "/v1/items", "page=1", []http1.Header{{Name: "User-Agent", Value: "Mozilla/5.0"}}, "", ""), &c)
	}
	c2, s2 := st.DeepStats()
	if c2-checked != 5 || s2-skipped != 20 {
		t.Errorf("budget, sampled: %d checked, %d skipped; want 5 and 20", c2-checked, s2-skipped)
	}
	for i := 0; i < 10; i++ {
		w2.Analyze(mk("GET", "/v1/items", "q=%27%20OR%201%3D1--", nil, "", ""), &c)
	}
	if c3, s3 := st.DeepStats(); c3-c2 != 5 || s3-s2 != 5 {
		t.Errorf("budget, flagged after the sample: %d checked, %d skipped; want 5 and 5", c3-c2, s3-s2)
	}
	t.Logf("CRS rule backing the injection: %s; %d checks in all", crs, c2)
}

// TestDeepPerConnection: a connection gets at most max_per_connection
// checks per second of capture time, whatever the worker's budget, and a
// capture file is read without the per-worker budget (its output must not
// depend on the number of workers).
func TestDeepPerConnection(t *testing.T) {
	cfg := NewConfig()
	cfg.DeepCheck = DeepConfig{Enabled: true, MaxPerSecond: 2, MaxPerConnection: 3}
	st, err := NewState(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	w := newWorker(st)
	var c collector
	conns := []*reassembly.FlowState{{}, {}, {}}
	for i := 0; i < 15; i++ {
		tx := mk("GET", "/v1/items", "q=%27%20OR%201%3D1--", nil, "", "")
		tx.Flow.State = conns[i%3]
		w.Analyze(tx, &c)
	}
	if checked, skipped := st.DeepStats(); checked != 9 || skipped != 6 {
		t.Errorf("file: %d checked, %d skipped; want 9 (3 connections x 3) and 6", checked, skipped)
	}
	for i, fs := range conns {
		if fs.DeepN != 3 {
			t.Errorf("connection %d: %d checks, want 3", i, fs.DeepN)
		}
	}
}

// BenchmarkDeepCheck measures the Core Rule Set on ordinary API calls
// (what sampling costs) and on an injection (what a flagged one costs).
func BenchmarkDeepCheck(b *testing.B) {
	st := deepState(b)
	doc, _ := apigen.Load(filepath.Join("..", "..", "testdata", "specs", "shop.yaml"))
	g := apigen.New(doc, "api.shop.test", 1)
	txs := make([]*reassembly.Transaction, 256)
	for i := range txs {
		txs[i], _ = g.Next()
	}
	b.Run("api_call", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			st.deep.check(txs[i&255], 65536)
		}
	})
	attack := mk("GET", "/v1/search", "q=%27%20UNION%20SELECT%20username%2Cpassword%20FROM%20users--", nil, "", "")
	b.Run("injection", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			st.deep.check(attack, 65536)
		}
	})
}

// TestDeepSecondOpinion: a CRS finding of a class the fast engine did not
// report becomes a detection of its own, next to the fast engine's
// scanner hit on the same request, with the anomaly score and paranoia
// level in its evidence.
func TestDeepSecondOpinion(t *testing.T) {
	st := deepState(t)
	w := newWorker(st)
	var c collector
	// PHP code injection: CRS's 933 rules know file_get_contents, the fast
	// engine has no PHP class
	tx := mk("GET", "/v1/render", "tpl=%3C%3Fphp+echo+file_get_contents%28%24_GET%5Bf%5D%29%3B+%3F%3E",
		[]http1.Header{{Name: "User-Agent", Value: "sqlmap/1.8.4#stable (https://sqlmap.org)"}}, "", "")
	w.Analyze(tx, &c)
	var scanner, crs *event.Detection
	for i := range c.Detections {
		d := &c.Detections[i]
		switch {
		case d.Class == "scanner":
			scanner = d
		case strings.HasPrefix(d.Evidence[0].Rule, "crs:"):
			crs = d
		}
	}
	if scanner == nil || crs == nil {
		t.Fatalf("want a scanner detection and a CRS detection of another class, got %+v", c.Detections)
	}
	anomaly := ""
	for _, e := range crs.Evidence {
		if strings.HasPrefix(e.Rule, "crs:anomaly_score=") {
			anomaly = e.Rule
		}
	}
	if anomaly == "" || !strings.Contains(anomaly, "paranoia=1") {
		t.Errorf("no anomaly score and paranoia level in the evidence: %+v", crs.Evidence)
	}
	t.Logf("scanner %s; CRS %s %s (confidence %.2f), %s", scanner.Evidence[0].Rule, crs.Class, crs.Evidence[0].Rule, crs.Confidence, anomaly)
}

// TestDeepParanoiaFor: the paranoia level follows the host and path.
func TestDeepParanoiaFor(t *testing.T) {
	d := &deep{cfg: DeepConfig{Paranoia: 1, ParanoiaFor: []ParanoiaRule{{Host: "*.admin.example", Paranoia: 3}, {PathPrefix: "/v1/payments", Paranoia: 2},
		{Host: "api.example", PathPrefix: "/internal", Paranoia: 4}}}}
	for _, c := range []struct {
		host, path string
		want       int
	}{{"x.admin.example", "/", 3}, {"X.Admin.Example:8443", "/a", 3}, {"api.example", "/v1/payments/7", 2}, {"api.example", "/internal/x", 4},
		{"other.example", "/internal/x", 1}, {"api.example", "/v1/users", 1}} {
		if got := d.paranoiaOf(c.host, c.path); got != c.want {
			t.Errorf("%s%s: paranoia %d, want %d", c.host, c.path, got, c.want)
		}
	}
	bad := DeepConfig{Enabled: true, ParanoiaFor: []ParanoiaRule{{Paranoia: 2}, {Host: "x", Paranoia: 5}, {PathPrefix: "v1", Paranoia: 2}}}
	if err := bad.validate(); err == nil || strings.Count(err.Error(), "paranoia_for") != 3 {
		t.Errorf("validate: %v", err)
	}
}
