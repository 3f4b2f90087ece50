package http1

import (
	"bytes"
	"strings"
)

// Lenient start lines.
//
// Servers and clients accept more than RFC 9112 allows, and a sensor that
// drops what they accept misses traffic (and can be evaded with it). The
// start lines are read the way common servers (nginx, Apache, Go net/http,
// Node's llhttp) and Suricata's libhtp read them, and every departure from
// the RFC sets a flag on the transaction (FlagLenientStartLine), so that
// analyzers can tell:
//   - runs of white space (SP, HTAB; NUL in status lines) between the parts;
//   - the version in any case ("http/1.1"), with odd digits ("HTTP/1.",
//     "HTTP/1.01") or another major version ("HTTP/2.0" in an HTTP/1
//     stream, read as 1.1);
//   - a status code with leading zeros ("0200");
//   - a request without a target ("GET HTTP/1.1": the version is taken
//     for the target, as libhtp does), or with white space inside it ("GET
//     /a b HTTP/1.1": the target is "/a", as libhtp reads it; nginx, Apache
//     and Go answer both with 400);
//   - HTTP/0.9: "GET /path" and nothing else, answered by a bare body
//     (FlagHTTP09).

// isWS reports the white space allowed between the parts of a start line.
func isWS(c byte) bool { return c == ' ' || c == '\t' }

// hasVersionPrefix reports whether b starts with "HTTP/" in any case.
func hasVersionPrefix(b string) bool {
	return len(b) >= 5 && (b[0]|0x20) == 'h' && (b[1]|0x20) == 't' && (b[2]|0x20) == 't' && (b[3]|0x20) == 'p' && b[4] == '/'
}

// version checks a version token ("HTTP/1.1"); odd says it is not exactly
// HTTP/1.0 or HTTP/1.1, http10 that it reads as HTTP/1.0.
func version(v string) (ok, odd, http10 bool) {
	if !hasVersionPrefix(v) {
		return false, false, false
	}
	rest := v[5:]
	if len(rest) == 0 || !isDigit(rest[0]) {
		return false, false, false
	}
	for i := 1; i < len(rest); i++ {
		if !isDigit(rest[i]) && rest[i] != '.' {
			return false, false, false
		}
	}
	exact := v[:5] == "HTTP/" && (rest == "1.1" || rest == "1.0")
	return true, !exact, rest == "1.0"
}

// fieldsWS splits a start line at runs of SP and HTAB into at most 4
// fields (the last one keeps the rest of the line) and returns their
// offsets; runs says some separator was longer than one byte.
func fieldsWS(line string, at *[4]int, end *[4]int) (n int, runs bool) {
	i := 0
	for i < len(line) && n < len(at) {
		for i < len(line) && isWS(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && !isWS(line[j]) {
			j++
		}
		if n == len(at)-1 {
			j = len(line)
		}
		at[n], end[n] = i, j
		n++
		if j+1 < len(line) && isWS(line[j+1]) {
			runs = true
		}
		i = j
	}
	return n, runs
}

// requestLine is a parsed request line.
type requestLine struct {
	method, target, proto string
	odd                   bool // lenient reading (FlagLenientStartLine)
	http09                bool
}

// parseRequestLine reads a request line leniently. ok is false when the
// line can not be a request line.
func parseRequestLine(line string) (r requestLine, ok bool) {
	// the common case first: METHOD SP target SP HTTP/1.x, single spaces
	if sp1, sp2 := strings.IndexByte(line, ' '), strings.LastIndexByte(line, ' '); sp1 > 0 && sp2 > sp1+1 && len(line)-sp2 == 9 &&
		(line[sp2+1:] == "HTTP/1.1" || line[sp2+1:] == "HTTP/1.0") && line[sp1+1] != ' ' &&
		strings.IndexByte(line[sp1+1:sp2], ' ') < 0 && validName(line[:sp1]) && strings.IndexByte(line[:sp2], '\t') < 0 {
		return requestLine{method: line[:sp1], target: line[sp1+1 : sp2], proto: line[sp2+1:]}, true
	}
	var at, end [4]int
	if len(line) == 0 || isWS(line[0]) {
		return r, false
	}
	n, runs := fieldsWS(line, &at, &end)
	if n < 2 || !validName(line[at[0]:end[0]]) {
		return r, false
	}
	r.method, r.odd = line[at[0]:end[0]], runs || strings.IndexByte(line, '\t') >= 0
	last := line[at[n-1]:end[n-1]]
	switch vok, _, _ := version(last); {
	case n == 4: // white space inside the target: the version is the last word
		k := len(line)
		for k > 0 && isWS(line[k-1]) {
			k--
		}
		sp := strings.LastIndexAny(line[:k], " \t")
		last = line[sp+1 : k]
		if vok, _, _ := version(last); !vok || sp < at[1] {
			return r, false
		}
		// the target is the first word, as libhtp reads it (servers
		// refuse such lines)
		r.target = line[at[1]:end[1]]
		r.odd = true
	case vok && n == 3:
		r.target = line[at[1]:end[1]]
	case vok && n == 2:
		// no target: libhtp takes the version for it; servers refuse
		r.target, r.odd = last, true
	case n == 2 && r.method == "GET" && strings.HasPrefix(last, "/"):
		r.target, r.proto, r.http09 = last, "HTTP/0.9", true
		return r, true
	default:
		return r, false
	}
	_, odd, _ := version(last)
	r.proto, r.odd = last, r.odd || odd
	return r, true
}

// statusLine is a parsed status line.
type statusLine struct {
	proto  string
	status int
	reason string
	odd    bool
}

// parseStatusLine reads a status line leniently.
func parseStatusLine(line string) (s statusLine, ok bool) {
	// the common case first: HTTP/1.x SP NNN [SP reason]
	if len(line) >= 12 && line[:7] == "HTTP/1." && (line[7] == '1' || line[7] == '0') && line[8] == ' ' &&
		isDigit(line[9]) && isDigit(line[10]) && isDigit(line[11]) && line[9] != '0' && (len(line) == 12 || line[12] == ' ' && (len(line) == 13 || line[13] != ' ' && line[13] != '\t')) {
		s = statusLine{proto: line[:8], status: int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')}
		if len(line) > 13 {
			s.reason = line[13:]
			s.odd = strings.IndexByte(s.reason, 0) >= 0
		}
		return s, true
	}
	i := 0
	for i < len(line) && !isWS(line[i]) && line[i] != 0 {
		i++
	}
	vok, odd, _ := version(line[:i])
	if !vok {
		return s, false
	}
	s.proto, s.odd = line[:i], odd
	j := i
	for j < len(line) && (isWS(line[j]) || line[j] == 0) {
		j++
	}
	if j != i+1 || line[i] != ' ' {
		s.odd = true
	}
	k := j
	for k < len(line) && isDigit(line[k]) {
		k++
	}
	digits := line[j:k]
	for len(digits) > 3 && digits[0] == '0' {
		digits, s.odd = digits[1:], true
	}
	if len(digits) != 3 || k < len(line) && !isWS(line[k]) && line[k] != 0 && line[k] != '\r' {
		return s, false
	}
	s.status = int(digits[0]-'0')*100 + int(digits[1]-'0')*10 + int(digits[2]-'0')
	if s.status < 100 {
		return s, false
	}
	r := k
	for r < len(line) && (isWS(line[r]) || line[r] == 0) {
		r++
	}
	if r > k+1 || r == k+1 && line[k] != ' ' {
		s.odd = true
	}
	s.reason = line[r:]
	if strings.IndexByte(s.reason, 0) >= 0 {
		s.odd = true
	}
	return s, true
}

// startKind classifies a line (whole, or the start of one when complete is
// false): 1 a request line, 2 a status line, 0 neither, -1 more bytes are
// needed to tell. The hunt uses it, so it is stricter than the parsers:
// requests need a known method and a version (or a complete HTTP/0.9 GET
// line), responses "HTTP/" (any case), a digit and a 3-digit status.
func startKind(line []byte, complete bool) int {
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if len(line) >= 5 && hasVersionPrefix(string(line[:5])) {
		if !complete && len(line) < 16 {
			return -1
		}
		if _, ok := parseStatusLine(string(line)); ok {
			return 2
		}
		return 0
	}
	if len(line) < 5 {
		if complete {
			return 0
		}
		if bytes.HasPrefix([]byte("HTTP/"), bytes.ToUpper(line)) {
			return -1
		}
	}
	for _, m := range knownMethods {
		if len(line) <= len(m) {
			if !complete && bytes.HasPrefix([]byte(m), line) {
				return -1
			}
			continue
		}
		if !isWS(line[len(m)]) || string(line[:len(m)]) != m {
			continue
		}
		if !complete {
			if len(line) < 8192 {
				return -1
			}
			return 0
		}
		if r, ok := parseRequestLine(string(line)); ok && (!r.http09 || len(line) < 2048) {
			return 1
		}
		return 0
	}
	return 0
}
