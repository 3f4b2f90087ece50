package discovery

import (
	"bytes"
	"sort"
	"strings"
)

// JSON types of a schema node, as bits.
const (
	tNull uint8 = 1 << iota
	tBool
	tInteger
	tNumber
	tString
	tObject
	tArray
)

var typeNames = []struct {
	bit  uint8
	name string
}{{tArray, "array"}, {tBool, "boolean"}, {tInteger, "integer"}, {tNull, "null"}, {tNumber, "number"}, {tObject, "object"}, {tString, "string"}}

// String formats recognised in values, as bits.
const (
	fDateTime uint8 = 1 << iota
	fDate
	fEmail
	fUUID
	fURI
	fIPv4
	fOther // a string matching none of the above
)

var formatNames = []struct {
	bit  uint8
	name string
}{{fDate, "date"}, {fDateTime, "date-time"}, {fEmail, "email"}, {fIPv4, "ipv4"}, {fURI, "uri"}, {fUUID, "uuid"}}

// Schema bounds: inference stops adding nodes past them (counted in
// schemaNode.cut) so a hostile body can not grow the catalog.
const (
	maxSchemaDepth = 10
	maxSchemaProps = 64  // properties per object
	maxSchemaNodes = 512 // nodes per inferred schema tree
	maxPropName    = 128
)

// schemaNode is an inferred JSON schema, merged across samples. It never
// holds values: only types, string formats and property names.
type schemaNode struct {
	types   uint8
	formats uint8
	// guesses at where the next property goes in props, from the last
	// sample (bodies of an endpoint list their keys in the same order):
	// first, of an object node, the index of its first key; next, of a
	// property, the index in its parent of the key that followed it.
	// A wrong guess costs one comparison (then the binary search).
	first, next uint8
	seen        uint32       // samples in which this node was present
	objects     uint32       // samples in which it was an object (for required ratios)
	props       []schemaProp // sorted by name
	items       *schemaNode
}

// schemaProp is one property of an object node; names are interned (the
// same property names recur across endpoints).
type schemaProp struct {
	name string
	n    *schemaNode
}

// get returns the property named key (nil if absent) and where it goes.
func (n *schemaNode) get(key []byte) (*schemaNode, int) {
	lo, hi := 0, len(n.props)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		// most names differ in their first byte: no call to compare them
		name := n.props[m].name
		var less bool
		if len(name) > 0 && len(key) > 0 && name[0] != key[0] {
			less = name[0] < key[0]
		} else {
			less = name < string(key)
		}
		if less {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(n.props) && n.props[lo].name == string(key) {
		return n.props[lo].n, lo
	}
	return nil, lo
}

func (n *schemaNode) insert(i int, name string, p *schemaNode) {
	n.props = append(n.props, schemaProp{})
	copy(n.props[i+1:], n.props[i:])
	n.props[i] = schemaProp{name, p}
}

// schemaTree is the root with its node budget.
type schemaTree struct {
	root  schemaNode
	nodes int
	cut   uint32 // properties not added because of a bound
	names *names // interns property names (nil: copies them)
}

// infer merges one JSON document into t. It returns false when b is not
// valid JSON (t may then hold part of it).
func (t *schemaTree) infer(b []byte) bool {
	i := skipWS(b, 0)
	i = t.value(b, i, &t.root, 0)
	if i < 0 {
		return false
	}
	return skipWS(b, i) == len(b)
}

func skipWS(b []byte, i int) int {
	// one comparison rules out every byte above the space (almost all
	// bytes of compact JSON)
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// value parses the JSON value at b[i:] into n (nil: parse only) and returns
// the index after it, or -1.
func (t *schemaTree) value(b []byte, i int, n *schemaNode, depth int) int {
	if i >= len(b) {
		return -1
	}
	if n != nil {
		n.seen++
	}
	if depth > maxSchemaDepth {
		n = nil
	}
	switch c := b[i]; {
	case c == '{':
		if n != nil {
			n.types |= tObject
			n.objects++
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1
		}
		var guess *uint8 // where the guess for the next key is kept
		if n != nil {
			guess = &n.first
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return -1
			}
			ks := i + 1
			i = skipString(b, i)
			if i < 0 {
				return -1
			}
			key := b[ks : i-1]
			i = skipWS(b, i)
			if i >= len(b) || b[i] != ':' {
				return -1
			}
			i = skipWS(b, i+1)
			p := t.propAt(n, key, guess)
			if p != nil {
				guess = &p.next
			} else {
				guess = nil
			}
			i = t.value(b, i, p, depth+1)
			if i < 0 {
				return -1
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return -1
			}
			if b[i] == '}' {
				return i + 1
			}
			if b[i] != ',' {
				return -1
			}
			i = skipWS(b, i+1)
		}
	case c == '[':
		var item *schemaNode
		if n != nil {
			n.types |= tArray
			if n.items == nil && t.nodes < maxSchemaNodes {
				n.items = &schemaNode{}
				t.nodes++
			}
			item = n.items
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1
		}
		for k := 0; ; k++ {
			// the first elements shape the item schema; the rest are only parsed
			el := item
			if k >= 8 {
				el = nil
			}
			i = t.value(b, i, el, depth+1)
			if i < 0 {
				return -1
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return -1
			}
			if b[i] == ']' {
				return i + 1
			}
			if b[i] != ',' {
				return -1
			}
			i = skipWS(b, i+1)
		}
	case c == '"':
		s := i + 1
		i = skipString(b, i)
		if i >= 0 && n != nil {
			n.types |= tString
			// a node whose strings had no format or two has none in the
			// schema (JSONSchema) whatever its next strings are: they
			// need no look
			if f := n.formats; f&fOther == 0 && f&(f-1) == 0 || !skipSettled {
				n.formats |= stringFormat(b[s : i-1])
			}
		}
		return i
	case c == 't':
		return literal(b, i, "true", n, tBool)
	case c == 'f':
		return literal(b, i, "false", n, tBool)
	case c == 'n':
		return literal(b, i, "null", n, tNull)
	case c == '-' || c >= '0' && c <= '9':
		j, isInt := i, true
		if b[j] == '-' {
			j++
		}
		start := j
		for j < len(b) {
			d := b[j]
			if d >= '0' && d <= '9' {
				j++
				continue
			}
			if d == '.' || d == 'e' || d == 'E' || d == '+' || d == '-' {
				isInt = false
				j++
				continue
			}
			break
		}
		if j == start {
			return -1
		}
		if n != nil {
			if isInt {
				n.types |= tInteger
			} else {
				n.types |= tNumber
			}
		}
		return j
	}
	return -1
}

// propAt finds or adds property key of object node n (nil when n is nil
// or a bound is hit). It tries the index *guess first and keeps the index
// of key in *guess (guess may be nil).
func (t *schemaTree) propAt(n *schemaNode, key []byte, guess *uint8) *schemaNode {
	if n == nil {
		return nil
	}
	if guess != nil {
		if g := int(*guess); g < len(n.props) && n.props[g].name == string(key) {
			return n.props[g].n
		}
	}
	p, i := n.get(key)
	if p != nil {
		if guess != nil {
			*guess = uint8(i)
		}
		return p
	}
	if len(n.props) >= maxSchemaProps || t.nodes >= maxSchemaNodes || len(key) > maxPropName {
		t.cut++
		return nil
	}
	p = &schemaNode{}
	n.insert(i, t.names.internBytes(key), p)
	t.nodes++
	if guess != nil {
		*guess = uint8(i)
	}
	return p
}

func literal(b []byte, i int, word string, n *schemaNode, typ uint8) int {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		return -1
	}
	if n != nil {
		n.types |= typ
	}
	return i + len(word)
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		i += j
		// the quote ends the string unless an odd run of backslashes
		// escapes it (the run stops at the opening quote at the latest)
		k := i - 1
		for b[k] == '\\' {
			k--
		}
		if (i-1-k)%2 == 0 {
			return i + 1
		}
		i++
	}
	return -1
}

// skipSettled lets inference skip the format of strings whose node has
// settled on no format (tests turn it off to show that this changes no
// schema).
var skipSettled = true

// stringFormat recognises common formats of a JSON string value.
func stringFormat(s []byte) uint8 {
	n := len(s)
	switch {
	case n >= 10 && isDate(s):
		if n == 10 {
			return fDate
		}
		return fDateTime
	case n == 36 && isUUID(s):
		return fUUID
	case n > 3 && n < 255 && bytesIndex(s, '@') > 0 && bytesIndex(s, ' ') < 0 && bytesIndex(s, '.') > 0:
		return fEmail
	case n > 8 && (hasPrefix(s, "http://") || hasPrefix(s, "https://")):
		return fURI
	case n >= 7 && n <= 15 && isIPv4(s):
		return fIPv4
	}
	return fOther
}

// isUUID says whether classify takes a 36-byte value for a UUID (no
// string is made of it).
func isUUID(s []byte) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	// the dashes are in place; the 32 other bytes must be hex digits
	for i, c := range s {
		if !hexDigit[c] && i != 8 && i != 13 && i != 18 && i != 23 {
			return false
		}
	}
	return true
}

var hexDigit = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return
}()

func bytesIndex(s []byte, c byte) int { return bytes.IndexByte(s, c) }

func hasPrefix(s []byte, p string) bool { return len(s) >= len(p) && string(s[:len(p)]) == p }

func isIPv4(s []byte) bool {
	dots, digits := 0, 0
	for _, c := range s {
		switch {
		case c == '.':
			if digits == 0 {
				return false
			}
			dots, digits = dots+1, 0
		case c >= '0' && c <= '9':
			digits++
			if digits > 3 {
				return false
			}
		default:
			return false
		}
	}
	return dots == 3 && digits > 0
}

// merge adds o into n (both inferred independently); budget bounds the
// nodes added.
func (n *schemaNode) merge(o *schemaNode, budget *int) {
	n.types |= o.types
	n.formats |= o.formats
	n.seen += o.seen
	n.objects += o.objects
	for _, op := range o.props {
		p, i := n.get([]byte(op.name))
		if p == nil {
			if len(n.props) >= maxSchemaProps || *budget <= 0 {
				continue
			}
			p = &schemaNode{}
			n.insert(i, op.name, p)
			*budget--
		}
		p.merge(op.n, budget)
	}
	if o.items != nil {
		if n.items == nil {
			if *budget <= 0 {
				return
			}
			n.items = &schemaNode{}
			*budget--
		}
		n.items.merge(o.items, budget)
	}
}

func (t *schemaTree) merge(o *schemaTree) {
	budget := maxSchemaNodes - t.nodes
	t.root.merge(&o.root, &budget)
	t.nodes = maxSchemaNodes - budget
	t.cut += o.cut
}

// JSONSchema renders n as a JSON Schema (draft 2020-12, as OpenAPI 3.1
// uses it): types, formats, properties, items and required (present in
// every sample). "x-presence" gives each property's presence ratio.
func (n *schemaNode) JSONSchema() map[string]any {
	out := map[string]any{}
	var types []string
	for _, t := range typeNames {
		if n.types&t.bit != 0 {
			types = append(types, t.name)
		}
	}
	// an integer seen next to a number is a number
	if n.types&tNumber != 0 && n.types&tInteger != 0 {
		types = slicesDelete(types, "integer")
	}
	switch len(types) {
	case 0:
	case 1:
		out["type"] = types[0]
	default:
		out["type"] = types
	}
	if n.types&tString != 0 && n.formats != 0 && n.formats&fOther == 0 {
		for _, f := range formatNames {
			if n.formats == f.bit {
				out["format"] = f.name
			}
		}
	}
	if n.types&tObject != 0 && len(n.props) > 0 {
		props := map[string]any{}
		var req []string
		for _, pp := range n.props {
			k, p := pp.name, pp.n
			ps := p.JSONSchema()
			if n.objects > 0 {
				ratio := float64(p.seen) / float64(n.objects)
				if ratio >= 1 {
					req = append(req, k)
				} else {
					ps["x-presence"] = roundTo(ratio, 3)
				}
			}
			props[k] = ps
		}
		out["properties"] = props
		if len(req) > 0 {
			sort.Strings(req)
			out["required"] = req
		}
	}
	if n.types&tArray != 0 && n.items != nil && n.items.types != 0 {
		out["items"] = n.items.JSONSchema()
	}
	return out
}

func slicesDelete(s []string, v string) []string {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// IsJSON says whether a content type is JSON (application/json, +json):
// the bodies the catalog infers schemas from.
func IsJSON(ct string) bool { return isJSON(ct) }

// isJSON says whether a content type is JSON (application/json, +json).
func isJSON(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	return strings.EqualFold(ct, "application/json") || len(ct) > 5 && strings.EqualFold(ct[len(ct)-5:], "+json")
}

// clone copies a schema tree (a view's merged schema must not change the
// catalog's).
func (t *schemaTree) clone() *schemaTree {
	c := &schemaTree{nodes: t.nodes, cut: t.cut, names: t.names}
	c.root = *t.root.clone()
	return c
}

func (n *schemaNode) clone() *schemaNode {
	c := *n
	if n.props != nil {
		c.props = make([]schemaProp, len(n.props))
		for i, p := range n.props {
			c.props[i] = schemaProp{p.name, p.n.clone()}
		}
	}
	if n.items != nil {
		c.items = n.items.clone()
	}
	return &c
}

// shape collects hashes of the property paths of a schema (a.b, a[].c),
// up to max of them, for comparing the schemas of sibling endpoints.
func (n *schemaNode) shape(prefix uint64, depth int, out *[]uint32, max int) {
	if depth > 4 || len(*out) >= max {
		return
	}
	for _, p := range n.props {
		h := prefix
		for i := 0; i < len(p.name); i++ {
			h ^= uint64(p.name[i])
			h *= 1099511628211
		}
		h ^= '.'
		h *= 1099511628211
		if len(*out) >= max {
			return
		}
		*out = append(*out, uint32(fmix(h)))
		p.n.shape(h, depth+1, out, max)
	}
	if n.items != nil {
		n.items.shape(prefix*31+'[', depth+1, out, max)
	}
}
