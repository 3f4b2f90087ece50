package attack

import (
	"strings"

	"github.com/apitap/apitap/reassembly/http1"
)

// detectors holds a worker's scratch space for the detectors' lexers,
// and what they learn about the value being examined.
type detectors struct {
	sql sqlLexers
	sh  shellWords
	// words is the count of prose words (up to 6) of the value pv,
	// -1 before it is counted
	pv    string
	words int
}

// reset starts the examination of a value.
func (d *detectors) reset() { d.pv, d.words = "", -1 }

// proseWords says whether lv (the value being examined, or another) has
// at least n prose words, counting the value's words once.
func (d *detectors) proseWords(lv string, n int) bool {
	if d.words < 0 || d.pv != lv {
		d.pv, d.words = lv, countProse(lv, 6)
	}
	return d.words >= n
}

// isProse is proseWords(lv, 6).
func (d *detectors) isProse(lv string) bool { return d.proseWords(lv, 6) }

// lowerInto is lowerASCII(v) in the worker's buffer: a view valid until
// the next call (the detectors keep v, never the lower-cased form).
func (w *worker) lowerInto(v string) string {
	i := 0
	for i < len(v) && !(v[i] >= 'A' && v[i] <= 'Z') {
		i++
	}
	if i == len(v) {
		return v
	}
	b := append(w.lbuf[:0], v...)
	for ; i < len(b); i++ {
		b[i] = lowerTab[b[i]]
	}
	w.lbuf = b
	return view(b)
}

// detect runs the detectors of the classes in bits (prefilter bits of the
// normalised value v) and says whether any matched, including classes
// this transaction already has a hit of.
func (w *worker) detect(in input, v string, bits int) (found bool) {
	bits &= classBits &^ w.off
	if bits == 0 {
		return false
	}
	if opaque(v) {
		bits &= cLog4Shell | cDeser
	}
	lv := ""
	lower := func() string {
		if lv == "" {
			lv = w.lowerInto(v)
		}
		return lv
	}
	d := &w.det
	d.reset()
	report := func(class int, ok bool, rule string, at int) {
		if ok {
			found = true
			w.add(class, rule, in, v, at)
		}
	}
	if bits&cLog4Shell != 0 {
		ok, rule, at := log4shell(lower())
		report(cLog4Shell, ok, rule, at)
	}
	if bits&cSQLi != 0 {
		ok, rule, at := d.sqliCheck(v, lower(), in.key)
		report(cSQLi, ok, rule, at)
	}
	if bits&cXSS != 0 {
		ok, rule, at := xssCheck(v, lower(), in, d.proseWords(lower(), 5))
		report(cXSS, ok, rule, at)
	}
	if bits&cTraversal != 0 {
		ok, rule, at := traversal(lower(), in, d)
		report(cTraversal, ok, rule, at)
	}
	if bits&cCmd != 0 {
		ok, rule, at := d.shellCheck(lower(), in)
		report(cCmd, ok, rule, at)
	}
	if bits&cSSRF != 0 {
		// the Host header names the server the request went to: internal
		// names and addresses are normal there (in-cluster calls, health
		// checks); only a cloud metadata address is an attack (routing-based
		// SSRF through a proxy that forwards by Host)
		if ok, rule := ssrf(lower(), in.name, w.host); ok && (in.loc != "header" || rule == "cloud_metadata" || http1.LookupHeader(in.name) != http1.IDHost) {
			at := 0
			if i := strings.Index(lower(), "://"); i > 0 {
				at = i - 1
				for at > 0 && isAlnum(lower()[at-1]) {
					at--
				}
			}
			report(cSSRF, true, rule, at)
		}
	}
	if bits&cXXE != 0 {
		ok, rule := xxe(lower())
		report(cXXE, ok, rule, strings.Index(lower(), "<!"))
	}
	if bits&cSSTI != 0 {
		ok, rule, at := ssti(lower())
		report(cSSTI, ok, rule, at)
	}
	if bits&cNoSQLi != 0 && !in.key && (strings.HasPrefix(v, "$where") || strings.HasPrefix(v, "{\"$") || strings.HasPrefix(v, "[$") && nosqliBracket(v)) {
		report(cNoSQLi, true, "operator_in_value", 0)
	}
	if bits&cCRLF != 0 {
		ok, rule, at := crlfCheck(v, in)
		report(cCRLF, ok, rule, at)
	}
	if bits&cRedirect != 0 {
		ok, rule, at := redirectCheck(lower(), in, w.host)
		report(cRedirect, ok, rule, at)
	}
	if bits&cXPath != 0 {
		ok, rule, at := xpathLDAPCheck(lower())
		report(cXPath, ok, rule, at)
	}
	if bits&cDeser != 0 {
		ok, rule, at := deserCheck(v, lower())
		report(cDeser, ok, rule, at)
	}
	return found
}

// nosqliBracket says whether a value starts with a bracketed operator
// ([$lte]...), the name part of a query parameter sent as its value.
func nosqliBracket(v string) bool {
	j := strings.IndexByte(v, ']')
	return j > 1 && mongoOps[strings.ToLower(v[1:j])]
}
