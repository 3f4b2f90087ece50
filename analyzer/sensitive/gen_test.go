package sensitive

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// label is a sensitive value planted in generated traffic.
type label struct {
	t   Type
	raw string
}

// gen makes labelled sensitive values and look-alikes that must not
// match, deterministically.
type gen struct {
	r *rand.Rand
}

func newGen(seed uint64) *gen { return &gen{r: rand.New(rand.NewPCG(seed, seed*31+7))} }

func (g *gen) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.r.IntN(10))
	}
	return string(b)
}

// luhnComplete appends the check digit that makes body Luhn-valid.
func luhnComplete(body string) string {
	for c := byte('0'); c <= '9'; c++ {
		if luhn([]byte(body + string(c))) {
			return body + string(c)
		}
	}
	return body
}

func (g *gen) card() string {
	var p string
	n := 16
	switch g.r.IntN(5) {
	case 0:
		p = "4"
	case 1:
		p = strconv.Itoa(51 + g.r.IntN(5))
	case 2:
		p = strconv.Itoa(2221 + g.r.IntN(500))
	case 3:
		p, n = []string{"34", "37"}[g.r.IntN(2)], 15
	case 4:
		p = "6011"
	}
	num := luhnComplete(p + g.digits(n-len(p)-1))
	switch g.r.IntN(3) {
	case 1:
		return spaced(num, 4, " ")
	case 2:
		return spaced(num, 4, "-")
	}
	return num
}

func spaced(s string, n int, sep string) string {
	var parts []string
	for len(s) > n {
		parts = append(parts, s[:n])
		s = s[n:]
	}
	return strings.Join(append(parts, s), sep)
}

func (g *gen) ssn() string {
	area := 1 + g.r.IntN(899)
	if area == 666 {
		area = 665
	}
	return fmt.Sprintf("%03d-%02d-%04d", area, 1+g.r.IntN(99), 1+g.r.IntN(9999))
}

func (g *gen) iban() string {
	country := []string{"DE", "GB", "FR", "NL", "ES"}[g.r.IntN(5)]
	var bban string
	switch country {
	case "DE":
		bban = g.digits(18)
	case "GB":
		bban = "NWBK" + g.digits(14)
	case "FR":
		bban = g.digits(23)
	case "NL":
		bban = "ABNA" + g.digits(10)
	case "ES":
		bban = g.digits(20)
	}
	for ck := 2; ck < 99; ck++ {
		s := fmt.Sprintf("%s%02d%s", country, ck, bban)
		if ibanValid([]byte(s)) {
			if g.r.IntN(3) == 0 {
				return spaced(s, 4, " ")
			}
			return s
		}
	}
	return ""
}

var firstNames = []string{"jane", "john", "maria", "wei", "amir", "olga", "kofi", "lena"}
var domains = []string{"example.com", "mail.example.org", "corp.example.net", "example.co.uk"}

func (g *gen) email() string {
	return fmt.Sprintf("%s.%s%d@%s", firstNames[g.r.IntN(8)], firstNames[g.r.IntN(8)], g.r.IntN(100), domains[g.r.IntN(4)])
}

func (g *gen) phone() string {
	switch g.r.IntN(4) {
	case 0:
		return "+1" + strconv.Itoa(2+g.r.IntN(8)) + g.digits(2) + strconv.Itoa(2+g.r.IntN(8)) + g.digits(6)
	case 1:
		return "+44 20 " + g.digits(4) + " " + g.digits(4)
	case 2:
		return fmt.Sprintf("(%d%s) %d%s-%s", 2+g.r.IntN(8), g.digits(2), 2+g.r.IntN(8), g.digits(2), g.digits(4))
	}
	return fmt.Sprintf("%d%s-%d%s-%s", 2+g.r.IntN(8), g.digits(2), 2+g.r.IntN(8), g.digits(2), g.digits(4))
}

func (g *gen) dob() string {
	y, m, d := 1940+g.r.IntN(65), 1+g.r.IntN(12), 1+g.r.IntN(28)
	switch g.r.IntN(3) {
	case 1:
		return fmt.Sprintf("%02d/%02d/%d", m, d, y)
	case 2:
		return fmt.Sprintf("%02d.%02d.%d", d, m, y)
	}
	return fmt.Sprintf("%d-%02d-%02d", y, m, d)
}

func (g *gen) ip() string {
	return fmt.Sprintf("%d.%d.%d.%d", 1+g.r.IntN(223), g.r.IntN(256), g.r.IntN(256), 1+g.r.IntN(254))
}

func (g *gen) imei() string {
	return luhnComplete([]string{"35", "86", "01"}[g.r.IntN(3)] + g.digits(12))
}

func (g *gen) b64(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.IntN(256))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (g *gen) jwt(weak bool) string {
	alg, sig := "HS256", g.b64(32)
	if weak {
		alg, sig = "none", ""
	}
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `","typ":"JWT"}`))
	p := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"sub":"%d","iat":%d}`, g.r.IntN(1e6), 1700000000+g.r.IntN(1e7))))
	return h + "." + p + "." + sig
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func (g *gen) from(chars string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[g.r.IntN(len(chars))]
	}
	return string(b)
}

func (g *gen) secret() string {
	switch g.r.IntN(5) {
	case 0:
		return "AKIA" + g.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
	case 1:
		return "ghp_" + g.from(alnum, 36)
	case 2:
		return "sk_live_" + g.from(alnum, 24)
	case 3:
		return "xoxb-" + g.digits(12) + "-" + g.digits(12) + "-" + g.from(alnum, 24)
	}
	return "AIza" + g.from(alnum+"-_", 35)
}

// lookAlikes are values that resemble sensitive data and must not match.
func (g *gen) lookAlike() (field, value string) {
	switch g.r.IntN(12) {
	case 0:
		return "order_id", strconv.Itoa(1+g.r.IntN(9)) + g.digits(15) // 16-digit order numbers
	case 1:
		return "created_ms", "17" + g.digits(11) // millisecond timestamps
	case 2:
		return "request_id", fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", g.r.Uint32(), g.r.IntN(65536), g.r.IntN(4096), g.r.IntN(4096), g.r.Uint64()&0xffffffffffff)
	case 3:
		return "ticket", fmt.Sprintf("%s-%s-%s", g.digits(3), g.digits(4), g.digits(2)) // phone-like ids
	case 4:
		return "created_at", fmt.Sprintf("2026-%02d-%02dT%02d:10:00Z", 1+g.r.IntN(12), 1+g.r.IntN(28), g.r.IntN(24))
	case 5:
		return "app_version", fmt.Sprintf("%d.%d.%d.%d", g.r.IntN(20), g.r.IntN(20), g.r.IntN(100), g.r.IntN(1000))
	case 6:
		return "avatar", "logo@2x.png"
	case 7:
		return "count", g.digits(9) // 9 digits without an SSN name
	case 8:
		return "sku", luhnComplete("4" + g.digits(14)) // a Luhn-valid "card" in an id field
	case 9:
		return "amount", g.digits(7) + "." + g.digits(2)
	case 10:
		return "blob", g.b64(40) // random base64, not a JWT
	}
	return "tracking_number", "1Z" + g.from("0123456789ABCDEFGHJKLMNPRSTUVWXYZ", 16)
}
