package discovery

// flatStrings reads the string members named in keys (lower-case ASCII)
// of a JSON object, as json.Unmarshal reads them into a struct of string
// fields with those tags: a member matches a key in any ASCII case, the
// last match wins, null leaves a field as it was, and any other type for
// a matching member is an error. It handles only plain documents: ASCII
// without control characters, no escapes, nesting below 64 levels, an
// object at the top. For anything else (and for any syntax error) it
// says handled false and the caller runs json.Unmarshal, whose answer is
// then the same by construction. A JWT's header and claims are nearly
// always plain, and json.Unmarshal costs several times more.
func flatStrings(b []byte, keys []string, out []string) (ok, handled bool) {
	p := flatParser{b: b}
	i := p.ws(0)
	if i >= len(b) || b[i] != '{' {
		return false, false
	}
	ok = true
	i = p.ws(i + 1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			ks, ke := p.str(i)
			if ks < 0 {
				return false, false
			}
			i = p.ws(ke + 1)
			if i >= len(b) || b[i] != ':' {
				return false, false
			}
			i = p.ws(i + 1)
			k := match(b[ks:ke], keys)
			switch {
			case k < 0:
				if i = p.value(i, 1); i < 0 {
					return false, false
				}
			case i < len(b) && b[i] == '"':
				vs, ve := p.str(i)
				if vs < 0 {
					return false, false
				}
				out[k] = string(b[vs:ve])
				i = ve + 1
			case i < len(b) && b[i] == 'n':
				if i = p.value(i, 1); i < 0 {
					return false, false
				}
			default:
				if i = p.value(i, 1); i < 0 {
					return false, false
				}
				ok = false // a type error: json.Unmarshal goes on and fails
			}
			i = p.ws(i)
			if i >= len(b) {
				return false, false
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return false, false
			}
			i = p.ws(i + 1)
		}
	}
	if p.ws(i) != len(b) {
		return false, false
	}
	return ok, true
}

// match returns the index of the key name equals in ASCII case, or -1.
func match(name []byte, keys []string) int {
	for k, key := range keys {
		if len(name) != len(key) {
			continue
		}
		same := true
		for j := 0; j < len(name) && same; j++ {
			c := name[j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			same = c == key[j]
		}
		if same {
			return k
		}
	}
	return -1
}

type flatParser struct{ b []byte }

func (p *flatParser) ws(i int) int {
	for i < len(p.b) && (p.b[i] == ' ' || p.b[i] == '\t' || p.b[i] == '\n' || p.b[i] == '\r') {
		i++
	}
	return i
}

// str returns the bounds of the contents of the plain string at b[i]
// (the closing quote is at e), or -1.
func (p *flatParser) str(i int) (s, e int) {
	if i >= len(p.b) || p.b[i] != '"' {
		return -1, -1
	}
	for j := i + 1; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			return i + 1, j
		case c == '\\' || c < 0x20 || c >= 0x80:
			return -1, -1
		}
	}
	return -1, -1
}

// value returns the index after the plain JSON value at b[i], or -1.
func (p *flatParser) value(i, depth int) int {
	b := p.b
	if i >= len(b) || depth > 64 {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		_, e := p.str(i)
		if e < 0 {
			return -1
		}
		return e + 1
	case c == '{' || c == '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		i = p.ws(i + 1)
		if i < len(b) && b[i] == end {
			return i + 1
		}
		for {
			if c == '{' {
				_, e := p.str(i)
				if e < 0 {
					return -1
				}
				i = p.ws(e + 1)
				if i >= len(b) || b[i] != ':' {
					return -1
				}
				i = p.ws(i + 1)
			}
			if i = p.value(i, depth+1); i < 0 {
				return -1
			}
			i = p.ws(i)
			if i >= len(b) {
				return -1
			}
			if b[i] == end {
				return i + 1
			}
			if b[i] != ',' {
				return -1
			}
			i = p.ws(i + 1)
		}
	case c == 't':
		return p.word(i, "true")
	case c == 'f':
		return p.word(i, "false")
	case c == 'n':
		return p.word(i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number(i)
	}
	return -1
}

func (p *flatParser) word(i int, w string) int {
	if len(p.b)-i < len(w) || string(p.b[i:i+len(w)]) != w {
		return -1
	}
	return i + len(w)
}

// number returns the index after the JSON number at b[i] (RFC 8259
// grammar), or -1.
func (p *flatParser) number(i int) int {
	b := p.b
	if b[i] == '-' {
		i++
	}
	digits := func() int {
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - s
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return -1
		}
	}
	return i
}
