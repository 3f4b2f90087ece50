package http2

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"

	"github.com/apitap/apitap/reassembly/grpc"
	"github.com/apitap/apitap/reassembly/http1"
)

// FuzzHPACK decodes arbitrary header blocks, in a fresh and in a late-join
// table, then a block x/net's encoder wrote: no panic, and a valid block
// after garbage still decodes to what x/net's decoder reads (in late-join
// mode: every field it resolves is right).
func FuzzHPACK(f *testing.F) {
	blocks, _ := encodedBlocks(1, 8, true)
	for _, b := range blocks {
		f.Add(b, b)
	}
	f.Add([]byte{0x3f, 0xe1, 0x1f}, []byte{0x82})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, []byte{0x40, 0x81, 0xff, 0x81, 0xff})
	f.Fuzz(func(t *testing.T, junk, block []byte) {
		var sc appender
		var out []Field
		for _, partial := range []bool{false, true} {
			var d decoder
			d.reset(partial)
			out, _ = d.block(junk, out, &sc, 0)
			for _, fl := range out {
				if fl.Known&NameKnown == 0 && fl.Name != "" || fl.Known&ValueKnown == 0 && fl.Value != "" {
					t.Fatalf("unknown halves carry text: %+v", fl)
				}
			}
			if d.size > uint32(maxTableSize)+64<<10 || d.n > len(d.ring) {
				t.Fatalf("table size %d, %d entries in %d slots", d.size, d.n, len(d.ring))
			}
		}
		// a fresh decoder agrees with x/net's on anything x/net accepts
		want, err := hpack.NewDecoder(4096, nil).DecodeFull(block)
		if err != nil {
			return
		}
		var d decoder
		d.reset(false)
		got, err := d.block(block, out, &sc, 0)
		if err != nil || len(got) != len(want) {
			t.Fatalf("x/net decodes %d fields, we %d (%v)", len(want), len(got), err)
		}
		for i := range got {
			if got[i].Name != want[i].Name || got[i].Value != want[i].Value {
				t.Fatalf("field %d: %q=%q, x/net %q=%q", i, got[i].Name, got[i].Value, want[i].Name, want[i].Value)
			}
		}
	})
}

// FuzzConn feeds arbitrary bytes to a Conn as two directions in pieces,
// with gaps, from every start: no panic, every reported exchange is
// consistent, and every byte charged to the budget is given back.
func FuzzConn(f *testing.F) {
	small := basicConv()
	small.parts = small.parts[:len(small.parts)-2] // without the 40 KB body: seeds stay small
	for _, v := range []*conv{small} {
		var a, b []byte
		for _, p := range v.parts {
			if p.fromClient {
				a = append(a, p.b...)
			} else {
				b = append(b, p.b...)
			}
		}
		f.Add(a, b, uint8(0), uint16(700))
		f.Add(a, b, uint8(3), uint16(13))
		f.Add(a[30:], b[50:], uint8(3), uint16(1448))
	}
	f.Add([]byte(Preface+"\x00\x00\x04\x01\x05\x00\x00\x00\x01\x82\x86\x84\x41"), []byte("\x00\x00\x01\x01\x05\x00\x00\x00\x01\x88"), uint8(0), uint16(5))
	f.Fuzz(func(t *testing.T, a, b []byte, start uint8, split uint16) {
		if len(a)+len(b) > 16<<10 {
			return // larger inputs only slow the fuzzer down
		}
		lim := http1.Limits{MaxHeaderBytes: 4096, MaxBodyBytes: 2048, Budget: &http1.Budget{Max: 1 << 20}}.WithDefaults()
		env := &Env{Limits: &lim, Stats: &Stats{}, GRPC: &grpc.Decoder{}}
		n := 0
		c := NewConn(env, func(ex *Exchange) {
			n++
			if ex.Request == nil && ex.Response == nil {
				t.Fatal("an exchange without request and response")
			}
			for _, m := range [][]byte{bodyOf(ex.Request), bodyOf(ex.Response)} {
				if len(m) > lim.MaxBodyBytes {
					t.Fatalf("body of %d bytes kept, bound %d", len(m), lim.MaxBodyBytes)
				}
			}
		})
		how := Start(start % uint8(numStarts))
		c.Start(how, http1.DirA, how != StartMidStream, http1.DirA)
		step := max(1, int(split))
		ts := time.Unix(0, 0)
		for i := 0; len(a) > 0 || len(b) > 0; i++ {
			for d, p := range []*[]byte{&a, &b} {
				k := min(len(*p), step)
				if k == 0 {
					continue
				}
				if i%7 == 6 && k > 1 {
					c.Gap(http1.Dir(d), k/2, ts) // lose half of the piece
					*p = (*p)[k/2:]
					k -= k / 2
				}
				c.Data(http1.Dir(d), (*p)[:k], ts, ts)
				*p = (*p)[k:]
			}
		}
		held := int64(c.half[0].held + c.half[1].held)
		for _, s := range c.streams {
			held += int64(s.held)
		}
		if lim.Budget.Used != held || held < 0 {
			t.Fatalf("budget says %d bytes are held, the connection %d", lim.Budget.Used, held)
		}
		c.Close(ts)
		c.Reset(env, nil)
		if lim.Budget.Used != 0 {
			t.Fatalf("%d bytes still charged to the budget after Reset", lim.Budget.Used)
		}
		if uint64(n) != env.Stats.Streams {
			t.Fatalf("%d exchanges, stats say %d", n, env.Stats.Streams)
		}
	})
}

func bodyOf(m any) []byte {
	switch x := m.(type) {
	case *http1.Request:
		if x != nil {
			return x.Body.Bytes()
		}
	case *http1.Response:
		if x != nil {
			return x.Body.Bytes()
		}
	}
	return nil
}

// TestFindFramesRejectsText: HTTP/1.x and TLS bytes are never taken for
// frames.
func TestFindFramesRejectsText(t *testing.T) {
	for _, b := range [][]byte{
		[]byte("GET /v1/users HTTP/1.1\r\nHost: a\r\n\r\n"),
		[]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"),
		bytes.Repeat([]byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 40),
		bytes.Repeat([]byte{0}, 64),
	} {
		if off, ok, _ := Detect(b, nil); ok {
			t.Errorf("%q: frames found at %d", b[:min(len(b), 20)], off)
		}
	}
}
