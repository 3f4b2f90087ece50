package sensitive

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/apitap/apitap/analyzer/event"
)

// sample is one generated input with its labels.
type sample struct {
	kind   string // json, form, text, query, header
	data   string
	name   string // header name
	labels []label
}

// makeSamples plants n values of every type in the contexts they come in
// (named JSON fields, neutral fields, prose, forms, query strings,
// headers), each next to look-alikes.
func makeSamples(g *gen, n int) []sample {
	var out []sample
	type maker struct {
		t      Type
		value  func() string
		fields []string // fields that name the type; "" means a neutral field
		text   bool     // also appears in prose
	}
	makers := []maker{
		{TCard, g.card, []string{"card_number", "pan", "payment_card", "", "note"}, true},
		{TSSN, g.ssn, []string{"ssn", "social_security_number", "", "comment"}, true},
		{TIBAN, g.iban, []string{"iban", "account", ""}, true},
		{TEmail, g.email, []string{"email", "contact", "", "owner"}, true},
		{TPhone, g.phone, []string{"phone", "mobile", "", "contact"}, true},
		{TDOB, g.dob, []string{"date_of_birth", "dob", "birthDate"}, false},
		{TIP, g.ip, []string{"client_ip", "remote_addr", "", "origin"}, true},
		{TIMEI, g.imei, []string{"imei", "device_imei", ""}, true},
		{TJWT, func() string { return g.jwt(g.r.IntN(4) == 0) }, []string{"access_token", "id_token", ""}, true},
		{TSecret, g.secret, []string{"aws_key", "github_token", "", "config"}, true},
		{TPassword, func() string { return g.from(alnum+"!@#", 6+g.r.IntN(10)) }, []string{"password", "new_password"}, false},
	}
	for i := 0; i < n; i++ {
		for _, m := range makers {
			v := m.value()
			field := m.fields[i%len(m.fields)]
			la, lv := g.lookAlike()
			lb, lw := g.lookAlike()
			if field == "" {
				field = "value"
			}
			lab := []label{{m.t, v}}
			switch i % 5 {
			case 0, 1: // JSON
				out = append(out, sample{kind: "json", labels: lab, data: fmt.Sprintf(`{"id":%d,%q:%s,"data":{%q:%q,"items":[{%q:%q}]}}`,
					i, la, jsonValue(lv), field, v, lb, lw)})
			case 2: // form or query
				kind := "form"
				if i%10 == 2 {
					kind = "query"
				}
				out = append(out, sample{kind: kind, labels: lab, data: url.Values{field: {v}, la: {lv}, lb: {lw}}.Encode()})
			case 3: // prose
				if !m.text {
					out = append(out, sample{kind: "json", labels: lab, data: fmt.Sprintf(`{%q:%q,%q:%q}`, field, v, la, lv)})
					continue
				}
				out = append(out, sample{kind: "text", labels: lab, data: fmt.Sprintf("Customer update (ref %s): on file %s; please review. %s=%s", lw, v, la, lv)})
			case 4: // a header
				if !m.text && m.t != TPassword {
					out = append(out, sample{kind: "json", labels: lab, data: fmt.Sprintf(`[{%q:%q}]`, field, v)})
					continue
				}
				out = append(out, sample{kind: "header", name: "X-" + strings.ReplaceAll(field, "_", "-"), labels: lab, data: v})
			}
		}
	}
	return out
}

func jsonValue(v string) string {
	if _, err := strconv.ParseFloat(v, 64); err == nil && !strings.HasPrefix(v, "0") {
		return v // numbers stay numbers
	}
	return strconv.Quote(v)
}

// TestAccuracy measures precision and recall per built-in type on
// generated traffic with planted values and look-alikes; each must be at
// least 0.98.
func TestAccuracy(t *testing.T) {
	g := newGen(42)
	samples := makeSamples(g, 300)
	var tp, fp, fn [numTypes]int
	var s Scanner
	var fps []string
	for _, smp := range samples {
		var found []Finding
		collect := func(f *Finding) {
			c := *f
			c.Value = append([]byte(nil), f.Value...)
			found = append(found, c)
		}
		switch smp.kind {
		case "json":
			s.JSON([]byte(smp.data), collect)
		case "form", "query":
			s.Form([]byte(smp.data), collect)
		case "text":
			s.Text([]byte(smp.data), collect)
		case "header":
			s.Value([]byte(smp.data), smp.name, collect)
		}
		matched := make([]bool, len(smp.labels))
		for _, f := range found {
			hit := false
			for i, l := range smp.labels {
				if l.t == f.Type && string(f.Value) == l.raw {
					hit, matched[i] = true, true
				}
			}
			if hit {
				tp[f.Type]++
			} else {
				fp[f.Type]++
				if len(fps) < 20 {
					fps = append(fps, fmt.Sprintf("%s %q in %s %.120s", event.SensitiveTypes[f.Type], f.Value, smp.kind, smp.data))
				}
			}
		}
		for i, l := range smp.labels {
			if !matched[i] {
				fn[l.t]++
				if len(fps) < 40 {
					fps = append(fps, fmt.Sprintf("MISSED %s %q in %s %.160s", event.SensitiveTypes[l.t], l.raw, smp.kind, smp.data))
				}
			}
		}
	}
	t.Logf("%-9s %6s %6s %6s %9s %7s", "type", "tp", "fp", "fn", "precision", "recall")
	for ty := Type(0); ty < numTypes; ty++ {
		if tp[ty]+fp[ty]+fn[ty] == 0 {
			continue
		}
		p := float64(tp[ty]) / float64(max(tp[ty]+fp[ty], 1))
		r := float64(tp[ty]) / float64(max(tp[ty]+fn[ty], 1))
		t.Logf("%-9s %6d %6d %6d %9.3f %7.3f", event.SensitiveTypes[ty], tp[ty], fp[ty], fn[ty], p, r)
		if p < 0.98 || r < 0.98 {
			t.Errorf("%s: precision %.3f recall %.3f, want >= 0.98", event.SensitiveTypes[ty], p, r)
		}
	}
	if t.Failed() {
		for _, l := range fps {
			t.Log(l)
		}
	}
}
