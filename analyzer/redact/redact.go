// Package redact removes sensitive values from what apitap exports. Every
// encoder of an event that carries traffic-derived values passes them
// through here, so that no raw credential or personal datum leaves the
// sensor. It sits between the analyzers and the exporters.
//
// The functions are pure, safe for concurrent use, and do not allocate when
// nothing needs redacting.
package redact

import (
	"strconv"
	"strings"

	"github.com/apitap/apitap/analyzer/identity"
	"github.com/apitap/apitap/reassembly/http1"
)

// sensitiveHeaders are matched exactly (case-insensitively).
var sensitiveHeaders = []string{"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}

// sensitiveParts make any header or parameter name sensitive.
var sensitiveHeaderParts = []string{"token", "secret", "password", "passwd", "apikey", "api-key", "api_key", "session", "signature", "credential", "auth"}

var sensitiveParamParts = []string{"token", "key", "secret", "password", "pass", "pwd", "auth", "session", "signature", "sig", "code", "ssn", "card", "cc", "email", "phone"}

// containsFold reports whether s contains sub (sub is lower case ASCII).
func containsFold(s, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

// SensitiveHeader reports whether a header's value must be redacted.
func SensitiveHeader(name string) bool {
	for _, h := range sensitiveHeaders {
		if len(name) == len(h) && strings.EqualFold(name, h) {
			return true
		}
	}
	if identity.IsAPIKeyHeader(&http1.Header{Name: name}) { // the sensor's one list of API key headers
		return true
	}
	for _, p := range sensitiveHeaderParts {
		if containsFold(name, p) {
			return true
		}
	}
	return false
}

// Mask is the redacted form of a value: its length only.
func Mask(v string) string { return "[REDACTED len=" + strconv.Itoa(len(v)) + "]" }

// Header returns the exportable form of header name's value.
func Header(name, v string) string {
	if !SensitiveHeader(name) {
		return v
	}
	switch {
	case strings.EqualFold(name, "authorization"), strings.EqualFold(name, "proxy-authorization"):
		if sp := strings.IndexByte(v, ' '); sp > 0 && sp < 20 {
			return v[:sp] + " " + Mask(strings.TrimSpace(v[sp+1:]))
		}
	case strings.EqualFold(name, "cookie"):
		return cookies(v, ';')
	case strings.EqualFold(name, "set-cookie"):
		// name=value; attributes...: redact the value, keep attributes
		semi := strings.IndexByte(v, ';')
		if semi < 0 {
			return cookies(v, ';')
		}
		return cookies(v[:semi], ';') + v[semi:]
	}
	return Mask(v)
}

// cookies keeps cookie names and masks every value.
func cookies(v string, sep byte) string {
	var b strings.Builder
	for i, part := range strings.Split(v, string(sep)) {
		if i > 0 {
			b.WriteByte(sep)
		}
		eq := strings.IndexByte(part, '=')
		if eq < 0 {
			b.WriteString(Mask(part))
			continue
		}
		b.WriteString(part[:eq+1])
		b.WriteString(Mask(part[eq+1:]))
	}
	return b.String()
}

// SensitiveParam reports whether a parameter (query, form or JSON key)
// name says its value is a secret or personal: a password, token, key,
// session, signature, card, SSN, e-mail address or phone number.
func SensitiveParam(name string) bool { return sensitiveParam(name) }

// sensitiveParam reports whether a query parameter name is sensitive.
func sensitiveParam(name string) bool {
	for _, p := range sensitiveParamParts {
		if containsFold(name, p) {
			return true
		}
	}
	return false
}

// SensitiveValue reports whether a value looks secret or personal whatever
// its name: a JWT, an email address, or a run of 9 or more digits, possibly
// broken by separators (cards, SSNs, phone numbers, accounts).
func SensitiveValue(v string) bool {
	if isUUID(v) {
		return false // ids, not personal data
	}
	if strings.HasPrefix(v, "eyJ") && strings.Count(v, ".") >= 2 {
		return true
	}
	if at := strings.IndexByte(v, '@'); at > 0 && strings.IndexByte(v[at:], '.') > 0 {
		return true
	}
	if strings.Contains(v, "%40") { // encoded '@'
		return true
	}
	digits := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			digits++
			if digits >= 9 {
				return true
			}
		case c == '-' || c == ' ' || c == '+' || c == '(' || c == ')' || c == '.':
		case c == '%' && i+2 < len(v) && v[i+1] == '2' && (v[i+2] == '0' || v[i+2] == 'B' || v[i+2] == 'b'):
			i += 2 // %20, %2B: an encoded space or plus between digit groups
		default:
			digits = 0
		}
	}
	return false
}

func isUUID(v string) bool {
	if len(v) != 36 || v[8] != '-' || v[13] != '-' || v[18] != '-' || v[23] != '-' {
		return false
	}
	for i := 0; i < 36; i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '-') {
			return false
		}
	}
	return true
}

// Path returns a request path with every segment that SensitiveValue
// flags masked (/users/jane@example.com/cards -> /users/[REDACTED len=16]/cards).
func Path(p string) string {
	dirty := false
	for rest := p; rest != "" && !dirty; {
		var seg string
		seg, rest = nextSeg(rest)
		dirty = SensitiveValue(seg)
	}
	if !dirty {
		return p
	}
	var b strings.Builder
	for i, seg := range strings.Split(p, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		if SensitiveValue(seg) {
			b.WriteString(Mask(seg))
		} else {
			b.WriteString(seg)
		}
	}
	return b.String()
}

func nextSeg(p string) (string, string) {
	p = strings.TrimLeft(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

// Query returns raw (a query string without '?') with the values of
// sensitive parameters masked; names and other values are kept.
func Query(raw string) string {
	if raw == "" || !needsQuery(raw) {
		return raw
	}
	var b strings.Builder
	b.Grow(len(raw) + 16)
	for i, part := range strings.Split(raw, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		name, val, hasEq := strings.Cut(part, "=")
		if !hasEq {
			if SensitiveValue(name) {
				b.WriteString(Mask(name))
			} else {
				b.WriteString(name)
			}
			continue
		}
		b.WriteString(name)
		b.WriteByte('=')
		if sensitiveParam(name) || SensitiveValue(val) {
			b.WriteString(Mask(val))
		} else {
			b.WriteString(val)
		}
	}
	return b.String()
}

func needsQuery(raw string) bool {
	for len(raw) > 0 {
		part := raw
		if i := strings.IndexByte(raw, '&'); i >= 0 {
			part, raw = raw[:i], raw[i+1:]
		} else {
			raw = ""
		}
		name, val, hasEq := strings.Cut(part, "=")
		if !hasEq {
			if SensitiveValue(name) {
				return true
			}
			continue
		}
		if sensitiveParam(name) || SensitiveValue(val) {
			return true
		}
	}
	return false
}
