package attack

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apitap/apitap/reassembly/http1"
)

// TestOversizedHead: a request whose head was over the parser's limits
// (handed over with what was read, flagged headers_truncated) is analysed
// on what was read, its detections say so, and the oversize is evasion
// when it looks deliberate (padding, one header repeated), not when it
// is ordinary data (a large jar of distinct cookies).
func TestOversizedHead(t *testing.T) {
	var jar strings.Builder
	for i := 0; jar.Len() < 12000; i++ {
		fmt.Fprintf(&jar, "c%d=%x; ", i, uint64(i)*0x9e3779b97f4a7c15)
	}
	repeated := make([]http1.Header, 0, 40)
	for i := 0; i < 40; i++ {
		repeated = append(repeated, http1.Header{Name: "X-Forwarded-For", Value: "203.0.113.9"})
	}
	for _, c := range []struct {
		name      string
		headers   []http1.Header
		truncated bool
		evasion   string // the rule, "" for none
	}{
		{"padding", []http1.Header{{Name: "X-Pad", Value: strings.Repeat("A", 60000)}}, true, "padded_header"},
		{"padding of two bytes", []http1.Header{{Name: "X-Junk", Value: strings.Repeat("ab", 9000)}}, true, "padded_header"},
		{"repeated header", repeated, true, "repeated_header"},
		{"large cookie jar", []http1.Header{{Name: "Cookie", Value: jar.String()}}, true, ""},
		{"padding within the limits", []http1.Header{{Name: "X-Pad", Value: strings.Repeat("A", 6000)}}, false, ""},
	} {
		w := newWorker(newTestState(t))
		tx := mk("GET", "/v1/items", "q=%27%20UNION%20SELECT%20password%20FROM%20users--", c.headers, "", "")
		if c.truncated {
			tx.Flags |= http1.FlagHeadersTruncated
		}
		var col collector
		w.Analyze(tx, &col)
		got, sqli := "", false
		for _, d := range col.Detections {
			switch d.Class {
			case "evasion":
				got = d.Evidence[0].Rule
			case "sqli":
				sqli = true
				marked := false
				for _, e := range d.Evidence {
					marked = marked || e.Rule == "truncated:headers"
				}
				if marked != c.truncated {
					t.Errorf("%s: truncated:headers in the evidence %v, want %v", c.name, marked, c.truncated)
				}
			}
		}
		if !sqli {
			t.Errorf("%s: the injection in the query was not analysed", c.name)
		}
		if got != c.evasion {
			t.Errorf("%s: evasion %q, want %q", c.name, got, c.evasion)
		}
	}
}
