package attack

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

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
	if len(c.dets) != 1 || c.dets[0].Class != "sqli" {
		t.Fatalf("detections: %+v", c.dets)
	}
	crs := ""
	for _, e := range c.dets[0].Evidence {
		if strings.HasPrefix(e.Rule, "crs:942") {
			crs = e.Rule
		}
	}
	if crs == "" {
		t.Errorf("no CRS SQL injection rule in the evidence: %+v", c.dets[0].Evidence)
	}
	// ordinary API traffic, every call checked: no detection
	doc, err := apigen.Load(filepath.Join("..", "..", "testdata", "specs", "shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	g := apigen.New(doc, "api.shop.test", 3)
	c.dets = nil
	cfgMax := st.deep.cfg.MaxPerSecond
	st.deep.cfg.MaxPerSecond = 1 << 30
	for i := 0; i < 300; i++ {
		tx, _ := g.Next()
		w.Analyze(tx, &c)
	}
	st.deep.cfg.MaxPerSecond = cfgMax
	for _, d := range c.dets {
		t.Errorf("benign API call detected: %s %s %+v", d.Class, d.Endpoint.Path, d.Evidence)
	}
	// budget: 10 checks per second of capture time
	checked, skipped := st.DeepStats()
	w2 := newWorker(st)
	for i := 0; i < 25; i++ {
		w2.Analyze(mk("GET", "/v1/items", "page=1", []http1.Header{{Name: "User-Agent", Value: "Mozilla/5.0"}}, "", ""), &c)
	}
	c2, s2 := st.DeepStats()
	if c2-checked != 10 || s2-skipped != 15 {
		t.Errorf("budget: %d checked, %d skipped; want 10 and 15", c2-checked, s2-skipped)
	}
	t.Logf("CRS rule backing the injection: %s; %d checks in all", crs, c2)
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
