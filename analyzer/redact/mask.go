package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// The masks below are the exported forms of values the sensitive-data
// analyzer found. Each keeps only what identifies the kind of value, never
// enough to recover it.

// Card keeps the first 6 and last 4 digits of a card number (PCI DSS):
// 411111******1111. Separators are dropped.
func Card(v string) string {
	d := digitsOf(v)
	if len(d) < 13 {
		return Mask(v)
	}
	return d[:6] + strings.Repeat("*", len(d)-10) + d[len(d)-4:]
}

// Email keeps the first letter of the local part and the domain:
// j***@example.com.
func Email(v string) string {
	at := strings.LastIndexByte(v, '@')
	if at < 1 {
		return Mask(v)
	}
	return v[:1] + "***" + v[at:]
}

// SSN keeps the last 4 digits: ***-**-6789.
func SSN(v string) string {
	d := digitsOf(v)
	if len(d) != 9 {
		return Mask(v)
	}
	return "***-**-" + d[5:]
}

// Tail keeps the last n digits of a number (phone numbers, IMEIs):
// ********0123.
func Tail(v string, n int) string {
	d := digitsOf(v)
	if len(d) <= n {
		return Mask(v)
	}
	return strings.Repeat("*", len(d)-n) + d[len(d)-n:]
}

// IBAN keeps the country, check digits and last 4 characters:
// DE89**************3000.
func IBAN(v string) string {
	c := strings.ReplaceAll(v, " ", "")
	if len(c) < 12 {
		return Mask(v)
	}
	return c[:4] + strings.Repeat("*", len(c)-8) + c[len(c)-4:]
}

// IPv4 keeps the first three octets: 192.0.2.x.
func IPv4(v string) string {
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return Mask(v)
	}
	return v[:i] + ".x"
}

func digitsOf(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Hasher makes keyed hashes of sensitive values, so that two detections
// about the same card or e-mail address can be correlated without the
// value: HMAC-SHA256 with a key only the operator holds, truncated to 16
// hex digits. A nil Hasher (no key configured) returns "".
type Hasher struct {
	key []byte
}

// NewHasher returns a hasher for key, or nil when key is empty.
func NewHasher(key []byte) *Hasher {
	if len(key) == 0 {
		return nil
	}
	return &Hasher{key: append([]byte(nil), key...)}
}

// Sum returns "hmac-sha256:" and 16 hex digits of v's keyed hash.
func (h *Hasher) Sum(v string) string {
	if h == nil {
		return ""
	}
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(v))
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil)[:8])
}

// Snippet is an attack payload as evidence: at most max bytes, control
// characters replaced, and every token that looks personal or secret (an
// e-mail address, a JWT, a long digit run) masked, so the payload stays
// readable without carrying data.
func Snippet(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	var b strings.Builder
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		tok := s[start:end]
		if SensitiveValue(tok) {
			b.WriteString(Mask(tok))
		} else {
			b.WriteString(tok)
		}
		start = -1
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f:
			flush(i)
			b.WriteByte(' ')
		case c == ' ' || c == '\'' || c == '"' || c == '=' || c == '&' || c == ',' || c == ';' || c == '(' || c == ')' || c == '<' || c == '>':
			flush(i)
			b.WriteByte(c)
		default:
			if start < 0 {
				start = i
			}
		}
	}
	flush(len(s))
	return b.String()
}
