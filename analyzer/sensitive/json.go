package sensitive

import (
	"bytes"
	"strconv"
)

// maxDepth bounds the JSON path kept; deeper values are still scanned,
// reported at the deepest kept level.
const maxDepth = 32

// JSON scans a JSON document value by value, with each value's key as its
// hint and its JSON pointer as the finding's Field. Malformed JSON is
// scanned up to the damage and the rest as text; it returns false then.
func (s *Scanner) JSON(b []byte, fn func(*Finding)) bool {
	s.fn = fn
	s.stack = s.stack[:0]
	s.inJSON = true
	defer func() { s.inJSON = false }()
	expectKey := false
	n := len(b)
	for i := 0; i < n; {
		switch c := b[i]; c {
		case ' ', '\t', '\r', '\n', ':':
			i++
		case '{':
			s.push(frame{})
			expectKey = true
			i++
		case '[':
			s.push(frame{arr: true})
			i++
		case '}', ']':
			if len(s.stack) > 0 {
				s.stack = s.stack[:len(s.stack)-1]
			}
			expectKey = false
			i++
		case ',':
			if k := len(s.stack); k > 0 {
				top := &s.stack[k-1]
				if top.arr {
					top.idx++
				} else {
					expectKey = true
				}
			}
			i++
		case '"':
			j, esc := endString(b, i+1)
			if j < 0 {
				s.inJSON = false
				s.chunks(b[i:], 0, "")
				return false
			}
			str := b[i+1 : j]
			i = j + 1
			if esc {
				str = s.unescape(str)
			}
			if expectKey && len(s.stack) > 0 && !s.stack[len(s.stack)-1].arr {
				s.stack[len(s.stack)-1].key = str
				if esc {
					s.stack[len(s.stack)-1].key = append([]byte(nil), str...)
				}
				expectKey = false
				continue
			}
			s.jsonValue(str)
		default:
			j := i
			for j < n && !jsonDelim(b[j]) {
				j++
			}
			if j == i {
				i++
				continue
			}
			if c == '-' || c >= '0' && c <= '9' {
				s.jsonValue(b[i:j])
			}
			i = j
		}
	}
	return true
}

func jsonDelim(c byte) bool { return jsonDelims[c] }

var jsonDelims = func() (t [256]bool) {
	for _, c := range []byte(",}] \n\r\t:\"") {
		t[c] = true
	}
	return
}()

func (s *Scanner) push(f frame) {
	if len(s.stack) < maxDepth {
		s.stack = append(s.stack, f)
	}
}

// jsonValue scans a string or number value under the current key.
func (s *Scanner) jsonValue(v []byte) {
	var key []byte
	for k := len(s.stack) - 1; k >= 0; k-- {
		if !s.stack[k].arr {
			key = s.stack[k].key
			break
		}
	}
	// the field (a JSON pointer) is built only when something is found
	s.value(v, "", s.hints.of(key), "")
	if len(s.Custom) > 0 {
		s.custom(v, string(key))
	}
}

// pointer renders the current JSON path as an RFC 6901 pointer.
func (s *Scanner) pointer() string { return string(s.appendPointer(nil)) }

// appendPointer appends the current JSON pointer to dst.
func (s *Scanner) appendPointer(dst []byte) []byte {
	start := len(dst)
	for _, f := range s.stack {
		dst = append(dst, '/')
		if f.arr {
			dst = strconv.AppendInt(dst, int64(f.idx), 10)
			continue
		}
		for _, c := range f.key[:min(len(f.key), 128)] {
			switch c {
			case '~':
				dst = append(dst, '~', '0')
			case '/':
				dst = append(dst, '~', '1')
			default:
				dst = append(dst, c)
			}
		}
	}
	if len(dst) == start {
		dst = append(dst, '/')
	}
	return dst
}

// endString returns the index of the closing quote of the string starting
// at b[i] (after the opening quote) and whether it has escapes.
func endString(b []byte, i int) (int, bool) {
	esc := false
	for i < len(b) {
		q := bytes.IndexByte(b[i:], '"') // the next quote, then look for escapes before it
		if q < 0 {
			return -1, esc || bytes.IndexByte(b[i:], '\\') >= 0
		}
		q += i
		if bytes.IndexByte(b[i:q], '\\') < 0 {
			return q, esc
		}
		// escapes before the quote: walk them as they come
		esc = true
		for ; i < q; i++ {
			if b[i] == '\\' {
				i++
			}
		}
		if i == q {
			return q, esc // the quote is not escaped
		}
		i = q + 1 // it was: go on after it
	}
	return -1, esc
}

// unescape decodes JSON escapes into the scratch buffer (non-ASCII \u
// escapes become '?': no sensitive format needs them).
func (s *Scanner) unescape(v []byte) []byte {
	out := s.unesc[:0]
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' || i+1 >= len(v) {
			out = append(out, c)
			continue
		}
		i++
		switch v[i] {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case 'b', 'f':
			out = append(out, ' ')
		case 'u':
			if i+4 < len(v) {
				if r, err := strconv.ParseUint(string(v[i+1:i+5]), 16, 16); err == nil && r < 0x80 {
					out = append(out, byte(r))
				} else {
					out = append(out, '?')
				}
				i += 4
			}
		default:
			out = append(out, v[i])
		}
	}
	s.unesc = out
	return out
}
