package attack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// TestStarterRules gives every shipped CVE rule a request that must match
// and a close one that must not.
func TestStarterRules(t *testing.T) {
	st := newTestState(t)
	cases := []struct {
		id       string
		hit, not *reassembly.Transaction
	}{
		{"CVE-2022-22965",
			mk("POST", "/app/login", "class.module.classLoader.resources.context.parent.pipeline.first.pattern=x", nil, "", ""),
			mk("POST", "/app/login", "class=economy", nil, "", "")},
		{"CVE-2017-5638",
			mk("POST", "/struts/upload.action", "", []http1.Header{{Name: "Content-Type", Value: "%{(#_='multipart/form-data').(#dm=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)}"}}, "", ""),
			mk("POST", "/struts/upload.action", "", []http1.Header{{Name: "Content-Type", Value: "multipart/form-data; boundary=x"}}, "", "")},
		{"CVE-2022-26134",
			mk("GET", "/%24%7B%40java.lang.Runtime%40getRuntime%28%29.exec%28%22id%22%29%7D/", "", nil, "", ""),
			mk("GET", "/wiki/spaces/DOC/pages/123", "", nil, "", "")},
		{"CVE-2019-19781",
			mk("GET", "/vpn/../vpns/cfg/smb.conf", "", nil, "", ""),
			mk("GET", "/vpn/index.html", "", nil, "", "")},
		{"CVE-2018-13379",
			mk("GET", "/remote/fgt_lang", "lang=/../../../..//////////dev/cmdb/sslvpn_websession", nil, "", ""),
			mk("GET", "/remote/fgt_lang", "lang=en", nil, "", "")},
		{"CVE-2020-5902",
			mk("GET", "/tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp", "fileName=/etc/passwd", nil, "", ""),
			mk("GET", "/tmui/login.jsp", "", nil, "", "")},
		{"CVE-2021-41773",
			mk("GET", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh", "", nil, "", ""),
			mk("GET", "/cgi-bin/status", "", nil, "", "")},
		{"CVE-2021-34473",
			mk("GET", "/autodiscover/autodiscover.json", "@evil.example/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@evil.example", nil, "", ""),
			mk("GET", "/autodiscover/autodiscover.json", "Email=user@example.com&Protocol=Autodiscoverv1", nil, "", "")},
		{"CVE-2023-34362",
			mk("POST", "/moveitisapi/moveitisapi.dll", "action=m2", []http1.Header{{Name: "X-siLock-Transaction", Value: "folder_add_by_path"}}, "", ""),
			mk("POST", "/moveitisapi/moveitisapi.dll", "action=m2", []http1.Header{{Name: "X-siLock-Transaction", Value: "session_setvars"}}, "", "")},
		{"CVE-2023-22515",
			mk("GET", "/server-info.action", "bootstrapStatusProvider.applicationConfig.setupComplete=false", nil, "", ""),
			mk("GET", "/server-info.action", "", nil, "", "")},
	}
	ids := map[string]bool{}
	for _, r := range st.Rules() {
		ids[r.ID] = true
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			if !ids[c.id] {
				t.Fatalf("rule %s not loaded", c.id)
			}
			for _, x := range []struct {
				tx   *reassembly.Transaction
				want bool
			}{{c.hit, true}, {c.not, false}} {
				w := newWorker(st)
				var col collector
				w.Analyze(x.tx, &col)
				got := false
				for _, d := range col.Detections {
					if d.Evidence[0].Rule == c.id {
						got = true
						if d.Class != "cve" || d.Severity != "critical" || d.Action != "block" {
							t.Errorf("detection %+v", d)
						}
						// the evidence is where the rule matched
						if want := evidenceAt[c.id]; want != "" && d.Evidence[0].Location+":"+d.Evidence[0].Name != want {
							t.Errorf("evidence at %s:%s, want %s", d.Evidence[0].Location, d.Evidence[0].Name, want)
						}
					}
				}
				if got != x.want {
					t.Errorf("%s %s?%s: matched %v, want %v", x.tx.Request.Method, x.tx.Request.Path, x.tx.Request.Query, got, x.want)
				}
			}
		})
	}
	if len(cases) != len(st.Rules()) {
		t.Errorf("%d starter rules, %d tested", len(st.Rules()), len(cases))
	}
}

// evidenceAt is where a starter rule's match shows (location:name).
var evidenceAt = map[string]string{
	"CVE-2017-5638":  "header:Content-Type",
	"CVE-2023-34362": "header:X-siLock-Transaction",
	"CVE-2019-19781": "path:",
}

// TestRuleErrors: a broken pack is refused with file, line and reason;
// a user pack adds rules; Reload keeps the old rules on an error.
func TestRuleErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) {
		os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte(body), 0o644)
	}
	for _, c := range []struct{ body, want string }{
		{"rules:\n  - id: X-1\n    match: {all: [{target: path, contains: a}]}\n    colour: red\n", "field colour not found"},
		{"rules:\n  - id: X-1\n    class: magic\n    match: {all: [{target: path, contains: a}]}\n", `mine.yaml:2: rule "X-1": class "magic"`},
		{"rules:\n  - id: X-1\n    match: {all: [{target: elbow, contains: a}]}\n", `target "elbow"`},
		{"rules:\n  - id: X-1\n    match: {all: [{target: path, regex: '(('}]}\n", "regex"},
		{"rules:\n  - id: X-1\n    match: {all: [{target: path, contains: a, equals: b}]}\n", "exactly one of"},
		{"rules:\n  - id: CVE-2020-5902\n    match: {all: [{target: path, contains: a}]}\n", "duplicate id"},
		{"rules:\n  - match: {all: [{target: path, contains: a}]}\n", "id is required"},
	} {
		write(c.body)
		_, err := LoadRules([]string{dir}, false)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.body, err, c.want)
		}
	}
	write("rules:\n  - id: ACME-1\n    title: internal debug endpoint\n    class: cve\n    severity: medium\n    match:\n      all:\n        - {target: path, prefix: /debug/}\n        - {target: method, equals: POST}\n")
	cfg := NewConfig()
	cfg.Rules = []string{dir}
	st, err := NewState(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	var col collector
	newWorker(st).Analyze(mk("POST", "/debug/vars", "", nil, "", ""), &col)
	if len(col.Detections) != 1 || col.Detections[0].Evidence[0].Rule != "ACME-1" {
		t.Fatalf("user rule: %+v", col.Detections)
	}
	write("rules: [")
	if err := st.Reload(); err == nil || len(st.Rules()) != 11 {
		t.Fatalf("reload of a broken pack: %v, %d rules", err, len(st.Rules()))
	}
}

func TestContainsFold(t *testing.T) {
	for _, c := range []struct {
		s, sub string
		want   bool
	}{
		{"class.module.classLoader=x", "CLASS.MODULE.CLASSLOADER", true}, {"ab", "abc", false}, {"abc", "", true},
		{"/tmui/login.jsp/..;/", "login.JSP", true}, {"the quick brown fox", "QUICK BROWN", true}, {"quick", "quack", false},
		{"zzzz", "z", true}, {"a.b", "a.b", true}, {"prefix-suffix", "x-s", true}, {"prefixsuffix", "x-s", false},
	} {
		if got := containsFold(c.s, c.sub); got != c.want {
			t.Errorf("containsFold(%q, %q) = %v", c.s, c.sub, got)
		}
	}
}
