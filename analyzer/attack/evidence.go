package attack

import (
	"bytes"
	"strings"
	"unsafe"

	"github.com/apitap/apitap/analyzer/redact"
	"github.com/apitap/apitap/analyzer/sensitive"
)

// Evidence never carries a secret or a personal datum. A hit's value is
// cut to a window around where the attack starts; the value of a
// credential (a password or token field, a credential header, a cookie)
// is masked up to where the attack starts, so that only what the
// detector matched is shown ([REDACTED]' OR '1'='1); and inside what is
// shown, every token the sensitive-data analyzer's scanner recognises
// (cards, SSNs, IBANs, e-mail addresses, phone numbers, JWTs, keys and
// secrets) is masked with redact's masks, and redact.Snippet masks what
// looks personal or secret token by token and replaces control
// characters.

// maxEvidence is the length of an evidence value before masking.
const maxEvidence = 160

// credentialLocation says whether a value at loc named name is a
// credential: a cookie, a credential header, a sensitive parameter.
func credentialLocation(loc, name string) bool {
	switch loc {
	case "cookie":
		return true
	case "header":
		return redact.SensitiveHeader(name)
	}
	return redact.SensitiveParam(name)
}

// evidence is a hit's value as it may be exported.
func (w *worker) evidence(v string, at int, cred bool, max int) string {
	if at < 0 || at > len(v) {
		at = 0
	}
	prefix := ""
	if cred && at == 0 {
		at = attackStart(v)
	}
	switch {
	case cred && at > 0:
		// a credential: nothing before the attack is shown
		prefix, v = redactedPrefix, v[at:]
	case at > 24 && len(v) > max:
		// a long value: the window starts a little before the attack
		prefix, v = "...", v[at-16:]
	}
	if len(v) > max {
		v = v[:max]
	}
	return prefix + redact.Snippet(w.maskSensitive(v), max+len(redactedPrefix))
}

// attackStart is where the first character payloads are made of (a
// quote, a bracket, a separator, a dot of ../) is in a credential whose
// detector did not say where the attack starts: what comes before is
// masked.
func attackStart(v string) int {
	if i := strings.IndexAny(v, "'\"`<>;|&$(){}[]\\%\n\r"); i > 0 {
		return i
	}
	if i := strings.Index(v, "../"); i > 0 {
		return i
	}
	return 0
}

// redactedPrefix stands for the masked part of a credential.
const redactedPrefix = "[REDACTED]"

// maskSensitive masks the tokens of s that the sensitive-data scanner
// finds (but addresses of hosts, which payloads are made of).
func (w *worker) maskSensitive(s string) string {
	if len(s) < 6 {
		return s
	}
	// '=' joins tokens for the scanner (base64 padding): a parameter in a
	// payload (?t=AKIA...) is cut there, at the same offsets
	b := []byte(s)
	for i, c := range b {
		if c == '=' {
			b[i] = ' '
		}
	}
	type span struct{ i, j int }
	var spans [8]span
	n := 0
	w.sens.Text(b, func(f *sensitive.Finding) {
		if f.Type == sensitive.TIP || len(f.Value) == 0 || n == len(spans) {
			return
		}
		i := int(uintptr(unsafe.Pointer(unsafe.SliceData(f.Value))) - uintptr(unsafe.Pointer(unsafe.SliceData(b))))
		if i < 0 || i+len(f.Value) > len(b) {
			if i = bytes.Index(b, f.Value); i < 0 {
				return
			}
		}
		spans[n] = span{i, i + len(f.Value)}
		n++
	})
	if n == 0 {
		return s
	}
	var out strings.Builder
	last := 0
	for _, sp := range spans[:n] {
		if sp.i < last {
			continue
		}
		out.WriteString(s[last:sp.i])
		out.WriteString(redact.Mask(s[sp.i:sp.j]))
		last = sp.j
	}
	out.WriteString(s[last:])
	return out.String()
}
