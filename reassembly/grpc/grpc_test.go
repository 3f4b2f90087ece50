package grpc

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"testing"

	"github.com/apitap/apitap/reassembly/http1"
)

func frame(msg []byte, gz bool) []byte {
	flag := byte(0)
	if gz {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(msg)
		w.Close()
		msg, flag = b.Bytes(), 1
	}
	n := len(msg)
	return append([]byte{flag, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, msg...)
}

func TestFramerCountsAcrossPieces(t *testing.T) {
	body := append(frame([]byte{0x08, 0x01}, false), frame(bytes.Repeat([]byte{0x08, 0x02}, 300), true)...)
	body = append(body, frame(nil, false)...)
	for _, step := range []int{1, 3, 7, 1000} {
		var f Framer
		for b := body; len(b) > 0; b = b[min(step, len(b)):] {
			f.Feed(b[:min(step, len(b))])
		}
		if f.Messages != 3 || f.Compressed != 1 || !f.Clean() {
			t.Fatalf("step %d: %+v", step, f)
		}
	}
	var f Framer
	f.Feed([]byte{7, 0, 0, 0, 1, 0})
	if !f.Broken || f.Clean() {
		t.Fatalf("a bad flag: %+v", f)
	}
}

func TestRenderAndFinish(t *testing.T) {
	lim := http1.Limits{}.WithDefaults()
	var d Decoder
	var call Call
	d.Begin(&call, "/shop.v1.Orders/Watch")
	if call.Service != "shop.v1.Orders" || call.Method != "Watch" || call.Status != -1 {
		t.Fatalf("%+v", call)
	}
	hs := []http1.Header{{Name: "grpc-encoding", Value: "gzip"}}
	raw := append(frame([]byte{0x08, 0x01}, true), frame([]byte{0x08, 0x02}, false)...)
	out, ok := d.Render(nil, &call, &Message{Raw: raw, Headers: hs}, nil, false, &lim)
	if !ok || string(out) != `[{"1":1},{"1":2}]` || call.Encoding != "gzip" || call.Decoded != DecodedWire {
		t.Fatalf("%s %v %+v", out, ok, call)
	}
	// a message cut by the body bound: rendered up to it, not complete
	out, ok = d.Render(out, &call, &Message{Raw: raw[:len(raw)-1], Truncated: true}, nil, false, &lim)
	if ok || string(out) != `{"1":1}` && string(out) != "" {
		t.Fatalf("cut: %s %v", out, ok)
	}
	var req, resp Framer
	req.Feed(frame(nil, false))
	resp.Feed(raw)
	d.Finish(&call, &req, &resp, nil, []http1.Header{{Name: "grpc-status", Value: "14"}, {Name: "grpc-message", Value: "upstream%20down"}})
	if call.Kind != ServerStreaming || call.Status != 14 || call.Message != "upstream down" || StatusName(call.Status) != "UNAVAILABLE" {
		t.Fatalf("%+v", call)
	}
}

func TestIsGRPC(t *testing.T) {
	for ct, want := range map[string]bool{"application/grpc": true, "application/grpc+proto": true, "Application/GRPC; charset=x": true,
		"application/grpc-web": false, "application/json": false, "": false} {
		if IsGRPC(ct) != want {
			t.Errorf("%q: %v", ct, !want)
		}
	}
}

// FuzzRender renders arbitrary bodies: valid JSON, within the bound.
func FuzzRender(f *testing.F) {
	f.Add(append(frame([]byte{0x0a, 0x02, 'h', 'i'}, false), frame([]byte{0x08, 0x05}, true)...), true)
	f.Add([]byte{1, 0, 0, 0, 3, 1, 2, 3}, false)
	f.Fuzz(func(t *testing.T, raw []byte, gz bool) {
		lim := http1.Limits{MaxBodyBytes: 512}.WithDefaults()
		var d Decoder
		var call Call
		d.Begin(&call, "/a.B/C")
		var hs []http1.Header
		if gz {
			hs = []http1.Header{{Name: "grpc-encoding", Value: "gzip"}}
		}
		out, _ := d.Render(nil, &call, &Message{Raw: raw, Headers: hs}, nil, true, &lim)
		if len(out) > 0 && !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
		if len(out) > lim.MaxBodyBytes {
			t.Fatalf("%d bytes, bound %d", len(out), lim.MaxBodyBytes)
		}
		var fr Framer
		fr.Feed(raw)
	})
}
