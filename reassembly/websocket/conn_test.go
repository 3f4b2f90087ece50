package websocket

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

type got struct {
	client bool
	op     Opcode
	data   string
	code   uint16
	reason string
	comp   bool
	frags  int
	decErr bool
	trunc  bool
}

func run(t *testing.T, ext Extensions, joined bool, lim Limits, steps ...step) ([]got, *Stats) {
	t.Helper()
	var out []got
	st := &Stats{}
	var c Conn
	c.Reset(lim, st, func(m *Message) {
		out = append(out, got{client: m.FromClient, op: m.Opcode, data: string(m.Data), code: m.CloseCode, reason: m.CloseReason,
			comp: m.Compressed, frags: m.Fragments, decErr: m.DecodeError, trunc: m.Truncated})
	}, 0, ext, joined)
	ts := time.Unix(0, 0)
	for _, s := range steps {
		if s.gap {
			c.Gap(s.dir)
			continue
		}
		// byte by byte and whole: the same result
		c.Data(s.dir, []byte(s.b), ts, ts)
	}
	return out, st
}

type step struct {
	dir uint8
	b   string
	gap bool
}

func cli(b string) step { return step{dir: 0, b: b} }
func srv(b string) step { return step{dir: 1, b: b} }

// The examples of RFC 6455 (5.7) and RFC 7692 (7.2.3).
func TestRFCExamples(t *testing.T) {
	deflate := Extensions{Deflate: true}
	cases := []struct {
		name  string
		ext   Extensions
		steps []step
		want  []got
	}{
		{"unmasked text", Extensions{}, []step{srv("\x81\x05\x48\x65\x6c\x6c\x6f")}, []got{{op: OpText, data: "Hello", frags: 1}}},
		{"masked text", Extensions{}, []step{cli("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58")}, []got{{client: true, op: OpText, data: "Hello", frags: 1}}},
		{"fragmented", Extensions{}, []step{srv("\x01\x03\x48\x65\x6c"), srv("\x80\x02\x6c\x6f")}, []got{{op: OpText, data: "Hello", frags: 2}}},
		{"ping inside a fragmented message", Extensions{}, []step{srv("\x01\x03\x48\x65\x6c\x89\x05Hello\x80\x02\x6c\x6f")}, []got{{op: OpText, data: "Hello", frags: 2}}},
		{"binary 256 bytes", Extensions{}, []step{srv("\x82\x7e\x01\x00" + strings.Repeat("\x01", 256))}, []got{{op: OpBinary, data: strings.Repeat("\x01", 256), frags: 1}}},
		{"close with code", Extensions{}, []step{cli("\x88\x87\x00\x00\x00\x00\x03\xe8bye!!")}, []got{{client: true, op: OpClose, code: 1000, reason: "bye!!", frags: 1}}},
		{"close without code", Extensions{}, []step{srv("\x88\x00")}, []got{{op: OpClose, frags: 1}}},
		{"deflate", deflate, []step{srv("\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00")}, []got{{op: OpText, data: "Hello", comp: true, frags: 1}}},
		{"deflate context takeover", deflate, []step{srv("\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00"), srv("\xc1\x05\xf2\x00\x11\x00\x00")},
			[]got{{op: OpText, data: "Hello", comp: true, frags: 1}, {op: OpText, data: "Hello", comp: true, frags: 1}}},
		{"deflate fragmented", deflate, []step{srv("\x41\x03\xf2\x48\xcd"), srv("\x80\x04\xc9\xc9\x07\x00")}, []got{{op: OpText, data: "Hello", comp: true, frags: 2}}},
		{"deflate stored block", deflate, []step{srv("\xc1\x0b\x00\x05\x00\xfa\xffHello\x00")}, []got{{op: OpText, data: "Hello", comp: true, frags: 1}}},
		{"back reference without history", Extensions{Deflate: true, ServerNoContext: true}, []step{srv("\xc1\x05\xf2\x00\x11\x00\x00")}, []got{{op: OpText, comp: true, frags: 1, decErr: true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := run(t, tc.ext, false, Limits{}, tc.steps...)
			if fmt.Sprint(out) != fmt.Sprint(tc.want) {
				t.Errorf("got %+v\nwant %+v", out, tc.want)
			}
			// byte by byte
			var bb []step
			for _, s := range tc.steps {
				for i := range len(s.b) {
					bb = append(bb, step{dir: s.dir, b: s.b[i : i+1]})
				}
			}
			out, _ = run(t, tc.ext, false, Limits{}, bb...)
			if fmt.Sprint(out) != fmt.Sprint(tc.want) {
				t.Errorf("byte by byte: got %+v\nwant %+v", out, tc.want)
			}
		})
	}
}

func TestJoinedAndGaps(t *testing.T) {
	hello := "\x81\x05Hello"
	// joined in the middle of a frame: the rest of it, then two whole frames
	out, st := run(t, Extensions{}, true, Limits{}, srv("llo"+hello+hello))
	if len(out) != 2 || st.SkippedBytes != 3 {
		t.Errorf("joined: %+v skipped %d", out, st.SkippedBytes)
	}
	// a continuation first: its message is lost, the next one reported
	out, st = run(t, Extensions{}, true, Limits{}, srv("\x80\x02lo"+hello))
	if len(out) != 1 || st.LostMessages != 1 {
		t.Errorf("continuation first: %+v lost %d", out, st.LostMessages)
	}
	// a gap in the middle of a fragmented message
	out, st = run(t, Extensions{}, false, Limits{}, srv("\x01\x03Hel"), step{dir: 1, gap: true}, srv(hello))
	if len(out) != 1 || st.LostMessages != 1 {
		t.Errorf("gap: %+v lost %d", out, st.LostMessages)
	}
	// a broken header (RSV2): protocol error, hunt, the next frame
	out, st = run(t, Extensions{}, false, Limits{}, srv("\xa1\x05Hello"+hello+hello))
	if len(out) != 2 || st.ProtocolErrors != 1 {
		t.Errorf("broken: %+v errors %d", out, st.ProtocolErrors)
	}
	// a client frame without a mask is not valid
	if v, _ := Sniff([]byte(hello)); v != 1 {
		t.Error("server frame not sniffed")
	}
	if v, _ := Sniff([]byte(hello[:4])); v != 0 {
		t.Error("a frame cut by the end is not undecided")
	}
	if v, _ := Sniff([]byte("GET / HTTP/1.1\r\n\r\n")); v >= 0 {
		t.Error("HTTP sniffed as WebSocket")
	}
}

func TestBounds(t *testing.T) {
	big := bytes.Repeat([]byte("a"), 1000)
	frame := append([]byte{0x82, 0x7e, 0x03, 0xe8}, big...)
	out, st := run(t, Extensions{}, false, Limits{MaxMessageBytes: 100}, srv(string(frame)))
	if len(out) != 1 || len(out[0].data) != 100 || !out[0].trunc || st.TruncatedBytes != 900 {
		t.Errorf("bound: %d %+v", len(out), st)
	}
}

// TestMaxMessages: past Limits.MaxMessages a connection's messages (both
// directions, compressed ones and closes too) are parsed as frames only,
// counted as capped, not reported.
func TestMaxMessages(t *testing.T) {
	hello, deflated := "\x81\x05Hello", "\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00"
	steps := []step{srv(hello), cli("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), srv(hello), srv(deflated), srv(hello), srv(deflated), srv("\x88\x00")}
	for _, tc := range []struct{ max, reported, capped int }{{0, 7, 0}, {3, 3, 4}, {1, 1, 6}} {
		out, st := run(t, Extensions{Deflate: true}, false, Limits{MaxMessages: tc.max}, steps...)
		t.Logf("max_messages %d: %d reported, %d capped, %d frames, %d compressed inflated", tc.max, len(out), st.CappedMessages, st.Frames, st.Compressed)
		if len(out) != tc.reported || st.CappedMessages != uint64(tc.capped) || st.Messages != uint64(tc.reported) || st.Frames != 7 {
			t.Errorf("max %d: %d reported, stats %+v", tc.max, len(out), st)
		}
	}
	// a reset connection starts counting again
	var c Conn
	st := &Stats{}
	n := 0
	for range 2 {
		c.Reset(Limits{MaxMessages: 1}, st, func(*Message) { n++ }, 0, Extensions{}, false)
		c.Data(1, []byte(hello+hello), time.Unix(0, 0), time.Unix(0, 0))
	}
	if n != 2 || st.CappedMessages != 2 {
		t.Errorf("after a reset: %d reported, %d capped", n, st.CappedMessages)
	}
}

func TestParseExtensions(t *testing.T) {
	e := ParseExtensions("x-foo, permessage-deflate; client_max_window_bits=15; server_no_context_takeover")
	if !e.Deflate || !e.ServerNoContext || e.ClientNoContext {
		t.Errorf("%+v", e)
	}
}

func FuzzFrames(f *testing.F) {
	f.Add([]byte("\x81\x05Hello\x01\x03Hel\x89\x00\x80\x02lo"), uint8(3), true)
	f.Add([]byte("\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00\xc1\x05\xf2\x00\x11\x00\x00"), uint8(1), false)
	f.Add([]byte("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58\x88\x82\x00\x00\x00\x00\x03\xe8"), uint8(0), true)
	f.Fuzz(func(t *testing.T, b []byte, split uint8, joined bool) {
		st := &Stats{}
		var c Conn
		n := 0
		c.Reset(Limits{MaxMessageBytes: 512}, st, func(m *Message) {
			n++
			if len(m.Data) > 512 {
				t.Fatalf("message of %d bytes kept", len(m.Data))
			}
		}, 0, Extensions{Deflate: true}, joined)
		ts := time.Unix(0, 0)
		k := int(split) % (len(b) + 1)
		c.Data(1, b[:k], ts, ts)
		c.Gap(0)
		c.Data(1, b[k:], ts, ts)
		c.Data(0, b, ts, ts)
		if uint64(n) != st.Messages {
			t.Fatalf("%d messages, counted %d", n, st.Messages)
		}
	})
}
