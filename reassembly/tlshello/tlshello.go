package tlshello

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
)

// Errors of Parse.
var (
	// ErrNotHello: the bytes are not a TLS handshake record with a
	// ClientHello (another protocol).
	ErrNotHello = errors.New("tlshello: not a TLS ClientHello")
	// ErrShort: a ClientHello starts here but is not complete yet; call
	// again with more bytes (up to MaxHello).
	ErrShort = errors.New("tlshello: ClientHello incomplete")
	// ErrMalformed: a ClientHello whose lengths do not add up.
	ErrMalformed = errors.New("tlshello: malformed ClientHello")
)

// MaxHello bounds the bytes a ClientHello may span (records included).
const MaxHello = 16 << 10

// Hello is what a ClientHello says about its client.
type Hello struct {
	Version    uint16   // legacy_version of the handshake
	Versions   []uint16 // supported_versions, in order
	Ciphers    []uint16 // cipher suites, in order (GREASE included)
	Extensions []uint16 // extension types, in order (GREASE included)
	SigAlgs    []uint16 // signature_algorithms, in order
	ALPN       []string // application protocols offered
	SNI        string   // server_name (host name), "" without one
}

// Looks says whether b starts like a TLS handshake record (cheap, for
// deciding whether to wait for more bytes).
func Looks(b []byte) bool {
	return len(b) >= 3 && b[0] == 22 && b[1] == 3 && b[2] <= 4
}

// Parse reads the ClientHello at the start of b, which may span several
// handshake records.
func Parse(b []byte) (*Hello, error) {
	if len(b) == 0 {
		return nil, ErrShort
	}
	if b[0] != 22 {
		return nil, ErrNotHello
	}
	if len(b) >= 3 && !Looks(b) {
		return nil, ErrNotHello
	}
	// join the handshake records' payloads
	var hs []byte
	rest := b
	need := -1
	for {
		if len(rest) < 5 {
			return nil, ErrShort
		}
		if rest[0] != 22 || rest[1] != 3 {
			if hs == nil {
				return nil, ErrNotHello
			}
			return nil, ErrMalformed
		}
		n := int(rest[3])<<8 | int(rest[4])
		if n == 0 || n > 1<<14+2048 {
			return nil, ErrMalformed
		}
		if len(rest) < 5+n {
			return nil, ErrShort
		}
		if hs == nil {
			hs = rest[5 : 5+n : 5+n]
		} else {
			hs = append(hs[:len(hs):len(hs)], rest[5:5+n]...)
		}
		rest = rest[5+n:]
		if need < 0 && len(hs) >= 4 {
			if hs[0] != 1 {
				return nil, ErrNotHello
			}
			need = 4 + (int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3]))
			if need > MaxHello {
				return nil, ErrMalformed
			}
		}
		if need >= 0 && len(hs) >= need {
			hs = hs[4:need]
			break
		}
		if len(b)-len(rest) > MaxHello {
			return nil, ErrMalformed
		}
	}
	return parseBody(hs)
}

// reader walks a ClientHello body.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) u8() int {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := int(r.b[0])
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() int {
	if len(r.b) < 2 {
		r.bad = true
		return 0
	}
	v := int(r.b[0])<<8 | int(r.b[1])
	r.b = r.b[2:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.bad = true
		r.b = nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func parseBody(body []byte) (*Hello, error) {
	r := &reader{b: body}
	h := &Hello{Version: uint16(r.u16())}
	r.bytes(32)     // random
	r.bytes(r.u8()) // session id
	cs := r.bytes(r.u16())
	r.bytes(r.u8()) // compression methods
	if r.bad || len(cs)%2 != 0 {
		return nil, ErrMalformed
	}
	for i := 0; i+1 < len(cs); i += 2 {
		h.Ciphers = append(h.Ciphers, uint16(cs[i])<<8|uint16(cs[i+1]))
	}
	if len(r.b) == 0 {
		return h, nil // no extensions (old clients)
	}
	exts := &reader{b: r.bytes(r.u16())}
	if r.bad {
		return nil, ErrMalformed
	}
	for len(exts.b) > 0 {
		typ := uint16(exts.u16())
		data := &reader{b: exts.bytes(exts.u16())}
		if exts.bad {
			return nil, ErrMalformed
		}
		h.Extensions = append(h.Extensions, typ)
		switch typ {
		case 0: // server_name
			list := &reader{b: data.bytes(data.u16())}
			for len(list.b) > 0 && !list.bad {
				kind := list.u8()
				name := list.bytes(list.u16())
				if kind == 0 && h.SNI == "" && !list.bad && len(name) <= 253 { // a DNS name, at most
					h.SNI = strings.ToLower(string(name))
				}
			}
		case 16: // application_layer_protocol_negotiation
			list := &reader{b: data.bytes(data.u16())}
			for len(list.b) > 0 && !list.bad {
				p := list.bytes(list.u8())
				if !list.bad && len(h.ALPN) < 16 {
					h.ALPN = append(h.ALPN, string(p))
				}
			}
		case 13: // signature_algorithms
			list := data.bytes(data.u16())
			for i := 0; i+1 < len(list); i += 2 {
				h.SigAlgs = append(h.SigAlgs, uint16(list[i])<<8|uint16(list[i+1]))
			}
		case 43: // supported_versions
			list := data.bytes(data.u8())
			for i := 0; i+1 < len(list); i += 2 {
				h.Versions = append(h.Versions, uint16(list[i])<<8|uint16(list[i+1]))
			}
		}
	}
	return h, nil
}

// grease says v is a GREASE value (RFC 8701): 0x?a?a with equal bytes.
func grease(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

func versionCode(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

func alnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// hash12 is the first 12 hex digits of the SHA-256 of the values as
// 4-digit hex, comma-separated, then "_" and tail the same way when tail
// is not empty; "000000000000" without values.
func hash12(vals, tail []uint16) string {
	if len(vals) == 0 {
		return "000000000000"
	}
	var buf [512]byte
	b := buf[:0]
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendHex4(b, v)
	}
	if len(tail) > 0 {
		b = append(b, '_')
		for i, v := range tail {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendHex4(b, v)
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

func appendHex4(b []byte, v uint16) []byte {
	const digits = "0123456789abcdef"
	return append(b, digits[v>>12], digits[v>>8&15], digits[v>>4&15], digits[v&15])
}

// JA4 is the hello's JA4 fingerprint (TLS over TCP).
func (h *Hello) JA4() string {
	var out [40]byte
	b := append(out[:0], 't')
	v := h.Version
	best := -1
	for _, x := range h.Versions {
		if !grease(x) && int(x) > best {
			best = int(x)
		}
	}
	if best >= 0 {
		v = uint16(best)
	}
	b = append(b, versionCode(v)...)
	if h.SNI != "" || contains(h.Extensions, 0) {
		b = append(b, 'd')
	} else {
		b = append(b, 'i')
	}
	var cb, eb [128]uint16
	ciphers, exts := cb[:0], eb[:0]
	for _, c := range h.Ciphers {
		if !grease(c) {
			ciphers = append(ciphers, c)
		}
	}
	nExt := 0
	for _, e := range h.Extensions {
		if grease(e) {
			continue
		}
		nExt++
		if e != 0 && e != 16 {
			exts = append(exts, e)
		}
	}
	var sb [64]uint16
	sigs := sb[:0]
	for _, a := range h.SigAlgs {
		if !grease(a) {
			sigs = append(sigs, a)
		}
	}
	two := func(b []byte, n int) []byte {
		n = min(n, 99)
		return append(b, byte('0'+n/10), byte('0'+n%10))
	}
	b = two(b, len(ciphers))
	b = two(b, nExt)
	if len(h.ALPN) > 0 && h.ALPN[0] != "" {
		p := h.ALPN[0]
		if alnum(p[0]) && alnum(p[len(p)-1]) {
			b = append(b, p[0], p[len(p)-1])
		} else {
			const digits = "0123456789abcdef"
			b = append(b, digits[p[0]>>4], digits[p[len(p)-1]&15])
		}
	} else {
		b = append(b, '0', '0')
	}
	slices.Sort(ciphers)
	slices.Sort(exts)
	b = append(b, '_')
	b = append(b, hash12(ciphers, nil)...)
	b = append(b, '_')
	if len(exts) == 0 {
		b = append(b, "000000000000"...)
	} else {
		b = append(b, hash12(exts, sigs)...)
	}
	return string(b)
}

func contains(s []uint16, v uint16) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
