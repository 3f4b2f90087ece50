package attack

import (
	"strings"

	"github.com/apitap/apitap/reassembly/http1"
)

// detectors holds a worker's scratch space for the detectors' lexers.
type detectors struct {
	sql sqlLexers
	sh  shellWords
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
			lv = lowerASCII(v)
		}
		return lv
	}
	d := &w.det
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
		ok, rule, at := xssCheck(v, lower(), in)
		report(cXSS, ok, rule, at)
	}
	if bits&cTraversal != 0 {
		ok, rule, at := traversal(lower(), in)
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
		if ok, rule := ssrf(lower(), in.name); ok && (in.loc != "header" || rule == "cloud_metadata" || http1.LookupHeader(in.name) != http1.IDHost) {
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
