package tlshello

import (
	"strings"
	"testing"
)

// hello builds a ClientHello record (one record, or split in two).
type helloSpec struct {
	ciphers, exts, sigs, versions []uint16
	sni                           string
	alpn                          []string
}

func u16(b []byte, v int) []byte { return append(b, byte(v>>8), byte(v)) }

func (s helloSpec) bytes(split bool) []byte {
	var body []byte
	body = u16(body, 0x0303)
	body = append(body, make([]byte, 32)...)
	body = append(body, 0) // session id
	body = u16(body, 2*len(s.ciphers))
	for _, c := range s.ciphers {
		body = u16(body, int(c))
	}
	body = append(body, 1, 0) // compression: null
	var exts []byte
	for _, e := range s.exts {
		var data []byte
		switch e {
		case 0:
			var list []byte
			list = append(list, 0)
			list = u16(list, len(s.sni))
			list = append(list, s.sni...)
			data = u16(data, len(list))
			data = append(data, list...)
		case 16:
			var list []byte
			for _, p := range s.alpn {
				list = append(list, byte(len(p)))
				list = append(list, p...)
			}
			data = u16(data, len(list))
			data = append(data, list...)
		case 13:
			data = u16(data, 2*len(s.sigs))
			for _, a := range s.sigs {
				data = u16(data, int(a))
			}
		case 43:
			data = append(data, byte(2*len(s.versions)))
			for _, v := range s.versions {
				data = u16(data, int(v))
			}
		}
		exts = u16(exts, int(e))
		exts = u16(exts, len(data))
		exts = append(exts, data...)
	}
	body = u16(body, len(exts))
	body = append(body, exts...)
	hs := []byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	hs = append(hs, body...)
	record := func(p []byte) []byte {
		r := []byte{22, 3, 1}
		r = u16(r, len(p))
		return append(r, p...)
	}
	if split {
		half := len(hs) / 2
		return append(record(hs[:half]), record(hs[half:])...)
	}
	return record(hs)
}

// chrome is the JA4 specification's example: its fingerprint is
// t13d1516h2_8daaf6152771_e5627efa2ab1. GREASE values are mixed in, and
// the lists are not sorted, as a browser sends them.
var chrome = helloSpec{
	ciphers: []uint16{0x4a4a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035},
	exts: []uint16{0x0a0a, 0x0000, 0x0017, 0xff01, 0x000a, 0x000b, 0x0023, 0x0010, 0x0005, 0x000d, 0x0012, 0x0033, 0x002d, 0x002b, 0x001b, 0x4469,
		0x0015, 0x3a3a},
	sigs:     []uint16{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601},
	versions: []uint16{0x2a2a, 0x0304, 0x0303},
	sni:      "WWW.Example.com",
	alpn:     []string{"h2", "http/1.1"},
}

func TestJA4SpecExample(t *testing.T) {
	for _, split := range []bool{false, true} {
		h, err := Parse(chrome.bytes(split))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := h.JA4(), "t13d1516h2_8daaf6152771_e5627efa2ab1"; got != want {
			t.Errorf("split %v: JA4 %s, want %s", split, got, want)
		}
		if h.SNI != "www.example.com" || len(h.ALPN) != 2 || h.ALPN[1] != "http/1.1" {
			t.Errorf("SNI %q ALPN %q", h.SNI, h.ALPN)
		}
	}
}

func TestJA4Variants(t *testing.T) {
	cases := []struct {
		name string
		spec helloSpec
		want string // prefix (the a part) or the whole fingerprint
	}{
		{"no sni, no alpn, tls 1.2", helloSpec{ciphers: []uint16{0xc02f, 0x002f}, exts: []uint16{0x000d}, sigs: []uint16{0x0401}}, "t12i020100_"},
		{"no extensions at all", helloSpec{ciphers: []uint16{0x002f}}, "t12i010000_"},
		{"alpn not alphanumeric", helloSpec{ciphers: []uint16{0x1301}, exts: []uint16{0x0010, 0x002b}, alpn: []string{"\x00ab\xff"}, versions: []uint16{0x0304}}, "t13i01020f_"},
		{"no ciphers", helloSpec{exts: []uint16{0x000a}}, "t12i000100_000000000000_"},
	}
	for _, c := range cases {
		h, err := Parse(c.spec.bytes(false))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := h.JA4(); !strings.HasPrefix(got, c.want) || len(got) != 36 && len(got) != 37 {
			t.Errorf("%s: %s, want %s...", c.name, got, c.want)
		}
	}
}

// TestPrefixes: every prefix of a hello is short, never wrong.
func TestPrefixes(t *testing.T) {
	whole := chrome.bytes(true)
	for i := 0; i < len(whole); i++ {
		if _, err := Parse(whole[:i]); err != ErrShort {
			t.Fatalf("prefix of %d bytes: %v, want ErrShort", i, err)
		}
	}
}

func TestNotHello(t *testing.T) {
	for _, b := range [][]byte{[]byte("GET / HTTP/1.1\r\n"), {22, 3, 3, 0, 5, 2, 0, 0, 1, 0}, {23, 3, 3, 0, 1, 0}, {22, 9, 9}} {
		if _, err := Parse(b); err != ErrNotHello {
			t.Errorf("%q: %v, want ErrNotHello", b, err)
		}
	}
	if _, err := Parse([]byte{22, 3, 1, 0, 0}); err != ErrMalformed {
		t.Errorf("empty record: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(chrome.bytes(false))
	f.Add(chrome.bytes(true))
	f.Add([]byte{22, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(b)
		if err == nil {
			_ = h.JA4()
		}
	})
}

func BenchmarkParseJA4(b *testing.B) {
	raw := chrome.bytes(false)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for i := 0; i < b.N; i++ {
		h, err := Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		_ = h.JA4()
	}
}
