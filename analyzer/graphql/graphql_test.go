package graphql

import (
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/aggregate"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/graphql/gqlreq"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

type rec struct{ classes []string }

func (r *rec) Detection(d *event.Detection) { r.classes = append(r.classes, d.Class) }
func (r *rec) Fold(_ analyzer.FoldSpec, _ analyzer.FoldKey, d *event.Detection) {
	r.classes = append(r.classes, d.Class)
}

func gqlTx(host, body string) *reassembly.Transaction {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return &reassembly.Transaction{Exchange: http1.Exchange{Request: &http1.Request{Method: "POST", Host: host, Path: "/graphql", Start: at, End: at,
		Headers: []http1.Header{{Name: "Content-Type", Value: "application/json"}}, Body: http1.Body{Data: []byte(body)}}}}
}

// TestHostLimits: limits per host override the section's, unset keys keep
// them; the configuration is strict.
func TestHostLimits(t *testing.T) {
	var cfg Config = *NewConfig()
	if err := yaml.Unmarshal([]byte("max_depth: 5\nhosts:\n  deep.example: {max_depth: 20, introspection: allow}\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	w := &worker{cfg: &cfg, p: gqlreq.NewParser(gqlreq.Limits{}), agg: aggregate.New(time.Minute, 10, "gq-")}
	deep := `{"query":"{ a { b { c { d { e { f { g } } } } } } }"}`
	intro := `{"query":"{ __schema { types { name } } }"}`
	for _, tc := range []struct {
		host, body string
		want       int
	}{{"api.example", deep, 1}, {"deep.example:8080", deep, 0}, {"api.example", intro, 1}, {"DEEP.example", intro, 0}} {
		r := &rec{}
		w.Analyze(gqlTx(tc.host, tc.body), r)
		if len(r.classes) != tc.want {
			t.Errorf("%s %s: %v", tc.host, tc.body, r.classes)
		}
	}
	bad := *NewConfig()
	bad.Hosts = map[string]Limits{"x": {Introspection: "maybe"}}
	if bad.Validate() == nil {
		t.Error("introspection: maybe accepted")
	}
	bad = *NewConfig()
	bad.MaxBatch = 0
	if bad.Validate() == nil {
		t.Error("max_batch 0 accepted")
	}
}
