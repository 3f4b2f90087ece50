package sensitive

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
)

// luhn checks the Luhn checksum of a digit string.
func luhn(d []byte) bool {
	sum, dbl := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if dbl {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		dbl = !dbl
	}
	return sum%10 == 0
}

// prefixNum returns the first n digits of d as a number.
func prefixNum(d []byte, n int) int {
	v := 0
	for i := 0; i < n && i < len(d); i++ {
		v = v*10 + int(d[i]-'0')
	}
	return v
}

// cardIssuer says whether a digit string has the length and issuer
// (IIN) range of a payment card network.
func cardIssuer(d []byte) bool {
	n := len(d)
	p1, p2, p3, p4, p6 := prefixNum(d, 1), prefixNum(d, 2), prefixNum(d, 3), prefixNum(d, 4), prefixNum(d, 6)
	switch {
	case p1 == 4: // Visa
		return n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return n == 16
	case p2 == 34 || p2 == 37: // American Express
		return n == 15
	case p4 == 6011, p2 == 65, p3 >= 644 && p3 <= 649, p6 >= 622126 && p6 <= 622925: // Discover
		return n >= 16 && n <= 19
	case p4 >= 3528 && p4 <= 3589: // JCB
		return n >= 16 && n <= 19
	case p3 >= 300 && p3 <= 305, p2 == 36, p2 == 38, p2 == 39: // Diners Club
		return n >= 14 && n <= 19
	case p2 == 62: // UnionPay
		return n >= 16 && n <= 19
	case p2 == 50, p2 >= 56 && p2 <= 58, p2 == 63, p2 == 67: // Maestro
		return n >= 12 && n <= 19
	}
	return false
}

// imeiTAC says whether a 15-digit string starts like an IMEI's type
// allocation code (reporting body identifiers seen in practice).
func imeiTAC(d []byte) bool {
	switch prefixNum(d, 2) {
	case 1, 35, 86, 99, 30, 33, 44, 45, 49, 50, 51, 52, 53, 54:
		return true
	}
	return false
}

// ssnValid applies the SSA rules: area 001-899 except 666, group 01-99,
// serial 0001-9999.
func ssnValid(d []byte) bool {
	if len(d) != 9 {
		return false
	}
	area, group, serial := prefixNum(d, 3), prefixNum(d[3:], 2), prefixNum(d[5:], 4)
	return area > 0 && area < 900 && area != 666 && group > 0 && serial > 0
}

// ibanLengths holds the IBAN length of each country using IBANs.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
	"BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
	"ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
	"HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
	"LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
	"MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
	"RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
	"TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

// ibanValid checks country length and the mod-97 checksum of an IBAN
// without spaces (upper case).
func ibanValid(s []byte) bool {
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	if l, ok := ibanLengths[string(s[:2])]; !ok || l != len(s) {
		return false
	}
	if s[2] < '0' || s[2] > '9' || s[3] < '0' || s[3] > '9' {
		return false
	}
	rem := 0
	for k := 0; k < len(s); k++ {
		c := s[(k+4)%len(s)]
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A'+10)) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// fileExt are "top-level domains" that are really file names
// (logo@2x.png is not an e-mail address).
var fileExt = map[string]bool{
	"png": true, "jpg": true, "jpeg": true, "gif": true, "svg": true, "webp": true, "css": true, "js": true,
	"ico": true, "json": true, "html": true, "txt": true, "pdf": true, "map": true, "woff": true, "woff2": true,
}

// emailValid checks an address: a local part of letters, digits and
// ._%+-, a domain of labels with a final alphabetic label.
func emailValid(s []byte) bool {
	at := -1
	for i, c := range s {
		if c == '@' {
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	if at < 1 || at > 64 || len(s)-at < 5 {
		return false
	}
	for _, c := range s[:at] {
		if !(isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-') {
			return false
		}
	}
	dom := s[at+1:]
	dot := lastIndex(dom, '.')
	if dot < 1 || dot == len(dom)-1 {
		return false
	}
	for _, c := range dom {
		if !(isAlnum(c) || c == '.' || c == '-') {
			return false
		}
	}
	tld := dom[dot+1:]
	if len(tld) < 2 || len(tld) > 24 {
		return false
	}
	for _, c := range tld {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return !fileExt[strings.ToLower(string(tld))]
}

func lastIndex(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// jwtInfo decodes a JWT's header: ok when it is one; weak when its alg is
// none or it carries no signature.
func jwtCheck(tok []byte) (ok, weak bool, alg string) {
	if len(tok) > 16384 {
		return false, false, ""
	}
	s := string(tok)
	h, rest, ok1 := strings.Cut(s, ".")
	p, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sig, '.') >= 0 || len(h) < 10 || len(p) < 2 {
		return false, false, ""
	}
	hb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(h, "="))
	if err != nil {
		return false, false, ""
	}
	var head struct {
		Alg *string `json:"alg"`
	}
	if json.Unmarshal(hb, &head) != nil || head.Alg == nil {
		return false, false, ""
	}
	if _, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(p, "=")); err != nil {
		return false, false, ""
	}
	alg = *head.Alg
	return true, strings.EqualFold(alg, "none") || alg == "" || sig == "", alg
}

// entropy is the Shannon entropy of b in bits per byte.
func entropy(b []byte) float64 {
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	var h float64
	n := float64(len(b))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// secretPrefix matches well-known credential formats by prefix and length
// and returns the rule name.
func secretPrefix(b []byte) string {
	n := len(b)
	switch {
	case n == 20 && (hasPrefix(b, "AKIA") || hasPrefix(b, "ASIA") || hasPrefix(b, "AGPA") || hasPrefix(b, "AIDA") || hasPrefix(b, "AROA")) && upperAlnum(b[4:]):
		return "aws_access_key"
	case n >= 40 && (hasPrefix(b, "ghp_") || hasPrefix(b, "gho_") || hasPrefix(b, "ghu_") || hasPrefix(b, "ghs_") || hasPrefix(b, "ghr_")):
		return "github_token"
	case n >= 50 && hasPrefix(b, "github_pat_"):
		return "github_token"
	case n >= 24 && (hasPrefix(b, "xoxb-") || hasPrefix(b, "xoxp-") || hasPrefix(b, "xoxa-") || hasPrefix(b, "xoxr-") || hasPrefix(b, "xoxs-")):
		return "slack_token"
	case n >= 24 && (hasPrefix(b, "sk_live_") || hasPrefix(b, "rk_live_")):
		return "stripe_secret_key"
	case n == 39 && hasPrefix(b, "AIza"):
		return "google_api_key"
	case n >= 26 && hasPrefix(b, "glpat-"):
		return "gitlab_token"
	case n >= 60 && hasPrefix(b, "SG.") && countByte(b, '.') == 2:
		return "sendgrid_key"
	case n == 40 && hasPrefix(b, "npm_"):
		return "npm_token"
	case n >= 40 && (hasPrefix(b, "sk-proj-") || hasPrefix(b, "sk-ant-")):
		return "ai_api_key"
	}
	return ""
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

func countByte(b []byte, c byte) int {
	n := 0
	for _, x := range b {
		if x == c {
			n++
		}
	}
	return n
}

func upperAlnum(b []byte) bool {
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// nanp says whether 10 digits form a North American number: area and
// exchange codes start with 2-9.
func nanp(d []byte) bool {
	return len(d) == 10 && d[0] >= '2' && d[3] >= '2'
}
