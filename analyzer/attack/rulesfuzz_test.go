package attack

import (
	"os"
	"testing"
)

// FuzzParseRules feeds arbitrary YAML to the rule-pack loader: it returns
// rules or an error, never panics, and loaded rules evaluate.
func FuzzParseRules(f *testing.F) {
	if b, err := os.ReadFile("rules/starter.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("rules:\n  - id: x\n    class: cve\n    severity: high\n    all:\n      - {in: path, regex: '(a+)+$'}\n"))
	f.Add([]byte("rules: [{id: y, any: [{in: header, name: x, contains: ''}]}]"))
	f.Add([]byte("\x00\xff: ["))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := parseRules("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, r := range rules {
			for i := range r.Match.All {
				r.Match.All[i].test("/v1/a/../b?x=${jndi:ldap://x}")
			}
			for i := range r.Match.Any {
				r.Match.Any[i].test("GET /etc/passwd")
			}
		}
	})
}
