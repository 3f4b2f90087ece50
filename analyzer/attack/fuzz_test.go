package attack

import (
	"testing"

	"github.com/apitap/apitap/reassembly/http1"
)

// FuzzAnalyze sends arbitrary values through normalisation, the
// prefilter, every detector and the JSON walk: no panic, bounded output.
func FuzzAnalyze(f *testing.F) {
	for _, s := range []string{"%252e%252e%252fetc%252fpasswd", "${${lower:j}ndi:ldap://x}", "<svg/onload=alert(1)>", "&#x3c;script&#62;", "\\x3cscript",
		"%u003cscript", "%c0%ae%c0%ae/", `{"a":{"$ne":1},"__proto__":[1,"x"]}`, "http://0x7f.1/", "{{7*7}}", "; cat /etc/passwd", "'", "%"} {
		f.Add(s)
	}
	st := newTestState(f)
	f.Fuzz(func(t *testing.T, s string) {
		w := newWorker(st)
		var n normalizer
		if out := n.norm(s, true); len(out) > 4*maxValue+16 {
			t.Fatalf("normalised to %d bytes", len(out))
		}
		for _, tx := range []*struct {
			q, body, ct string
			h           []http1.Header
		}{{q: "x=" + s}, {body: s, ct: "application/json"}, {body: s, ct: "text/xml"}, {body: s, ct: "application/x-www-form-urlencoded"}, {h: []http1.Header{{Name: "X", Value: s}, {Name: "Cookie", Value: s}}}} {
			x := mk("POST", "/"+s, tx.q, tx.h, tx.body, tx.ct)
			var c collector
			w.Analyze(x, &c)
			for _, d := range c.dets {
				if len(d.Evidence) == 0 || len(d.Evidence[0].Value) > 400 {
					t.Fatalf("evidence %+v", d.Evidence)
				}
			}
		}
		walkJSON([]byte(s), func(string, []byte, bool) {})
		parseHostIP(s)
	})
}
