package attack

import (
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// oversize looks at a request whose head was over the parser's limits
// (http1.FlagHeadersTruncated): the parser hands over what it read, which
// the walk has examined like any request; when the oversize itself looks
// deliberate (padding: a header of one repeated byte or of few distinct
// bytes, or many headers of one name), it is reported as evasion.
func (w *worker) oversize(tx *reassembly.Transaction) {
	if tx.Flags&http1.FlagHeadersTruncated == 0 || w.off&cEvasion != 0 {
		return
	}
	req := tx.Request
	if rule, name := padding(req.Headers); rule != "" {
		w.add(cEvasion, rule, input{loc: "header", name: name}, "", 0)
	}
}

// padding finds headers that pad a request head: a long value of few
// distinct bytes, or a name repeated many times.
func padding(hs []http1.Header) (rule, name string) {
	counts := map[string]int{}
	for i := range hs {
		h := &hs[i]
		if len(h.Value) >= paddingLen && fewBytes(h.Value) {
			return "padded_header", h.Name
		}
		counts[h.Name]++
		if counts[h.Name] >= repeatedHeaders {
			return "repeated_header", h.Name
		}
	}
	return "", ""
}

// A header value of at least paddingLen bytes made of at most
// paddingBytes distinct bytes is padding (a cookie jar or a token that
// long has many more); repeatedHeaders headers of one name are too.
const (
	paddingLen      = 4096
	paddingBytes    = 8
	repeatedHeaders = 32
)

// fewBytes says whether v has at most paddingBytes distinct bytes.
func fewBytes(v string) bool {
	var seen [256]bool
	n := 0
	for i := 0; i < len(v); i++ {
		if !seen[v[i]] {
			seen[v[i]] = true
			if n++; n > paddingBytes {
				return false
			}
		}
	}
	return true
}
