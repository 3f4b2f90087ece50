package sensitive

import "strings"

// hint is what a field, parameter or header name says about its value.
type hint uint16

const (
	hSSN hint = 1 << iota
	hCard
	hPhone
	hDOB
	hIMEI
	hSecret
	hPassword
	hID    // an identifier (order_id, tracking_number): digit runs are not cards or phones
	hEmail // named like an e-mail field
	hIP
)

// hintOf derives the hint of a name (case-insensitive substrings).
func hintOf(name string) hint {
	if name == "" {
		return 0
	}
	n := strings.ToLower(name)
	var h hint
	has := func(parts ...string) bool {
		for _, p := range parts {
			if strings.Contains(n, p) {
				return true
			}
		}
		return false
	}
	if has("ssn", "social_security", "socialsecurity", "tax_id", "taxid") {
		h |= hSSN
	}
	if has("card", "pan", "ccnum", "cc_num", "creditcard", "cc_number") {
		h |= hCard
	}
	if has("phone", "mobile", "msisdn", "tel", "cell", "fax") {
		h |= hPhone
	}
	if has("dob", "birth", "bday") {
		h |= hDOB
	}
	if has("imei", "device_id") {
		h |= hIMEI
	}
	if has("secret", "token", "api_key", "apikey", "api-key", "private_key", "privatekey", "access_key", "accesskey", "client_secret", "credential", "signature") {
		h |= hSecret
	}
	if has("password", "passwd", "pwd", "passphrase", "pin") && !has("spin", "ping", "pinned", "pint") {
		h |= hPassword
	}
	if has("email", "e-mail", "mail") {
		h |= hEmail
	}
	if has("ip", "addr") && !has("zip", "tip", "ship", "recipient", "description", "ipsum") {
		h |= hIP
	}
	if h&(hCard|hPhone|hSSN|hIMEI) == 0 && (has("order", "tracking", "invoice", "ref", "sku", "ean", "upc", "isbn", "serial") ||
		strings.HasSuffix(n, "id") ||
		strings.HasSuffix(n, "_no") || strings.HasSuffix(n, "number") || has("timestamp", "_at", "time", "epoch", "version", "build")) {
		h |= hID
	}
	return h
}

// hintCache memoises hintOf per name in a direct-mapped table: names
// repeat in bodies, and a lookup must cost less than a map access.
type hintCache struct {
	slots [512]struct {
		name string
		h    hint
		set  bool
	}
}

func (c *hintCache) of(name []byte) hint {
	if len(name) == 0 {
		return 0
	}
	// the slot from the length and five bytes (a collision only costs a
	// new hintOf): no loop over the name
	n := len(name)
	x := uint32(n)*0x9e3779b1 ^ uint32(name[0]) ^ uint32(name[n/4])<<6 ^ uint32(name[n/2])<<12 ^ uint32(name[3*n/4])<<18 ^ uint32(name[n-1])<<24
	x *= 0x85ebca6b
	e := &c.slots[x>>23] // the top 9 bits: 512 slots
	if e.set && e.name == string(name) {
		return e.h
	}
	h := hintOf(string(name))
	if len(name) <= 64 {
		e.name, e.h, e.set = string(name), h, true
	}
	return h
}
