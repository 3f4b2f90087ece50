package discovery

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apitap/apitap/analyzer/vocab"
	"github.com/apitap/apitap/internal/testgen/apigen"
	"github.com/apitap/apitap/reassembly"
)

// styleSpecs are specs written after the styles of well-known public APIs
// (testdata/specs), with the traffic volume of the test.
var styleSpecs = []specCase{
	{"github.yaml", "api.github.test", 10000},
	{"twilio.yaml", "api.twilio.test", 8000},
	{"stripe.yaml", "api.stripe.test", 8000},
	{"box.yaml", "api.box.test", 8000},
	{"digitalocean.yaml", "api.digitalocean.test", 8000},
	{"crapi.yaml", "crapi.test", 6000},
	{"storefront.yaml", "www.storefront.test", 6000},
	{"shop.yaml", "api.shop.test", 4000},
	{"saas.yaml", "api.saas.test", 4000},
	{"content.yaml", "www.content.test", 4000},
	{"payments.yaml", "api.pay.test", 4000},
}

// crsPayloads reads attack strings from the OWASP CRS regression tests
// (../shared/eval, see its README): the decoded query values and path
// parts of the tests CRS expects to match, by class. It returns nil when
// the corpus is absent.
func crsPayloads(t testing.TB) []apigen.Payload {
	f, err := os.Open(filepath.Join("..", "..", "..", "shared", "eval", "crs-regression-v4.25.jsonl"))
	if err != nil {
		return nil
	}
	defer f.Close()
	classes := map[string]string{"sqli": "sqli", "xss": "xss", "lfi": "path_traversal", "rce": "cmd_injection", "java": "java", "php": "php", "rfi": "ssrf", "generic": "generic"}
	seen := map[string]bool{}
	var out []apigen.Payload
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var rec struct {
			Class string `json:"attack_class"`
			Match bool   `json:"expect_match"`
			URI   string `json:"uri"`
			PL    int    `json:"rule_pl"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || !rec.Match || classes[rec.Class] == "" || rec.PL > 2 {
			continue
		}
		class := classes[rec.Class]
		path, query, _ := strings.Cut(rec.URI, "?")
		var vals []string
		if q, err := url.ParseQuery(query); err == nil {
			for _, vs := range q {
				vals = append(vals, vs...)
			}
		}
		if p, err := url.PathUnescape(path); err == nil && strings.ContainsAny(p, "'\"<>`$|;{}\\") || strings.Contains(path, "..") {
			vals = append(vals, strings.TrimPrefix(path, "/"))
		}
		sort.Strings(vals)
		for _, v := range vals {
			if len(v) < 3 || len(v) > 300 || seen[v] {
				continue
			}
			if class == "java" && strings.Contains(strings.ToLower(v), "jndi") {
				class = "log4shell"
			}
			seen[v] = true
			out = append(out, apigen.Payload{Class: class, Value: v})
		}
	}
	return out
}

// attackBit is the Notes.Attacks bit the attack analyzer sets for a
// probe's class (classes it has no bit for count as cve, a signature).
func attackBit(class string) uint32 {
	if b := vocab.Bit(vocab.AttackClasses, class); b != 0 {
		return uint32(b)
	}
	return uint32(vocab.Bit(vocab.AttackClasses, "cve"))
}

// styleResult is what one run of a spec's traffic gives.
type styleResult struct {
	spec, mode              string
	ops, endpoints, correct int
	precision, recall       float64
	benign, attributed      int    // benign calls, and those counted on their operation's endpoint
	probes, probeEndpoints  int    // probes in the path, and endpoints whose template holds a payload
	onEndpoints, onHosts    uint64 // probes counted on endpoints, and on hosts (no endpoint near them)
	fp, fn                  []string
}

func runStyle(t *testing.T, sc specCase, mode string, payloads []apigen.Payload, seed uint64, scale float64) styleResult {
	doc, err := apigen.Load(filepath.Join("..", "..", "testdata", "specs", sc.file))
	if err != nil {
		t.Fatal(err)
	}
	g := apigen.New(doc, sc.host, seed)
	if mode != "clean" {
		g.SetMix(apigen.Mix{Probe: 0.03, Scanner: 0.03, Payloads: payloads})
	}
	want := map[opKey]bool{} // the operations called at least once
	cat := NewCatalog(NewConfig(), "test")
	o := cat.Observer()
	res := styleResult{spec: sc.file, mode: mode}
	type call struct {
		tx  *reassembly.Transaction
		lab apigen.Label
	}
	var calls []call
	for i := 0; i < int(float64(sc.calls)*scale); i++ {
		tx, lab := g.NextLabelled()
		if mode == "verdicts" {
			switch {
			case lab.Kind == apigen.Scanner && lab.Flagged:
				tx.Notes.Attacks |= attackBit("scanner")
			case lab.Kind == apigen.Probe:
				// the attack analyzer finds some probes, not all
				if i%2 == 0 {
					tx.Notes.Attacks |= attackBit(lab.Class)
				}
				if lab.Flagged {
					tx.Notes.Attacks |= attackBit("scanner")
				}
			}
		}
		o.Analyze(tx, nil)
		switch lab.Kind {
		case apigen.Benign:
			want[opKey{sc.host, lab.Op.Method, TemplateShape(lab.Op.Path)}] = true
			res.benign++
			calls = append(calls, call{tx, lab})
		case apigen.Probe:
			if lab.InPath {
				res.probes++
			}
		}
	}
	res.ops = len(want)
	v := cat.View()
	got := map[opKey]uint64{}
	for _, h := range v.Hosts {
		res.onHosts += h.Probes
	}
	res.onHosts += v.HostProbes
	for _, ep := range v.Endpoints {
		k := opKey{ep.Host, ep.Method, TemplateShape(ep.Path)}
		got[k] += ep.JSON(v.Time).Calls
		res.onEndpoints += ep.Probes()
		if strings.ContainsAny(ep.Path, "'\"<>`$|\\") || strings.Contains(ep.Path, "..") || strings.Contains(strings.ToLower(ep.Path), "%2e%2e") || strings.Contains(ep.Path, "%27") || strings.Contains(ep.Path, "%3C") {
			res.probeEndpoints++
		}
	}
	for k := range got {
		if want[k] {
			res.correct++
		} else {
			res.fp = append(res.fp, k.method+" "+k.shape)
		}
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			res.fn = append(res.fn, k.method+" "+k.shape)
		}
	}
	sort.Strings(res.fp)
	sort.Strings(res.fn)
	res.endpoints = len(got)
	res.precision = float64(res.correct) / float64(max(len(got), 1))
	res.recall = float64(res.correct) / float64(max(len(want), 1))
	// benign calls counted on the endpoint of their operation
	for _, c := range calls {
		ep := v.Match(c.tx.Request.Host, "", c.tx.Request.Method, c.tx.Request.Path)
		if ep != nil && TemplateShape(ep.Path) == TemplateShape(c.lab.Op.Path) {
			res.attributed++
		}
	}
	return res
}

// TestStyleAccuracy generates traffic from specs modelled on public APIs of
// different styles (date version segments, file extensions, owner/repo
// pairs, branches, tags and refs, prefixed and opaque ids, closed
// vocabularies, slugs) with realistic identifiers, clean and with
// injection probes and scanners mixed in (3% each; payloads from the OWASP
// CRS regression tests when ../shared/eval has them): precision and
// recall of the templates must be at least 0.97, every benign call must be
// counted on its operation's endpoint, and no probe may become an endpoint.
func TestStyleAccuracy(t *testing.T) {
	payloads := append(append([]apigen.Payload(nil), apigen.DefaultPayloads...), crsPayloads(t)...)
	if len(payloads) == len(apigen.DefaultPayloads) {
		t.Log("../shared/eval/crs-regression-v4.25.jsonl not found: probes use the built-in payloads only")
	}
	var lines []string
	runs := []struct {
		seed  uint64
		scale float64
	}{{17, 1}, {5, 0.3}}
	if testing.Short() {
		runs = runs[:1]
	}
	for _, run := range runs {
		for _, sc := range styleSpecs {
			for _, mode := range []string{"clean", "probes", "verdicts"} {
				t.Run(fmt.Sprintf("%s/%s/seed=%d/scale=%v", sc.file, mode, run.seed, run.scale), func(t *testing.T) {
					testStyle(t, sc, mode, payloads, run.seed, run.scale, &lines)
				})
			}
		}
	}
	t.Log("summary:\n" + strings.Join(lines, "\n"))
}

func testStyle(t *testing.T, sc specCase, mode string, payloads []apigen.Payload, seed uint64, scale float64, lines *[]string) {
	r := runStyle(t, sc, mode, payloads, seed, scale)
	line := fmt.Sprintf("%-18s %-8s seed %-3d calls %5d ops %3d endpoints %3d precision %.3f recall %.3f calls attributed %5d/%5d probes in path %4d as endpoints %d; probes counted on endpoints %d, on hosts %d",
		r.spec, r.mode, seed, int(float64(sc.calls)*scale), r.ops, r.endpoints, r.precision, r.recall, r.attributed, r.benign, r.probes, r.probeEndpoints, r.onEndpoints, r.onHosts)
	*lines = append(*lines, line)
	t.Log(line)
	if len(r.fp) > 0 {
		t.Logf("  not in the spec: %s", strings.Join(r.fp, ", "))
	}
	if len(r.fn) > 0 {
		t.Logf("  missed: %s", strings.Join(r.fn, ", "))
	}
	if r.precision < 0.97 || r.recall < 0.97 {
		t.Errorf("precision %.3f, recall %.3f: want both >= 0.97", r.precision, r.recall)
	}
	if r.attributed != r.benign {
		t.Errorf("%d of %d benign calls are not counted on their operation's endpoint", r.benign-r.attributed, r.benign)
	}
	if r.probeEndpoints > 0 {
		t.Errorf("%d probes became endpoints", r.probeEndpoints)
	}
	if r.probes > 0 && r.onEndpoints == 0 {
		t.Errorf("%d probes in paths, none counted on an endpoint", r.probes)
	}
}
