package conformance

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/vocab"
	"github.com/apitap/apitap/internal/testgen/apigen"
)

// attackBit is the Notes.Attacks bit of a probe's class (cve for the
// classes without one).
func attackBit(class string) uint32 {
	if b := vocab.Bit(vocab.AttackClasses, class); b != 0 {
		return uint32(b)
	}
	return uint32(vocab.Bit(vocab.AttackClasses, "cve"))
}

// TestShadowUnderAttack: traffic from specs modelled on public APIs, with
// injection probes and scanners mixed in (3% each; the attack analyzer
// flagging the scanners and half the probes), checked against the specs
// with two paths removed: the shadow endpoints are exactly the removed
// paths, and no probe is one.
func TestShadowUnderAttack(t *testing.T) {
	for _, sc := range []struct {
		file, host string
	}{{"github.yaml", "api.github.test"}, {"twilio.yaml", "api.twilio.test"}, {"stripe.yaml", "api.stripe.test"}, {"box.yaml", "api.box.test"},
		{"digitalocean.yaml", "api.digitalocean.test"}, {"crapi.yaml", "crapi.test"}, {"storefront.yaml", "www.storefront.test"}} {
		t.Run(sc.file, func(t *testing.T) {
			full, err := apigen.Load(filepath.Join("..", "..", "testdata", "specs", sc.file))
			if err != nil {
				t.Fatal(err)
			}
			reduced, _ := apigen.Load(filepath.Join("..", "..", "testdata", "specs", sc.file))
			base := ""
			if len(full.Servers) > 0 {
				if u, err := url.Parse(full.Servers[0].URL); err == nil {
					base = strings.TrimRight(u.Path, "/")
				}
			}
			var want []string
			for _, w := range reduce(t, reduced, sc.host) {
				if kind, rest, ok := strings.Cut(w, " "); ok && (kind == "shadow" || kind == "undocumented_method") {
					m, p, _ := strings.Cut(rest, " ")
					want = append(want, kind+" "+m+" "+base+p)
				}
			}
			js, _ := reduced.MarshalJSON()
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
			g := apigen.New(full, sc.host, 9)
			g.SetMix(apigen.Mix{Probe: 0.03, Scanner: 0.03})
			probes := 0
			for i := 0; i < 6000; i++ {
				tx, lab := g.NextLabelled()
				switch {
				case lab.Kind == apigen.Scanner && lab.Flagged:
					tx.Notes.Attacks |= attackBit("scanner")
				case lab.Kind == apigen.Probe:
					probes++
					if i%2 == 0 {
						tx.Notes.Attacks |= attackBit(lab.Class)
					}
				}
				w.Analyze(tx, &collect{})
				cat.Observe(tx)
			}
			var out sink
			st.Report(cat.View().Time, true, &out)
			d := st.Diff()
			var got []string
			bad := 0
			for _, u := range append(append([]Unmatched(nil), d.Shadow...), d.UndocumentedMethods...) {
				kind := "shadow "
				if u.Status == UndocumentedMethod {
					kind = "undocumented_method "
				}
				got = append(got, kind+u.Method+" "+discovery.TemplateShape(u.Path))
				if p := discovery.TemplateShape(u.Path); discovery.ProbePath(strings.ReplaceAll(p, "{}", "x")) || strings.ContainsAny(p, "'\"<>") {
					bad++
				}
			}
			sort.Strings(got)
			sort.Strings(want)
			t.Logf("%-18s %d probes mixed in: %d shadow/undocumented method findings, %d expected, %d of them probes", sc.file, probes, len(got), len(want), bad)
			if fmt.Sprint(got) != fmt.Sprint(want) || bad > 0 {
				t.Errorf("want:\n  %s\ngot:\n  %s", strings.Join(want, "\n  "), strings.Join(got, "\n  "))
			}
		})
	}
}
