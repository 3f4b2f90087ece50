package attack

import (
	"testing"

	"github.com/apitap/apitap/reassembly/http1"
)

// FuzzAnalyze sends arbitrary values through normalisation, the
// prefilter, every detector and the JSON walk: no panic, bounded output.
func FuzzAnalyze(f *testing.F) {
	for _, s := range []string{"%252e%252e%252fetc%252fpasswd", "${${lower:j}ndi:ldap://x}", "<svg/onload=alert(1)>", "&#x3c;script&#62;", "\\x3cscript",
		"%u003cscript", "%c0%ae%c0%ae/", `{"a":{"$ne":1},"__proto__":[1,"x"]}`, "http://0x7f.1/", "{{7*7}}", "; cat /etc/passwd", "'", "%",
		"--x\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.php\"\r\n\r\n<?php ?>\r\n--x--", "' UNION/*!50000SELECT*/1--",
		"{,/?s?/?i?/c?t,/e??/p??s??,}", "FOR /F %a IN ('x') DO y", "if not defined x (echo y)", "<x:script xmlns:x=\"http://www.w3.org/1999/xhtml\">",
		`O:8:"stdClass":1:{s:4:"test";s:1:"x";}`, "a\r\nSet-Cookie: x=1", "//evil.example", "*)(uid=*", "rO0ABXNy", "\xbcscript\xbe",
		"&#x24;&#000123;jndi:ldap://x/a}", "`whoami`", "c$@at /etc/pas[s]wd", "'::jsonb @> '{}'", "\u0026lbracejndi:"} {
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
		}{{q: "x=" + s}, {body: s, ct: "application/json"}, {body: s, ct: "text/xml"}, {body: s, ct: "application/x-www-form-urlencoded"},
			{body: s, ct: "multipart/form-data; boundary=x"}, {h: []http1.Header{{Name: "X", Value: s}, {Name: "Cookie", Value: s}, {Name: "Referer", Value: s},
				{Name: "Authorization", Value: "Basic " + s}, {Name: "X-File-Name", Value: s}}}} {
			x := mk("POST", "/"+s, tx.q, tx.h, tx.body, tx.ct)
			if len(s)%2 == 1 {
				x.Flags |= http1.FlagHeadersTruncated
			}
			var c collector
			w.Analyze(x, &c)
			for _, d := range c.Detections {
				if len(d.Evidence) == 0 || len(d.Evidence[0].Value) > 400 {
					t.Fatalf("evidence %+v", d.Evidence)
				}
			}
		}
		walkJSON([]byte(s), func(string, []byte, bool) {})
		parseHostIP(s)
	})
}

// FuzzDetectors feeds arbitrary values to each detector and its lexer
// directly, and to the evidence masking: no panic, positions inside the
// value, evidence bounded.
func FuzzDetectors(f *testing.F) {
	for _, s := range []string{"' OR '1'='1", "1.e(ascii", "x'||(select 1)||'", "$(c$()at)", "{l,-lh}s", "<f o r m", "javascript:\\u0020",
		"..;/..;/etc/passwd", "a\n2024-05-01 12:00:00 INFO x", "https://a@b.example", "O:1:\"A\":0:{}", "shell.php;.jpg", "' /*!", "\"", "`"} {
		f.Add(s)
	}
	st := newTestState(f)
	f.Fuzz(func(t *testing.T, s string) {
		w := newWorker(st)
		lv := lowerASCII(s)
		in := input{loc: "query", name: "next"}
		check := func(name string, ok bool, at int) {
			if ok && (at < 0 || at > len(s)) {
				t.Fatalf("%s: position %d outside %d bytes", name, at, len(s))
			}
		}
		ok, _, at := w.det.sqliCheck(s, lv, len(s)%2 == 0)
		check("sqli", ok, at)
		ok, _, at = w.det.shellCheck(lv, in)
		check("shell", ok, at)
		ok, _, at = xssCheck(s, lv, in, w.det.isProse(lv))
		check("xss", ok, at)
		ok, _, at = traversal(lv, in, &w.det)
		check("traversal", ok, at)
		ok, _, at = crlfCheck(s, in)
		check("crlf", ok, at)
		ok, _, at = redirectCheck(lv, in, "api.example")
		check("redirect", ok, at)
		ok, _, at = xpathLDAPCheck(lv)
		check("xpath", ok, at)
		ok, _, at = deserCheck(s, lv)
		check("deser", ok, at)
		ok, _, at = log4shell(lv)
		check("log4shell", ok, at)
		uploadName(s)
		uploadContent("image/svg+xml", s)
		walkXML([]byte(s), func(string, []byte) {})
		w.multipart([]byte(s), "x", 0)
		if e := w.evidence(s, len(s)/2, true, maxEvidence); len(e) > 4*maxEvidence+64 {
			t.Fatalf("evidence of %d bytes", len(e))
		}
	})
}
