package admin

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/exporter"
	_ "github.com/apitap/apitap/exporter/all"
	"github.com/apitap/apitap/exporter/kafka"
	"github.com/apitap/apitap/sensor"
)

var (
	descRE     = regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: [\[{]([^\]}]*)[\]}]`)
	seriesRE   = regexp.MustCompile(`(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? `)
	selectorRE = regexp.MustCompile(`\b((?:apitap|process|go)_[a-zA-Z0-9_]+)(\{([^}]*)\})?`)
	matcherRE  = regexp.MustCompile(`([a-zA-Z_]+)\s*(=~|!=|!~|=)\s*"([^"]*)"`)
	byRE       = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
)

// exported collects every series apitap exports: the collector's
// descriptors (all of them, whether or not a series exists now: live
// sources, for one, appear only with live capture) and a scrape of a
// sensor with the sinks a deployment has (Kafka with its spool, a file),
// as `apitap run` wires them (drop stages kernel and sampling included).
// It returns metric name -> label name -> the values seen.
func exported(t *testing.T) map[string]map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]map[string]bool{}
	add := func(name, label, value string) {
		if out[name] == nil {
			out[name] = map[string]map[string]bool{}
		}
		if label == "" {
			return
		}
		if out[name][label] == nil {
			out[name][label] = map[string]bool{}
		}
		if value != "" {
			out[name][label][value] = true
		}
	}
	ch := make(chan *prometheus.Desc, 100)
	go func() { (&collector{}).Describe(ch); close(ch) }()
	for d := range ch {
		m := descRE.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("descriptor %s", d)
		}
		add(m[1], "", "")
		for _, l := range strings.Split(m[2], ",") {
			if l = strings.Trim(strings.TrimSpace(l), `"`); l != "" {
				add(m[1], l, "")
				if strings.HasSuffix(m[1], "_seconds") { // histograms
					for _, suf := range []string{"_bucket", "_sum", "_count"} {
						add(m[1]+suf, l, "")
					}
				}
			}
		}
	}
	// the drops apitap run adds (sensor/cli/run.go): the kernel's ring and
	// the eBPF sampling under overload
	p := pipelineWith(t, "../../testdata/demo/demo.pcap", func(p *sensor.Pipeline) {
		p.ExtraDrops = func() []event.Count { return []event.Count{{Name: "kernel", N: 3}, {Name: "sampling"}} }
	})
	var st exporter.Settings
	st.Override(kafka.Name, true, func(c any) {
		kc := c.(*kafka.Config)
		kc.Brokers, kc.MaxAttempts, kc.Spool.Dir = []string{"127.0.0.1:1"}, 1, t.TempDir()
	})
	en, err := exporter.Configure(st)
	if err != nil {
		t.Fatal(err)
	}
	sinks, err := exporter.Build(en, exporter.Env{Log: zerolog.Nop(), Sensor: "dash"})
	if err != nil {
		t.Fatal(err)
	}
	fan := exporter.New(exporter.Options{Block: true}, sinks...)
	defer fan.Close()
	for i := 0; i < 5; i++ {
		fan.Add(exporter.Record{Type: "detection", Key: "k", Value: []byte(`{"type":"detection","severity":"high"}`)})
	}
	s := New(p, "dash", "")
	s.SetExport(fan)
	h := s.Handler()
	var body string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		_, body = get(t, h, "/metrics", "")
		if strings.Contains(body, `apitap_spool_records{sink="kafka"} 5`) {
			break
		}
	}
	for _, m := range seriesRE.FindAllStringSubmatch(body, -1) {
		add(m[1], "", "")
		for _, lm := range matcherRE.FindAllStringSubmatch(m[3], -1) {
			add(m[1], lm[1], lm[3])
		}
	}
	return out
}

// queries lists every PromQL expression of a dashboard: panel targets
// (rows included) and template variable queries.
func queries(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels     []json.RawMessage
		Templating struct {
			List []struct {
				Type       string
				Definition string
			}
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	var walk func(raw []json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p struct {
				Panels  []json.RawMessage
				Targets []struct{ Expr string }
			}
			json.Unmarshal(r, &p)
			for _, tg := range p.Targets {
				out = append(out, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			out = append(out, v.Definition)
		}
	}
	return out
}

// TestDashboardSeries: every series the Grafana dashboard queries is one
// apitap exports, with the label names and (for equality matchers) label
// values apitap gives it; grouping labels exist on the series grouped.
// Prometheus adds instance and job to every series it scrapes.
func TestDashboardSeries(t *testing.T) {
	exp := exported(t)
	target := []string{"instance", "job"}
	exprs := queries(t, "../../deploy/grafana/apitap.json")
	if len(exprs) < 20 {
		t.Fatalf("only %d queries in the dashboard", len(exprs))
	}
	used := map[string]bool{}
	for _, e := range exprs {
		var names []string
		for _, m := range selectorRE.FindAllStringSubmatch(e, -1) {
			name := m[1]
			labels, ok := exp[name]
			if !ok {
				t.Errorf("the dashboard queries %s, which apitap does not export (%s)", name, e)
				continue
			}
			names = append(names, name)
			used[name] = true
			for _, lm := range matcherRE.FindAllStringSubmatch(m[3], -1) {
				key, op, val := lm[1], lm[2], lm[3]
				if slices.Contains(target, key) {
					continue
				}
				vals, ok := labels[key]
				if !ok {
					t.Errorf("%s has no label %s (%s)", name, key, e)
					continue
				}
				if op == "=" && !vals[val] {
					t.Errorf("%s{%s=%q}: apitap never gives that value (seen: %v)", name, key, val, vals)
				}
			}
		}
		if len(names) == 0 {
			t.Errorf("query names no apitap series: %s", e)
		}
		for _, by := range byRE.FindAllStringSubmatch(e, -1) {
			for _, l := range strings.Split(by[1], ",") {
				l = strings.TrimSpace(l)
				if l == "" || slices.Contains(target, l) || l == "le" {
					continue
				}
				found := slices.ContainsFunc(names, func(n string) bool { _, ok := exp[n][l]; return ok })
				if !found {
					t.Errorf("by (%s): none of %v has that label (%s)", l, names, e)
				}
			}
		}
	}
	t.Logf("%d queries over %d apitap series, all exported", len(exprs), len(used))
}

// TestDashboardInChart: the chart ships the same dashboard.
func TestDashboardInChart(t *testing.T) {
	a, err := os.ReadFile("../../deploy/grafana/apitap.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../deploy/helm/apitap/dashboards/apitap.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Error("deploy/helm/apitap/dashboards/apitap.json differs from deploy/grafana/apitap.json: copy it")
	}
}
