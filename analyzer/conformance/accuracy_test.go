package conformance

import (
	"encoding/json"
	"github.com/apitap/apitap/internal/testutil/analyzertest"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/internal/testgen/apigen"
)

type discard struct{}

func (discard) Detection(*event.Detection) {}

// sink is a collector that takes events too (analyzer.EventSink).
type sink struct{ analyzertest.Collector }

func (s *sink) Event(string, string, []byte) {}

// reduce removes items from a spec as a publisher forgets them: two whole
// paths, one method of a path with several, one query parameter and one
// response status. It returns what traffic must reveal.
func reduce(t *testing.T, doc *openapi3.T, host string) []string {
	var want []string
	paths := doc.Paths.Map()
	keys := slices.Sorted(maps.Keys(paths))
	removedPaths := 0
	removedMethod, removedParams, removedStatuses := false, 0, 0
	for _, p := range keys {
		item := paths[p]
		ops := item.Operations()
		methods := slices.Sorted(maps.Keys(ops))
		switch {
		case removedPaths < 2 && len(methods) == 1 && !strings.Contains(p, "{") == (removedPaths == 0):
			for _, m := range methods {
				kind := "shadow "
				if discovery.IsInfrastructure(p) {
					kind = "infrastructure " // labelled, not a shadow API
				}
				want = append(want, kind+strings.ToUpper(m)+" "+discovery.TemplateShape(p))
			}
			doc.Paths.Delete(p)
			removedPaths++
			continue
		case !removedMethod && len(methods) >= 2:
			m := methods[len(methods)-1]
			want = append(want, "undocumented_method "+strings.ToUpper(m)+" "+discovery.TemplateShape(p))
			item.SetOperation(strings.ToUpper(m), nil)
			removedMethod = true
			continue
		}
		for _, m := range methods {
			op := ops[m]
			if removedParams < 2 {
				for i, pr := range op.Parameters {
					if pr.Value != nil && pr.Value.In == "query" && !pr.Value.Required {
						want = append(want, "undocumented_parameter "+strings.ToUpper(m)+" "+p+" "+pr.Value.Name)
						op.Parameters = append(op.Parameters[:i:i], op.Parameters[i+1:]...)
						removedParams++
						break
					}
				}
			}
			if removedStatuses < 2 && op.Responses.Len() >= 2 {
				codes := make([]string, 0)
				for c := range op.Responses.Map() {
					codes = append(codes, c)
				}
				sort.Strings(codes)
				c := codes[len(codes)-1]
				want = append(want, "undocumented_status "+strings.ToUpper(m)+" "+p+" "+c)
				op.Responses.Delete(c)
				removedStatuses++
			}
		}
	}
	// operations a newer version of the spec supersedes (/v1/products/{id}
	// next to /v2/products/{id}) are zombies
	var segsOf = func(p string) []string {
		var out []string
		discovery.Segments(p, func(s string) bool { out = append(out, s); return true })
		return out
	}
	type vop struct{ version, id string }
	byKey := map[string][]vop{}
	for _, p := range slices.Sorted(maps.Keys(doc.Paths.Map())) {
		for _, m := range slices.Sorted(maps.Keys(doc.Paths.Value(p).Operations())) {
			if key, v := versionFree(strings.ToUpper(m), segsOf(p)); v != "" {
				byKey[key] = append(byKey[key], vop{v, strings.ToUpper(m) + " " + p})
			}
		}
	}
	for _, ops := range byKey {
		for _, o := range ops {
			for _, n := range ops {
				if versionLess(o.version, n.version) {
					want = append(want, "zombie "+o.id)
					break
				}
			}
		}
	}
	sort.Strings(want)
	return want
}

// TestDiffAccuracy generates traffic from each full spec and checks it
// against the spec with items removed: every removed item is reported and
// nothing documented is (precision and recall printed per spec).
func TestDiffAccuracy(t *testing.T) {
	for _, sc := range []struct{ file, host string }{
		{"shop.yaml", "api.shop.test"}, {"saas.yaml", "api.saas.test"}, {"content.yaml", "www.content.test"}, {"payments.yaml", "api.pay.test"},
	} {
		t.Run(sc.file, func(t *testing.T) {
			full, err := apigen.Load(filepath.Join("..", "..", "testdata", "specs", sc.file))
			if err != nil {
				t.Fatal(err)
			}
			reduced, _ := apigen.Load(filepath.Join("..", "..", "testdata", "specs", sc.file))
			want := reduce(t, reduced, sc.host)
			js, err := reduced.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			spec := filepath.Join(t.TempDir(), "published.json")
			os.WriteFile(spec, js, 0o644)

			cfg := NewConfig()
			cfg.Specs = []string{spec}
			cat := discovery.NewCatalog(discovery.NewConfig(), "t")
			st, err := NewState(cfg, zerolog.Nop(), func(n string) any {
				if n == discovery.Name {
					return cat
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			w := st.newWorker()
			obs := cat.Observer()
			g := apigen.New(full, sc.host, 5)
			var last time.Time
			for i := 0; i < 4000; i++ {
				tx, _ := g.Next()
				w.Analyze(tx, discard{})
				obs.Analyze(tx, nil)
				last = tx.Request.Start
			}
			var out sink
			st.Report(last, true, &out)
			d := st.Diff()
			var got []string
			for _, u := range d.Shadow {
				got = append(got, "shadow "+u.Method+" "+discovery.TemplateShape(u.Path))
			}
			for _, u := range d.UndocumentedMethods {
				got = append(got, "undocumented_method "+u.Method+" "+discovery.TemplateShape(u.Path))
			}
			for _, it := range d.Parameters {
				got = append(got, "undocumented_parameter "+it.Op+" "+it.Name)
			}
			for _, it := range d.Statuses {
				got = append(got, "undocumented_status "+it.Op+" "+it.Reason)
			}
			for _, u := range d.Infrastructure {
				got = append(got, "infrastructure "+u.Method+" "+discovery.TemplateShape(u.Path))
			}
			for _, it := range d.Zombies {
				if it.Reason == "superseded" {
					got = append(got, "zombie "+it.Op)
					continue
				}
				b, _ := json.Marshal(it)
				got = append(got, "unexpected "+string(b))
			}
			for _, list := range [][]*Item{d.Headers, d.SchemaViolations, d.Fields} {
				for _, it := range list {
					b, _ := json.Marshal(it)
					got = append(got, "unexpected "+string(b))
				}
			}
			sort.Strings(got)
			tp := 0
			for _, g := range got {
				for _, w := range want {
					if g == w {
						tp++
					}
				}
			}
			precision := float64(tp) / float64(max(len(got), 1))
			recall := float64(tp) / float64(max(len(want), 1))
			t.Logf("%-13s removed %d items, reported %d: precision %.3f recall %.3f; %d operations never seen",
				sc.file, len(want), len(got), precision, recall, len(d.NeverSeen))
			if precision != 1 || recall != 1 {
				t.Errorf("want:\n  %s\ngot:\n  %s", strings.Join(want, "\n  "), strings.Join(got, "\n  "))
			}
			n := 0
			for _, det := range out.Detections {
				if det.Class == "shadow_endpoint" || det.Class == "undocumented_method" {
					n++
				}
			}
			if n != len(d.Shadow)+len(d.UndocumentedMethods) {
				t.Errorf("%d shadow/method detections for %d endpoints", n, len(d.Shadow)+len(d.UndocumentedMethods))
			}
			// one detection per finding: the run ends with one report
			if items := len(d.Zombies) + len(d.Parameters) + len(d.Fields) + len(d.Headers) + len(d.Statuses) + len(d.SchemaViolations); len(out.Detections)-n != items {
				t.Errorf("%d finding detections for %d findings", len(out.Detections)-n, items)
			}
		})
	}
}
