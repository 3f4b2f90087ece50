package sensitive

import (
	"regexp"
	"strings"
)

// Type is a sensitive data type: an index into event.SensitiveTypes.
type Type uint8

// The built-in types, in event.SensitiveTypes order.
const (
	TCard Type = iota
	TSSN
	TIBAN
	TEmail
	TPhone
	TDOB
	TIP
	TIMEI
	TJWT
	TSecret
	TPassword
	TCredentials
	TCustom
	numTypes
)

// Finding is one sensitive value found by a Scanner. Value points into
// the scanned data or the scanner's scratch space: it is valid only during
// the callback (as is Field) and must never be exported unmasked.
type Finding struct {
	Type  Type
	Rule  string // the detector: luhn_iin, ssn_format, aws_access_key, high_entropy_field, a custom type's name...
	Value []byte
	// Field is the parameter, header or cookie name ("" in plain text);
	// inside a JSON document Where returns the JSON pointer.
	Field string
	Weak  bool // a JWT with alg none or without a signature
	// Custom is the index of the custom type (Type TCustom).
	Custom int
	json   *Scanner // set inside a JSON document: Where builds the pointer
}

// Where is the finding's location name: the JSON pointer of the value in
// a JSON document (built on demand: only for findings kept), else Field.
func (f *Finding) Where() string {
	if f.json != nil {
		return f.json.pointer()
	}
	return f.Field
}

// CustomType is a sensitive data type from the configuration.
type CustomType struct {
	Name      string
	Re        *regexp.Regexp
	Validator string   // "", "luhn", "mod97", "ssn"
	Fields    []string // lower-case name parts; empty: any field and plain text
}

// Scanner finds sensitive values in one pass over each input: a table
// driven tokenizer cuts the input into candidate tokens and validators
// run on the few tokens whose shape fits a type. One Scanner per worker;
// not safe for concurrent use.
type Scanner struct {
	Custom []CustomType
	slow   bool // tests: no shortcut for short values

	hints  hintCache
	fn     func(*Finding)
	f      Finding
	d      [32]byte         // digits of the current token
	form   []byte           // decoded parameters
	unesc  []byte           // unescaped JSON strings
	comp   []byte           // compacted IBAN candidates
	stack  []frame          // JSON path
	inJSON bool             // findings get the JSON pointer as Field
	found  bool             // the current value produced a finding
	jwts   map[string]uint8 // decoded tokens: bit 1 a JWT, bit 2 weak (bounded)
}

// jwt decodes a JWT's header through a bounded cache: the same bearer
// token comes with every request of a session.
func (s *Scanner) jwt(t []byte) (ok, weak bool) {
	if r, hit := s.jwts[string(t)]; hit {
		return r&1 != 0, r&2 != 0
	}
	ok, weak, _ = jwtCheck(t)
	if s.jwts == nil || len(s.jwts) >= 4096 {
		s.jwts = map[string]uint8{}
	}
	var r uint8
	if ok {
		r |= 1
	}
	if weak {
		r |= 2
	}
	s.jwts[string(t)] = r
	return ok, weak
}

// frame is one level of the JSON path: an object key or an array index.
type frame struct {
	arr bool
	key []byte
	idx int
}

// chunkTab marks bytes that may belong to a sensitive token.
var chunkTab = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		t[c] = isAlnum(b) || strings.IndexByte("._%+-@=()", b) >= 0
	}
	return
}()

func (s *Scanner) emit(t Type, rule string, v []byte, field string) {
	s.f = Finding{Type: t, Rule: rule, Value: v, Field: field}
	s.report()
}

// report hands s.f to the callback, with the JSON pointer as its field
// inside a JSON document.
func (s *Scanner) report() {
	s.found = true
	if s.inJSON {
		s.f.json = s
	}
	s.fn(&s.f)
}

// Text scans unstructured data (plain text, HTML, XML, multipart).
func (s *Scanner) Text(b []byte, fn func(*Finding)) {
	s.fn = fn
	s.chunks(b, 0, "")
	s.custom(b, "")
}

// Value scans one named value: a header, cookie, parameter or path
// segment. The name's hint (ssn, card_number, password, ...) applies.
func (s *Scanner) Value(v []byte, name string, fn func(*Finding)) {
	s.fn = fn
	s.value(v, name, s.hints.of([]byte(name)), name)
}

// Form scans an application/x-www-form-urlencoded body or a query string.
func (s *Scanner) Form(b []byte, fn func(*Finding)) {
	s.fn = fn
	for len(b) > 0 {
		var part []byte
		if i := indexByte(b, '&'); i >= 0 {
			part, b = b[:i], b[i+1:]
		} else {
			part, b = b, nil
		}
		if len(part) == 0 {
			continue
		}
		name, val := part, []byte(nil)
		if i := indexByte(part, '='); i >= 0 {
			name, val = part[:i], part[i+1:]
		}
		if len(val) == 0 {
			continue
		}
		val = s.percentDecode(val)
		field := stringOf(name) // no copy: Field is valid only during the callback
		s.value(val, field, s.hints.of(name), field)
	}
}

// percentDecode decodes %XX and + into the scratch buffer when needed.
func (s *Scanner) percentDecode(v []byte) []byte {
	plain := true
	for _, c := range v {
		if c == '%' || c == '+' {
			plain = false
			break
		}
	}
	if plain {
		return v
	}
	out := s.form[:0]
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]):
			c = unhex(v[i+1])<<4 | unhex(v[i+2])
			i += 2
		}
		out = append(out, c)
	}
	s.form = out
	return out
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// minToken is the shortest token the token rules look at.
const minToken = 6

// value applies the rules of named values, then the token rules.
func (s *Scanner) value(v []byte, name string, h hint, field string) {
	if len(v) == 0 {
		return
	}
	if len(v) < minToken && len(s.Custom) == 0 && (h&hPassword == 0 || h&hSecret != 0) && !s.slow {
		// too short for any token rule (check wants minToken bytes, a
		// date 8, a high-entropy secret 16): only a password field's value
		// would be reported
		return
	}
	if h&hPassword != 0 && h&(hSecret) == 0 {
		if !placeholder(v) {
			s.emit(TPassword, "password_field", v, field)
		}
		return
	}
	if h&hDOB != 0 && dateLike(v) {
		s.emit(TDOB, "dob_field", v, field)
		return
	}
	s.found = false
	s.chunks(v, h, field)
	if !s.found && h&(hSecret|hPassword) != 0 && len(v) >= 16 && len(v) <= 4096 && !placeholder(v) && entropy(v) >= 3.0 {
		s.emit(TSecret, "high_entropy_field", v, field)
	}
	if len(s.Custom) > 0 && !s.inJSON {
		s.custom(v, name)
	}
}

// placeholder says whether a value is not a real secret: masks, booleans,
// null.
func placeholder(v []byte) bool {
	switch string(v) {
	case "true", "false", "null", "none", "undefined", "":
		return true
	}
	for _, c := range v {
		if c != '*' && c != 'x' && c != 'X' && c != '.' {
			return false
		}
	}
	return true
}

// dateLike matches the date formats birth dates come in: 1990-05-17,
// 17.05.1990, 05/17/1990, 1990/05/17 (an optional time may follow).
func dateLike(v []byte) bool {
	if len(v) < 8 {
		return false
	}
	d, seps := 0, 0
	for _, c := range v[:min(len(v), 10)] {
		switch {
		case c >= '0' && c <= '9':
			d++
		case c == '-' || c == '.' || c == '/':
			seps++
		default:
			return false
		}
	}
	return d == 8 && seps == 2
}

// custom runs the configured types' regular expressions on v.
func (s *Scanner) custom(v []byte, name string) {
	ln := strings.ToLower(name)
	for ci := range s.Custom {
		ct := &s.Custom[ci]
		if len(ct.Fields) > 0 {
			ok := false
			for _, f := range ct.Fields {
				ok = ok || (name != "" && strings.Contains(ln, f))
			}
			if !ok {
				continue
			}
		}
		for _, m := range ct.Re.FindAllIndex(v, 64) {
			val := v[m[0]:m[1]]
			if !customValid(ct.Validator, val) {
				continue
			}
			s.f = Finding{Type: TCustom, Rule: ct.Name, Value: val, Field: name, Custom: ci}
			s.report()
		}
	}
}

func customValid(v string, b []byte) bool {
	var d []byte
	for _, c := range b {
		if c >= '0' && c <= '9' {
			d = append(d, c)
		}
	}
	switch v {
	case "luhn":
		return len(d) > 1 && luhn(d)
	case "ssn":
		return ssnValid(d)
	case "mod97":
		return ibanValid([]byte(strings.ToUpper(strings.ReplaceAll(string(b), " ", ""))))
	}
	return true
}

// chunks cuts b into tokens and checks each; digit groups separated by
// single spaces (4111 1111 1111 1111, (415) 555 0123, IBANs in groups of
// four) are tried as one token first.
func (s *Scanner) chunks(b []byte, h hint, field string) {
	n := len(b)
	for i := 0; i < n; {
		c := b[i]
		if !chunkTab[c] {
			i++
			continue
		}
		if c == '-' && i+10 < n && string(b[i:i+10]) == "-----BEGIN" {
			if k := pemKey(b[i:]); k > 0 {
				s.emit(TSecret, "private_key", b[i:i+k], field)
				i += k
				continue
			}
		}
		j := i + 1
		for j < n && chunkTab[b[j]] {
			j++
		}
		prev := byte(0)
		if i > 0 {
			prev = b[i-1]
		}
		if j+1 < n && b[j] == ' ' && groupStart(b[i:j]) {
			if k := extendGroups(b, j); k > j && s.check(b[i:k], h, field, prev) {
				i = k
				continue
			}
		}
		if j-i >= minToken {
			s.check(b[i:j], h, field, prev)
		}
		i = j
	}
}

// pemKey returns the length of a PEM private key header at b, or 0.
func pemKey(b []byte) int {
	end := min(len(b), 64)
	line := string(b[:end])
	k := strings.Index(line, "PRIVATE KEY-----")
	if k < 0 {
		return 0
	}
	return k + len("PRIVATE KEY-----")
}

// groupStart says whether a token may begin a spaced group: a short run of
// digits (or +, parentheses) or an IBAN's country and check digits.
func groupStart(t []byte) bool {
	if len(t) > 6 {
		return false
	}
	if len(t) == 4 && t[0] >= 'A' && t[0] <= 'Z' && t[1] >= 'A' && t[1] <= 'Z' && t[2] >= '0' && t[2] <= '9' && t[3] >= '0' && t[3] <= '9' {
		return true
	}
	for _, c := range t {
		if !(c >= '0' && c <= '9' || c == '+' || c == '(' || c == ')' || c == '-') {
			return false
		}
	}
	return true
}

// extendGroups extends a token ending at j over single spaces followed by
// short alphanumeric groups; it returns the new end.
func extendGroups(b []byte, j int) int {
	end := j
	for groups := 0; groups < 8 && end+1 < len(b) && b[end] == ' '; groups++ {
		k := end + 1
		for k < len(b) && (isAlnum(b[k]) || b[k] == '-') && k-end <= 9 {
			k++
		}
		if k == end+1 || k-end > 9 || (k < len(b) && chunkTab[b[k]] && b[k] != '.' && b[k] != ',' && b[k] != ')') {
			break
		}
		end = k
	}
	return end
}

// check runs the token rules on t and reports whether one matched.
func (s *Scanner) check(t []byte, h hint, field string, prev byte) bool {
	if len(t) > 20 && t[0] == 'e' && t[1] == 'y' && t[2] == 'J' {
		// a JWT without a signature ends in its last dot
		if ok, weak := s.jwt(t); ok {
			s.f = Finding{Type: TJWT, Rule: "jwt", Value: t, Field: field, Weak: weak}
			if weak {
				s.f.Rule = "jwt_unsigned"
			}
			s.report()
			return true
		}
	}
	// trailing punctuation of prose ("mail me at j@x.io.")
	for len(t) > 0 && (t[len(t)-1] == '.' || t[len(t)-1] == ',' || t[len(t)-1] == '-' || t[len(t)-1] == '=' && t[0] != 'e') {
		t = t[:len(t)-1]
	}
	if len(t) < minToken {
		return false
	}
	var digits, letters, at, dots, seps, other int
	nd := 0
	for _, c := range t {
		switch {
		case c >= '0' && c <= '9':
			digits++
			if nd < len(s.d) {
				s.d[nd] = c
				nd++
			}
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters++
		case c == '@':
			at++
		case c == '.':
			dots++
		case c == ' ' || c == '-' || c == '(' || c == ')' || c == '+':
			seps++
		default:
			other++
		}
	}
	if at == 1 {
		if emailValid(t) {
			s.emit(TEmail, "email", t, field)
			return true
		}
		return false
	}
	if letters == 0 && at == 0 && other == 0 {
		return s.numeric(t, s.d[:nd], dots, h, field, prev)
	}
	if letters > 0 {
		if len(t) >= 20 {
			if rule := secretPrefix(t); rule != "" {
				s.emit(TSecret, rule, t, field)
				return true
			}
		}
		if len(t) >= 15 && t[0] >= 'A' && t[0] <= 'Z' && t[1] >= 'A' && t[1] <= 'Z' && t[2] >= '0' && t[2] <= '9' {
			c := s.compact(t)
			if ibanValid(c) {
				s.emit(TIBAN, "iban_mod97", t, field)
				return true
			}
		}
	}
	return false
}

// compact upper-cases t without spaces into the scratch buffer.
func (s *Scanner) compact(t []byte) []byte {
	out := s.comp[:0]
	for _, c := range t {
		if c == ' ' {
			continue
		}
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		out = append(out, c)
	}
	s.comp = out
	return out
}

// numeric checks a token of digits and separators.
func (s *Scanner) numeric(t, d []byte, dots int, h hint, field string, prev byte) bool {
	nd := len(d)
	if dots == 3 && nd >= 4 && nd <= 12 && prev != '/' && prev != 'v' && h&hID == 0 && ipv4(t) {
		s.emit(TIP, "ipv4", t, field)
		return true
	}
	if dots > 0 && !(dots == 2 && nd == 10) {
		return false // versions, decimals; ddd.ddd.dddd may be a phone
	}
	if t[0] == '+' && nd >= 8 && nd <= 15 && d[0] != '0' {
		s.emit(TPhone, "e164", t, field)
		return true
	}
	if nd >= 13 && nd <= 19 && consistentSeps(t) && luhn(d) {
		if cardIssuer(d) && (h&hID == 0 || h&hCard != 0) && h&hIMEI == 0 {
			s.emit(TCard, "luhn_iin", t, field)
			return true
		}
		if nd == 15 && (h&hIMEI != 0 || imeiTAC(d) && h&hID == 0) {
			s.emit(TIMEI, "imei_luhn", t, field)
			return true
		}
	}
	if nd == 9 {
		formatted := len(t) == 11 && t[3] == '-' && t[6] == '-'
		if (formatted || len(t) == 9 && h&hSSN != 0) && ssnValid(d) {
			s.emit(TSSN, "ssn", t, field)
			return true
		}
	}
	if h&hID != 0 && h&hPhone == 0 {
		return false
	}
	if (nd == 10 || nd == 11 && d[0] == '1') && phoneFormat(t) && nanp(d[nd-10:]) {
		s.emit(TPhone, "nanp", t, field)
		return true
	}
	if h&hPhone != 0 && nd >= 7 && nd <= 15 {
		s.emit(TPhone, "phone_field", t, field)
		return true
	}
	return false
}

// consistentSeps: a card number's separators are all spaces or all dashes.
func consistentSeps(t []byte) bool {
	var sep byte
	for _, c := range t {
		if c < '0' || c > '9' {
			if sep != 0 && c != sep || c != ' ' && c != '-' {
				return false
			}
			sep = c
		}
	}
	return true
}

// phoneFormat matches (415) 555-0123, 415-555-0123, 415.555.0123,
// 415 555 0123 and the same with a leading 1 or +1.
func phoneFormat(t []byte) bool {
	var groups []int
	cur, paren := 0, false
	for _, c := range t {
		switch {
		case c >= '0' && c <= '9':
			cur++
		case c == '(':
			paren = true
		default:
			if cur > 0 {
				groups = append(groups, cur)
			}
			cur = 0
		}
	}
	if cur > 0 {
		groups = append(groups, cur)
	}
	if len(groups) == 4 && groups[0] == 1 {
		groups = groups[1:]
	}
	_ = paren
	return len(groups) == 3 && groups[0] == 3 && groups[1] == 3 && groups[2] == 4
}

func ipv4(t []byte) bool {
	parts, n, digits := 0, 0, 0
	for i := 0; i <= len(t); i++ {
		if i == len(t) || t[i] == '.' {
			if digits == 0 || digits > 3 || n > 255 || digits > 1 && t[i-digits] == '0' {
				return false
			}
			parts++
			n, digits = 0, 0
			continue
		}
		if t[i] < '0' || t[i] > '9' {
			return false
		}
		n = n*10 + int(t[i]-'0')
		digits++
	}
	return parts == 4
}
