package protomsg

import (
	"encoding/base64"
	"slices"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// MaxDepth bounds the nesting of messages decoded without a schema; deeper
// length-delimited values are rendered as bytes.
const MaxDepth = 16

// Wire decodes messages without a schema. It keeps scratch space between
// calls; not safe for concurrent use.
type Wire struct {
	fields []field // a stack: each message's fields, nested ones after them
}

// field is one field of a message being rendered.
type field struct {
	num        protowire.Number
	typ        protowire.Type
	start, end int // the value's bytes (without the tag)
}

// AppendWire appends msg, a serialized message, as a JSON object keyed by
// field number to dst. Repeated fields become arrays; keys are in field
// number order. It reports false (and appends nothing) when msg does not
// parse as a message. The output is at most max bytes longer than dst
// (max <= 0: unbounded); longer output is cut at the last complete field
// and reported by cut (with max < 2 nothing fits: nothing is appended).
func (w *Wire) AppendWire(dst, msg []byte, max int) (out []byte, ok, cut bool) {
	limit := -1
	if max > 0 {
		if max < 2 {
			return dst, true, true // not even room for {}
		}
		limit = len(dst) + max
	}
	w.fields = w.fields[:0]
	if !w.parse(msg) {
		return dst, false, false
	}
	out, cut = w.appendMessage(dst, msg, 0, len(w.fields), 0, limit)
	return out, true, cut
}

// parse appends msg's fields to w.fields and reports whether msg is a
// well-formed message (groups are refused: proto3 has none, and a byte
// string rarely parses as one).
func (w *Wire) parse(msg []byte) bool {
	base := len(w.fields)
	for off := 0; off < len(msg); {
		num, typ, n := protowire.ConsumeTag(msg[off:])
		if n < 0 || num < 1 || num > protowire.MaxValidNumber {
			w.fields = w.fields[:base]
			return false
		}
		off += n
		var m int
		switch typ {
		case protowire.VarintType:
			_, m = protowire.ConsumeVarint(msg[off:])
		case protowire.Fixed32Type:
			_, m = protowire.ConsumeFixed32(msg[off:])
		case protowire.Fixed64Type:
			_, m = protowire.ConsumeFixed64(msg[off:])
		case protowire.BytesType:
			_, m = protowire.ConsumeBytes(msg[off:])
		default:
			m = -1
		}
		if m < 0 {
			w.fields = w.fields[:base]
			return false
		}
		w.fields = append(w.fields, field{num: num, typ: typ, start: off, end: off + m})
		off += m
	}
	return true
}

// appendMessage renders the fields w.fields[lo:hi] of msg.
func (w *Wire) appendMessage(dst, msg []byte, lo, hi, depth, limit int) ([]byte, bool) {
	fs := w.fields[lo:hi]
	slices.SortStableFunc(fs, func(a, b field) int { return int(a.num) - int(b.num) })
	dst = append(dst, '{')
	for i := 0; i < hi-lo; {
		f := w.fields[lo+i]
		j := i + 1
		for j < hi-lo && w.fields[lo+j].num == f.num {
			j++
		}
		mark := len(dst)
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, int64(f.num), 10)
		dst = append(dst, '"', ':')
		if j-i > 1 {
			dst = append(dst, '[')
		}
		closers := 1 // this message's '}', and ']' after an array
		if j-i > 1 {
			closers = 2
		}
		inner := limit
		if limit >= 0 {
			inner = limit - closers
		}
		for k := i; k < j; k++ {
			if k > i {
				dst = append(dst, ',')
			}
			var cut bool
			dst, cut = w.appendValue(dst, msg, lo+k, depth, inner)
			if cut || limit >= 0 && len(dst)+closers > limit {
				return append(dst[:mark], '}'), true
			}
		}
		if j-i > 1 {
			dst = append(dst, ']')
		}
		i = j
	}
	return append(dst, '}'), false
}

// appendValue renders field k of the current message.
func (w *Wire) appendValue(dst, msg []byte, k, depth, limit int) ([]byte, bool) {
	f := w.fields[k]
	b := msg[f.start:f.end]
	switch f.typ {
	case protowire.VarintType:
		v, _ := protowire.ConsumeVarint(b)
		return strconv.AppendUint(dst, v, 10), false
	case protowire.Fixed32Type:
		v, _ := protowire.ConsumeFixed32(b)
		return strconv.AppendUint(dst, uint64(v), 10), false
	case protowire.Fixed64Type:
		v, _ := protowire.ConsumeFixed64(b)
		return strconv.AppendUint(dst, v, 10), false
	}
	v, _ := protowire.ConsumeBytes(b)
	// A length-delimited value: a message when it parses as one and starts
	// with a control byte (tags of low field numbers are 0x08..0x1d, which
	// text never starts with), else text when it is printable UTF-8, else
	// a message when it parses, else bytes.
	if depth < MaxDepth && len(v) > 0 {
		if (v[0] < 0x20 || !printable(v)) && w.nested(v) {
			lo := len(w.fields)
			w.parse(v)
			out, cut := w.appendMessage(dst, v, lo, len(w.fields), depth+1, limit)
			w.fields = w.fields[:lo]
			return out, cut
		}
	}
	if printable(v) {
		return appendJSONString(dst, v), false
	}
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, v)
	return append(dst, '"'), false
}

// nested reports whether v parses as a message (without keeping its fields).
func (w *Wire) nested(v []byte) bool {
	lo := len(w.fields)
	ok := w.parse(v)
	w.fields = w.fields[:lo]
	return ok
}

// printable reports whether b is valid UTF-8 without control characters
// other than tab, line feed and carriage return.
func printable(b []byte) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return false
		}
		i += n
	}
	return true
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends b as a JSON string (b is valid UTF-8).
func appendJSONString(dst, b []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i, c := range b {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, b[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, b[start:]...)
	return append(dst, '"')
}
