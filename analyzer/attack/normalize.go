package attack

import (
	"bytes"
	"unicode/utf8"
)

// normalizer undoes the encodings attackers hide payloads in, once per
// value, into reused buffers: URL decoding repeated (double encoding,
// %u with four hex digits, overlong UTF-8 for '.', '/' and '\'), '+' as space in query and
// form values, HTML entities, backslash escapes (\x3c, \u003c), and
// collapses SQL comments and white space runs.
type normalizer struct {
	a, b []byte
}

// maxValue bounds the bytes of one value that are normalized and matched.
const maxValue = 8192

// norm returns the normalized form of v (v itself when nothing applies).
func (n *normalizer) norm(v string, plus bool) string {
	if len(v) > maxValue {
		v = v[:maxValue]
	}
	if !needsNorm(v, plus) {
		return v
	}
	cur := append(n.a[:0], v...)
	for round := 0; round < 3; round++ {
		// '+' is a space in the query or form value as sent; one that
		// decoding made (%2B) is a space too when it stands between two
		// other characters, as a double-encoded space does, and a plus
		// next to a blank or at an end (~+, alias +m)
		next, changed := decodeOnce(n.b[:0], cur, plus, round > 0)
		n.a, n.b = next, cur
		cur = next
		if !changed {
			break
		}
	}
	next := htmlEntities(n.b[:0], cur)
	n.a, n.b = next, cur
	cur = next
	next = backslashes(n.b[:0], cur)
	n.a, n.b = next, cur
	cur = next
	if len(cur) < len(v) && bytes.IndexByte(cur, '&') >= 0 {
		// an escape that made an entity: \u0026lt;
		next = htmlEntities(n.b[:0], cur)
		n.a, n.b = next, cur
		cur = next
	}
	if bytes.IndexByte(cur, 0xef) >= 0 {
		next = foldWide(n.b[:0], cur)
		n.a, n.b = next, cur
		cur = next
	}
	return string(cur)
}

// foldWide folds the full-width forms of ASCII (U+FF01 to U+FF5E, bytes
// EF BC 81 to EF BD 9E in UTF-8) to ASCII: ＜script＞.
func foldWide(dst, b []byte) []byte {
	for i := 0; i < len(b); i++ {
		if b[i] == 0xef && i+2 < len(b) && (b[i+1] == 0xbc && b[i+2] >= 0x81 || b[i+1] == 0xbd && b[i+2] <= 0x9e) && b[i+2] >= 0x80 && b[i+2] <= 0xbf {
			r := rune(b[i+1]&0x3f)<<6 | rune(b[i+2]&0x3f) | 0xf000
			dst = append(dst, byte(r-0xFF01+'!'))
			i += 2
			continue
		}
		dst = append(dst, b[i])
	}
	return dst
}

func needsNorm(v string, plus bool) bool {
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '%', '&', '\\', 0xef:
			return true
		case '+':
			if plus {
				return true
			}
		}
	}
	return false
}

// decodeOnce percent-decodes b into dst once.
func decodeOnce(dst, b []byte, plus, inner bool) ([]byte, bool) {
	changed := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '+' && plus && (!inner || i > 0 && i+1 < len(b) && b[i-1] != ' ' && b[i+1] != ' ' && b[i+1] != '+'):
			dst = append(dst, ' ')
			changed = true
		case c == '%' && i+5 < len(b) && (b[i+1] == 'u' || b[i+1] == 'U') && ishex(b[i+2]) && ishex(b[i+3]) && ishex(b[i+4]) && ishex(b[i+5]):
			r := rune(unhex(b[i+2]))<<12 | rune(unhex(b[i+3]))<<8 | rune(unhex(b[i+4]))<<4 | rune(unhex(b[i+5]))
			dst = utf8.AppendRune(dst, fold(r))
			i += 5
			changed = true
		case c == '%' && i+5 < len(b) && b[i+3] == '%' && ishex(b[i+1]) && ishex(b[i+2]) && ishex(b[i+4]) && ishex(b[i+5]) && overlong(hexByte(b[i+1:]), hexByte(b[i+4:])) != 0:
			// overlong UTF-8: %c0%ae is '.', %c0%af is '/', %c1%9c is '\'
			dst = append(dst, overlong(hexByte(b[i+1:]), hexByte(b[i+4:])))
			i += 5
			changed = true
		case c == '%' && i+2 < len(b) && ishex(b[i+1]) && ishex(b[i+2]):
			dst = append(dst, hexByte(b[i+1:]))
			i += 2
			changed = true
		default:
			dst = append(dst, c)
		}
	}
	return dst, changed
}

// fold maps full-width and other look-alike runes to ASCII where a
// payload would use them (＜ to <).
func fold(r rune) rune {
	if r >= 0xFF01 && r <= 0xFF5E {
		return r - 0xFF01 + '!'
	}
	return r
}

func overlong(a, b byte) byte {
	if a != 0xc0 && a != 0xc1 && a != 0xe0 {
		return 0
	}
	v := (a&0x1f)<<6 | b&0x3f
	switch v {
	case '.', '/', '\\':
		return v
	}
	return 0
}

func hexByte(b []byte) byte { return unhex(b[0])<<4 | unhex(b[1]) }

func ishex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// entities are the named character references payloads use; tab and
// newline decode to nothing (browsers skip them inside a URL scheme,
// which is what they hide: ja&Tab;vascript:).
var entities = map[string]string{"lt": "<", "gt": ">", "quot": "\"", "apos": "'", "amp": "&", "sol": "/", "colon": ":", "lpar": "(", "rpar": ")",
	"tab": "", "newline": "", "bsol": "\\", "equals": "=", "semi": ";", "lbrace": "{", "rbrace": "}", "lcub": "{", "rcub": "}", "dollar": "$",
	"num": "#", "percnt": "%", "period": ".", "comma": ",", "excl": "!", "quest": "?", "lsqb": "[", "rsqb": "]", "lbrack": "[", "rbrack": "]",
	"grave": "`", "hat": "^", "lowbar": "_", "verbar": "|", "vert": "|", "ast": "*", "plus": "+", "commat": "@", "nbsp": " ", "circ": "^",
	"midast": "*", "apostrophe": "'"}

// maxEntity is the longest name in entities.
const maxEntity = 10

// htmlEntities decodes &lt; &#60; &#x3c; (and without the semicolon).
func htmlEntities(dst, b []byte) []byte {
	for i := 0; i < len(b); i++ {
		if b[i] != '&' || i+2 >= len(b) {
			dst = append(dst, b[i])
			continue
		}
		j := i + 1
		if b[j] == '#' {
			j++
			hex := j < len(b) && (b[j] == 'x' || b[j] == 'X')
			if hex {
				j++
			}
			for j < len(b) && b[j] == '0' && j+1 < len(b) && (ishex(b[j+1]) || b[j+1] == '0') {
				j++ // zero padding: &#0000060;
			}
			v, k := 0, j
			for k < len(b) && k-j < 7 && (hex && ishex(b[k]) || !hex && b[k] >= '0' && b[k] <= '9') {
				if hex {
					v = v*16 + int(unhex(b[k]))
				} else {
					v = v*10 + int(b[k]-'0')
				}
				k++
			}
			if k > j && v > 0 && v < 0x110000 {
				dst = utf8.AppendRune(dst, fold(rune(v)))
				if k < len(b) && b[k] == ';' {
					k++
				}
				i = k - 1
				continue
			}
			dst = append(dst, b[i])
			continue
		}
		k := j
		for k < len(b) && k-j < maxEntity && (b[k] >= 'a' && b[k] <= 'z' || b[k] >= 'A' && b[k] <= 'Z') {
			k++
		}
		// the longest name that is an entity: &lbracejndi is &lbrace; jndi
		var name [maxEntity]byte
		for m := j; m < k; m++ {
			name[m-j] = lowerTab[b[m]]
		}
		for ; k > j; k-- {
			if c, ok := entities[string(name[:k-j])]; ok {
				dst = append(dst, c...)
				if k < len(b) && b[k] == ';' {
					k++
				}
				i = k - 1
				break
			}
		}
		if k > j {
			continue
		}
		dst = append(dst, b[i])
	}
	return dst
}

// backslashes decodes \xHH and \uHHHH escapes (JavaScript, JSON strings
// inside strings).
func backslashes(dst, b []byte) []byte {
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && (b[i+1] == 'x' || b[i+1] == 'X') && ishex(b[i+2]) && ishex(b[i+3]) {
			dst = append(dst, hexByte(b[i+2:]))
			i += 3
			continue
		}
		if b[i] == '\\' && i+5 < len(b) && b[i+1] == 'u' && ishex(b[i+2]) && ishex(b[i+3]) && ishex(b[i+4]) && ishex(b[i+5]) {
			r := rune(unhex(b[i+2]))<<12 | rune(unhex(b[i+3]))<<8 | rune(unhex(b[i+4]))<<4 | rune(unhex(b[i+5]))
			dst = utf8.AppendRune(dst, fold(r))
			i += 5
			continue
		}
		dst = append(dst, b[i])
	}
	return dst
}

// lowerASCII lower-cases the ASCII letters of v and leaves every other
// byte as it is (strings.ToLower turns invalid UTF-8 into U+FFFD, which
// moves offsets and loses the bytes some payloads are made of).
func lowerASCII(v string) string {
	i := 0
	for i < len(v) && !(v[i] >= 'A' && v[i] <= 'Z') {
		i++
	}
	if i == len(v) {
		return v
	}
	b := make([]byte, len(v))
	copy(b, v[:i])
	for ; i < len(v); i++ {
		b[i] = lowerTab[v[i]]
	}
	return string(b)
}
