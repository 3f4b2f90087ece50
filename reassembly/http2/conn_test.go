package http2

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	xh2 "golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/apitap/apitap/reassembly/grpc"
	"github.com/apitap/apitap/reassembly/http1"
)

var t0 = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

// peer writes one side of a connection with x/net's Framer and HPACK
// encoder: the frames a real HTTP/2 implementation sends.
type peer struct {
	out   bytes.Buffer
	fr    *xh2.Framer
	hbuf  bytes.Buffer
	enc   *hpack.Encoder
	chunk int // header block fragment size (CONTINUATION beyond it)
}

func newPeer(client bool) *peer {
	p := &peer{chunk: 16384}
	if client {
		p.out.WriteString(Preface)
	}
	p.fr = xh2.NewFramer(&p.out, nil)
	p.enc = hpack.NewEncoder(&p.hbuf)
	p.fr.WriteSettings(xh2.Setting{ID: xh2.SettingMaxConcurrentStreams, Val: 100})
	return p
}

// take returns and clears what the peer wrote.
func (p *peer) take() []byte {
	b := append([]byte(nil), p.out.Bytes()...)
	p.out.Reset()
	return b
}

func (p *peer) block(kv ...string) []byte {
	p.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		p.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), p.hbuf.Bytes()...)
}

func (p *peer) headers(id uint32, end bool, kv ...string) {
	blk := p.block(kv...)
	first := blk[:min(len(blk), p.chunk)]
	rest := blk[len(first):]
	p.fr.WriteHeaders(xh2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: end, EndHeaders: len(rest) == 0})
	for len(rest) > 0 {
		n := min(len(rest), p.chunk)
		p.fr.WriteContinuation(id, n == len(rest), rest[:n])
		rest = rest[n:]
	}
}

func (p *peer) data(id uint32, end bool, b []byte) {
	for len(b) > 16384 {
		p.fr.WriteData(id, false, b[:16384])
		b = b[16384:]
	}
	p.fr.WriteData(id, end, b)
}

// conv is a scripted conversation: the bytes of each direction in the
// order they were sent.
type conv struct {
	parts []part
}

type part struct {
	fromClient bool
	b          []byte
}

func (v *conv) add(fromClient bool, b []byte) {
	if len(b) > 0 {
		v.parts = append(v.parts, part{fromClient, b})
	}
}

type result struct {
	method, path, host string
	status             int
	flags              http1.Flags
	info               Flags
	id                 uint32
	reqBody, respBody  string
	trailers           string
	grpc               *grpc.Call
	unresolved         int
	reqHeaders         string
}

func (r result) String() string {
	return fmt.Sprintf("%d %s %s %d", r.id, r.method, r.path, r.status)
}

// run feeds the conversation to a Conn, in pieces of at most split bytes
// (0: whole parts), and returns what it reported.
func run(t testing.TB, v *conv, start Start, split int, seed uint64) ([]result, *Stats) {
	st := &Stats{}
	lim := http1.Limits{}.WithDefaults()
	env := &Env{Limits: &lim, Stats: st, GRPC: &grpc.Decoder{}}
	var out []result
	c := NewConn(env, func(ex *Exchange) {
		r := result{flags: ex.Flags, info: ex.Stream.Flags, id: ex.Stream.ID, unresolved: ex.Stream.Unresolved}
		if q := ex.Request; q != nil {
			r.method, r.path, r.host, r.reqBody = q.Method, q.Path, q.Host, string(q.Body.Bytes())
			var hs []string
			for _, h := range q.Headers {
				hs = append(hs, h.Name+"="+h.Value)
			}
			r.reqHeaders = strings.Join(hs, ",")
		}
		if p := ex.Response; p != nil {
			r.status, r.respBody = p.Status, string(p.Body.Bytes())
		}
		var tr []string
		for _, h := range ex.Stream.ResponseTrailers {
			tr = append(tr, h.Name+"="+h.Value)
		}
		r.trailers = strings.Join(tr, ",")
		if ex.Stream.GRPC != nil {
			g := *ex.Stream.GRPC
			r.grpc = &g
		}
		out = append(out, r)
	})
	c.Start(start, http1.DirA, start != StartMidStream, http1.DirA)
	rng := rand.New(rand.NewPCG(seed, 1))
	ts := t0
	for _, p := range v.parts {
		d := http1.DirA
		if !p.fromClient {
			d = http1.DirB
		}
		for b := p.b; len(b) > 0; {
			n := len(b)
			if split > 0 {
				n = min(n, 1+rng.IntN(split))
			}
			ts = ts.Add(time.Millisecond)
			c.Data(d, b[:n], ts, ts)
			b = b[n:]
		}
	}
	c.Close(ts)
	return out, st
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// basicConv: GETs and a POST on interleaved streams, a gzip response, a
// 404, trailers, a large body split over DATA frames, long headers split
// over CONTINUATION frames.
func basicConv() *conv {
	cli, srv := newPeer(true), newPeer(false)
	v := &conv{}
	v.add(true, cli.take())
	v.add(false, srv.take())
	cli.headers(1, true, ":method", "GET", ":scheme", "http", ":authority", "api.example", ":path", "/v1/users/1?x=1", "user-agent", "test/1.0", "accept", "application/json")
	cli.headers(3, false, ":method", "POST", ":scheme", "http", ":authority", "api.example", ":path", "/v1/cart", "content-type", "application/json")
	v.add(true, cli.take())
	srv.headers(1, false, ":status", "200", "content-type", "application/json", "content-encoding", "gzip")
	srv.data(1, true, gz(`{"id":1,"email":"a@example.com"}`))
	v.add(false, srv.take())
	cli.data(3, true, []byte(`{"sku":"SKU-1","qty":2}`))
	v.add(true, cli.take())
	srv.headers(3, false, ":status", "201", "content-type", "application/json")
	srv.data(3, false, []byte(`{"cart_id":"c-1"}`))
	srv.headers(3, true, "x-trailer", "done")
	v.add(false, srv.take())
	cli.headers(5, true, ":method", "GET", ":scheme", "http", ":authority", "api.example", ":path", "/v1/missing")
	v.add(true, cli.take())
	srv.headers(5, true, ":status", "404")
	v.add(false, srv.take())
	big := strings.Repeat("x", 40000)
	cli.chunk = 10
	cli.headers(7, true, ":method", "GET", ":scheme", "http", ":authority", "api.example", ":path", "/v1/big", "x-long", strings.Repeat("y", 100))
	v.add(true, cli.take())
	srv.headers(7, false, ":status", "200")
	srv.data(7, true, []byte(big))
	v.add(false, srv.take())
	return v
}

func TestConnBasic(t *testing.T) {
	v := basicConv()
	want := []string{"1 GET /v1/users/1 200", "3 POST /v1/cart 201", "5 GET /v1/missing 404", "7 GET /v1/big 200"}
	for i, split := range []int{0, 1, 7, 100, 1448} {
		start := StartPreface
		if i%2 == 1 {
			start = StartALPN // the entry point for plaintext from TLS: the same bytes
		}
		got, st := run(t, v, start, split, uint64(split))
		var s []string
		for _, r := range got {
			s = append(s, r.String())
		}
		if strings.Join(s, ";") != strings.Join(want, ";") {
			t.Fatalf("split %d: got %v, want %v", split, s, want)
		}
		if got[0].respBody != `{"id":1,"email":"a@example.com"}` || got[0].host != "api.example" {
			t.Errorf("split %d: gzip body %q host %q", split, got[0].respBody, got[0].host)
		}
		if got[0].reqHeaders != "user-agent=test/1.0,accept=application/json" {
			t.Errorf("split %d: request headers %q", split, got[0].reqHeaders)
		}
		if got[1].reqBody != `{"sku":"SKU-1","qty":2}` || got[1].trailers != "x-trailer=done" {
			t.Errorf("split %d: POST body %q trailers %q", split, got[1].reqBody, got[1].trailers)
		}
		if len(got[3].respBody) != 40000 || got[3].flags != 0 {
			t.Errorf("split %d: big body %d bytes, flags %b", split, len(got[3].respBody), got[3].flags)
		}
		for _, r := range got {
			if r.flags != 0 || r.info != 0 {
				t.Errorf("split %d: stream %d flags %b/%b", split, r.id, r.flags, r.info)
			}
		}
		if st.Streams != 4 || st.FieldsUnresolved != 0 || st.FrameErrors != 0 || st.HPACKErrors != 0 {
			t.Errorf("split %d: stats %+v", split, st)
		}
	}
}

// TestConnResetRefusedPush covers RST_STREAM (cancel by the client,
// REFUSED_STREAM by the server), GOAWAY, server push, 1xx and padding.
func TestConnResetRefusedPush(t *testing.T) {
	cli, srv := newPeer(true), newPeer(false)
	v := &conv{}
	v.add(true, cli.take())
	v.add(false, srv.take())
	get := func(id uint32, path string) {
		cli.headers(id, true, ":method", "GET", ":scheme", "http", ":authority", "a.example", ":path", path)
	}
	get(1, "/cancelled")
	cli.fr.WriteRSTStream(1, xh2.ErrCodeCancel)
	get(3, "/refused")
	v.add(true, cli.take())
	srv.fr.WriteRSTStream(3, xh2.ErrCodeRefusedStream)
	v.add(false, srv.take())
	get(5, "/page")
	v.add(true, cli.take())
	srv.hbuf.Reset()
	blk := srv.block(":method", "GET", ":scheme", "http", ":authority", "a.example", ":path", "/style.css")
	srv.fr.WritePushPromise(xh2.PushPromiseParam{StreamID: 5, PromiseID: 2, BlockFragment: blk, EndHeaders: true, PadLength: 3})
	srv.headers(5, false, ":status", "103", "link", "</style.css>; rel=preload")
	srv.headers(5, false, ":status", "200", "content-type", "text/html")
	srv.fr.WriteDataPadded(5, true, []byte("<html></html>"), []byte{0, 0, 0, 0})
	srv.headers(2, false, ":status", "200", "content-type", "text/css")
	srv.data(2, true, []byte("body{}"))
	v.add(false, srv.take())
	get(7, "/after")
	get(9, "/late")
	v.add(true, cli.take())
	srv.fr.WriteGoAway(7, xh2.ErrCodeNo, []byte("bye"))
	srv.headers(7, true, ":status", "204")
	v.add(false, srv.take())
	got, st := run(t, v, StartPreface, 0, 1)
	lines := map[uint32]result{}
	for _, r := range got {
		lines[r.id] = r
	}
	check := func(id uint32, path string, status int, info Flags, flags http1.Flags) {
		t.Helper()
		r, ok := lines[id]
		if !ok {
			t.Fatalf("stream %d not reported (got %v)", id, got)
		}
		if r.path != path || r.status != status || r.info != info || r.flags != flags {
			t.Errorf("stream %d: %s %d info %b flags %b; want %s %d %b %b", id, r.path, r.status, r.info, r.flags, path, status, info, flags)
		}
	}
	check(1, "/cancelled", 0, FlagReset, http1.FlagUnmatchedRequest)
	check(3, "/refused", 0, FlagReset|FlagRefused, http1.FlagUnmatchedRequest)
	check(5, "/page", 200, 0, 0)
	check(2, "/style.css", 200, FlagPush, 0)
	check(7, "/after", 204, 0, 0)
	check(9, "/late", 0, FlagRefused, http1.FlagUnmatchedRequest)
	if lines[5].respBody != "<html></html>" || lines[2].respBody != "body{}" {
		t.Errorf("bodies %q %q", lines[5].respBody, lines[2].respBody)
	}
	if st.Flags[0] != 2 || st.Flags[1] != 2 || st.Flags[2] != 1 {
		t.Errorf("flag counts %v", st.Flags)
	}
}

// grpcMsg frames one gRPC message.
func grpcMsg(b []byte, compressed bool) []byte {
	out := []byte{0, byte(len(b) >> 24), byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}
	if compressed {
		out[0] = 1
	}
	return append(out, b...)
}

func TestConnGRPC(t *testing.T) {
	cli, srv := newPeer(true), newPeer(false)
	v := &conv{}
	v.add(true, cli.take())
	v.add(false, srv.take())
	// field 1: string name, field 2: nested {1: card}
	msg := []byte{0x0a, 5, 'a', 'l', 'i', 'c', 'e', 0x12, 18, 0x0a, 16}
	msg = append(msg, "4111111111111111"...)
	req := func(id uint32, path string, extra ...string) {
		cli.headers(id, false, append([]string{":method", "POST", ":scheme", "http", ":authority", "grpc.example:50051", ":path", path,
			"content-type", "application/grpc", "te", "trailers"}, extra...)...)
	}
	req(1, "/shop.v1.Payments/Charge")
	cli.data(1, true, grpcMsg(msg, false))
	v.add(true, cli.take())
	srv.headers(1, false, ":status", "200", "content-type", "application/grpc")
	srv.data(1, false, grpcMsg([]byte{0x08, 0x96, 0x01}, false))
	srv.headers(1, true, "grpc-status", "0")
	v.add(false, srv.take())
	// server streaming, gzip-compressed messages
	req(3, "/shop.v1.Orders/Watch", "grpc-encoding", "gzip")
	cli.data(3, true, grpcMsg(gz(string(msg)), true))
	v.add(true, cli.take())
	srv.headers(3, false, ":status", "200", "content-type", "application/grpc+proto")
	for i := 0; i < 3; i++ {
		srv.data(3, false, grpcMsg([]byte{0x08, byte(i + 1)}, false))
	}
	srv.headers(3, true, "grpc-status", "5", "grpc-message", "order%20not%20found")
	v.add(false, srv.take())
	// trailers-only error
	req(5, "/shop.v1.Orders/Nope")
	cli.data(5, true, grpcMsg(nil, false))
	v.add(true, cli.take())
	srv.headers(5, true, ":status", "200", "content-type", "application/grpc", "grpc-status", "12", "grpc-message", "unknown method")
	v.add(false, srv.take())
	got, _ := run(t, v, StartPreface, 5, 9)
	if len(got) != 3 {
		t.Fatalf("%d streams: %v", len(got), got)
	}
	g := got[0].grpc
	if g == nil || g.Service != "shop.v1.Payments" || g.Method != "Charge" || g.Kind != grpc.Unary || g.Status != 0 || g.RequestMessages != 1 || g.ResponseMessages != 1 || g.Decoded != grpc.DecodedWire {
		t.Fatalf("unary call %+v", g)
	}
	if got[0].reqBody != `{"1":"alice","2":{"1":"4111111111111111"}}` || got[0].respBody != `{"1":150}` {
		t.Errorf("unary bodies %s / %s", got[0].reqBody, got[0].respBody)
	}
	g = got[1].grpc
	if g.Kind != grpc.ServerStreaming || g.ResponseMessages != 3 || g.Status != 5 || g.Message != "order not found" || g.Encoding != "gzip" {
		t.Errorf("streaming call %+v", g)
	}
	if got[1].reqBody != `{"1":"alice","2":{"1":"4111111111111111"}}` || got[1].respBody != `[{"1":1},{"1":2},{"1":3}]` {
		t.Errorf("streaming bodies %s / %s", got[1].reqBody, got[1].respBody)
	}
	g = got[2].grpc
	if g.Status != 12 || g.Message != "unknown method" || g.ResponseMessages != 0 {
		t.Errorf("trailers-only %+v", g)
	}
}

// TestConnMidStream cuts a long conversation at every kind of offset: no
// stream after the cut may be lost, and no value may resolve wrongly.
func TestConnMidStream(t *testing.T) {
	cli, srv := newPeer(true), newPeer(false)
	v := &conv{}
	v.add(true, cli.take())
	v.add(false, srv.take())
	const n = 60
	paths := map[uint32]string{}
	for i := 0; i < n; i++ {
		id := uint32(2*i + 1)
		path := fmt.Sprintf("/v1/items/%d", i%7)
		if i%3 == 0 {
			path = fmt.Sprintf("/v1/new/%d", i)
		}
		paths[id] = path
		cli.headers(id, false, ":method", "POST", ":scheme", "http", ":authority", "api.example", ":path", path, "content-type", "application/json")
		cli.data(id, true, []byte(`{"i":`+fmt.Sprint(i)+`}`))
		v.add(true, cli.take())
		srv.headers(id, false, ":status", "200", "content-type", "application/json")
		srv.data(id, true, []byte(strings.Repeat("r", 200+i*50)))
		v.add(false, srv.take())
	}
	// the whole conversation as one stream per direction, cut at a byte
	// offset of the client side (and the server side at the matching
	// part)
	for cut := 1; cut < len(v.parts); cut += 3 {
		for _, skew := range []int{0, 1, 5, 13} {
			w := &conv{}
			for i, p := range v.parts[cut:] {
				b := p.b
				if i < 2 && skew < len(b) {
					b = b[skew:] // start inside a frame
				}
				w.add(p.fromClient, b)
			}
			got, st := run(t, w, StartMidStream, 1448, uint64(cut))
			seen := map[uint32]bool{}
			for _, r := range got {
				seen[r.id] = true
				if r.path != "" && r.path != paths[r.id] {
					t.Fatalf("cut %d skew %d: stream %d resolved path %q, truth %q", cut, skew, r.id, r.path, paths[r.id])
				}
			}
			// every stream whose request starts after the first two parts
			first := uint32(cut/2*2 + 1 + 4)
			for id := first; id < 2*n; id += 2 {
				if !seen[id] {
					t.Fatalf("cut %d skew %d: stream %d not reported (%d reported, stats %+v)", cut, skew, id, len(got), st)
				}
			}
		}
	}
}

func TestConnMidStreamResolution(t *testing.T) {
	cli, srv := newPeer(true), newPeer(false)
	v := &conv{}
	v.add(true, cli.take())
	v.add(false, srv.take())
	for i := 0; i < 60; i++ {
		id := uint32(2*i + 1)
		path := fmt.Sprintf("/v1/items/%d", i%7)
		if i%3 == 0 {
			path = fmt.Sprintf("/v1/new/%d", i)
		}
		cli.headers(id, false, ":method", "POST", ":scheme", "http", ":authority", "api.example", ":path", path, "content-type", "application/json")
		cli.data(id, true, []byte(`{"i":`+fmt.Sprint(i)+`}`))
		v.add(true, cli.take())
		srv.headers(id, false, ":status", "200", "content-type", "application/json")
		srv.data(id, true, []byte(strings.Repeat("r", 200+i*50)))
		v.add(false, srv.take())
	}
	w := &conv{parts: v.parts[30:]}
	got, st := run(t, w, StartMidStream, 1448, 3)
	for _, r := range got {
		t.Logf("%d %q %q %d flags %b info %b unresolved %d host %q", r.id, r.method, r.path, r.status, r.flags, r.info, r.unresolved, r.host)
	}
	t.Logf("%+v", st)
}

// TestConnBudgetSteady: a long connection gives back what it held for
// each frame and stream (a small budget is never exhausted).
func TestConnBudgetSteady(t *testing.T) {
	cli, srv := newPeer(true), newPeer(false)
	v := &conv{}
	v.add(true, cli.take())
	v.add(false, srv.take())
	cli.chunk = 20 // CONTINUATION frames: header blocks collected in buffers
	for i := 0; i < 2000; i++ {
		id := uint32(2*i + 1)
		cli.headers(id, false, ":method", "POST", ":scheme", "http", ":authority", "a.example", ":path", fmt.Sprintf("/v1/items/%d", i), "x-pad", strings.Repeat("p", 100))
		cli.data(id, true, []byte(strings.Repeat("q", 3000)))
		v.add(true, cli.take())
		srv.headers(id, false, ":status", "200")
		srv.data(id, true, []byte(strings.Repeat("r", 3000)))
		v.add(false, srv.take())
	}
	budget := &http1.Budget{Max: 16 << 10}
	lim := http1.Limits{Budget: budget}.WithDefaults()
	env := &Env{Limits: &lim, Stats: &Stats{}, GRPC: &grpc.Decoder{}}
	n := 0
	c := NewConn(env, func(ex *Exchange) {
		n++
		if ex.Flags != 0 {
			t.Fatalf("stream %d: flags %b (budget used %d)", ex.Stream.ID, ex.Flags, budget.Used)
		}
	})
	c.Start(StartPreface, http1.DirA, true, http1.DirA)
	for _, p := range v.parts {
		d := http1.DirA
		if !p.fromClient {
			d = http1.DirB
		}
		for b := p.b; len(b) > 0; b = b[min(len(b), 50):] {
			c.Data(d, b[:min(len(b), 50)], t0, t0)
		}
	}
	if budget.Used != 0 { // every stream ended: nothing is held
		t.Fatalf("%d bytes still charged after the last stream", budget.Used)
	}
	c.Close(t0)
	if n != 2000 || budget.Denied != 0 || budget.Used != 0 {
		t.Fatalf("%d streams, budget denied %d, used %d", n, budget.Denied, budget.Used)
	}
}

// TestConnEarlyResponseNoError: a server may answer before the request
// has been sent whole and then ask the client, with RST_STREAM(NO_ERROR),
// to stop sending it (RFC 9113 section 8.1; nginx does so when it refuses
// a large upload). The exchange is complete, not reset; the request body
// is cut. RST_STREAM(NO_ERROR) before the response ended, or from the
// client, is still a reset.
func TestConnEarlyResponseNoError(t *testing.T) {
	cli, srv := newPeer(true), newPeer(false)
	v := &conv{}
	v.add(true, cli.take())
	v.add(false, srv.take())
	post := func(id uint32, path string) {
		cli.headers(id, false, ":method", "POST", ":scheme", "http", ":authority", "a.example", ":path", path, "content-length", "100000")
		cli.data(id, false, []byte("first part of a large upload"))
		v.add(true, cli.take())
	}
	post(1, "/upload")
	srv.headers(1, false, ":status", "413", "content-type", "text/plain")
	srv.data(1, true, []byte("too large"))
	srv.fr.WriteRSTStream(1, xh2.ErrCodeNo)
	v.add(false, srv.take())
	post(3, "/cut")
	srv.headers(3, false, ":status", "200")
	srv.fr.WriteRSTStream(3, xh2.ErrCodeNo) // the response did not end
	v.add(false, srv.take())
	post(5, "/cancelled")
	cli.fr.WriteRSTStream(5, xh2.ErrCodeNo)
	v.add(true, cli.take())
	got, _ := run(t, v, StartPreface, 0, 1)
	lines := map[uint32]result{}
	for _, r := range got {
		lines[r.id] = r
	}
	if r := lines[1]; r.path != "/upload" || r.status != 413 || r.info&FlagReset != 0 || r.respBody != "too large" || r.flags&http1.FlagTruncated == 0 {
		t.Errorf("early answer: %v info %b flags %b body %q: want 413, no reset, the request cut", r, r.info, r.flags, r.respBody)
	}
	if r := lines[3]; r.info&FlagReset == 0 {
		t.Errorf("RST_STREAM(NO_ERROR) before the response ended: %v info %b, want a reset", r, r.info)
	}
	if r := lines[5]; r.info&FlagReset == 0 {
		t.Errorf("RST_STREAM(NO_ERROR) from the client: %v info %b, want a reset", r, r.info)
	}
}
