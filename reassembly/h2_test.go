package reassembly

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	xh2 "golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/reassembly/http2"
)

// h2peer writes frames as a real HTTP/2 implementation does (x/net).
type h2peer struct {
	out  bytes.Buffer
	fr   *xh2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
}

func newH2Peer(preface bool) *h2peer {
	p := &h2peer{}
	if preface {
		p.out.WriteString(http2.Preface)
	}
	p.fr = xh2.NewFramer(&p.out, nil)
	p.enc = hpack.NewEncoder(&p.hbuf)
	p.fr.WriteSettings()
	return p
}

func (p *h2peer) take() string {
	s := p.out.String()
	p.out.Reset()
	return s
}

func (p *h2peer) headers(id uint32, end bool, kv ...string) {
	p.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		p.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	p.fr.WriteHeaders(xh2.HeadersFrameParam{StreamID: id, BlockFragment: p.hbuf.Bytes(), EndStream: end, EndHeaders: true})
}

type h2rec struct {
	proto  Protocol
	method string
	path   string
	status int
	id     uint32
	flags  http1.Flags
	seq    int
	client string
	// the flow as HTTP/1.x transactions carry it: the server answered, the
	// handshake was seen, the stage-one analyzers' per-connection state
	confirmed, handshake, state bool
}

func collectH2(out *[]h2rec) Handler {
	return func(tx *Transaction) {
		r := h2rec{proto: tx.Protocol, flags: tx.Flags, seq: tx.Seq, client: tx.Flow.Client.String(),
			confirmed: tx.Flow.Confirmed, handshake: tx.Flow.Handshake, state: tx.Flow.State != nil}
		if tx.H2 != nil {
			r.id = tx.H2.ID
		}
		if tx.Request != nil {
			r.method, r.path = tx.Request.Method, tx.Request.Path
		}
		if tx.Response != nil {
			r.status = tx.Response.Status
		}
		*out = append(*out, r)
	}
}

// h2Exchanges builds n request/response exchanges on streams 1, 3, ...
func h2Exchanges(cli, srv *h2peer, c *conn, first uint32, n int) []seg {
	var segs []seg
	for i := 0; i < n; i++ {
		id := first + uint32(2*i)
		cli.headers(id, true, ":method", "GET", ":scheme", "http", ":authority", "api.example", ":path", fmt.Sprintf("/v1/items/%d", id))
		segs = append(segs, c.send(true, cli.take(), 1448)...)
		srv.headers(id, false, ":status", "200", "content-type", "application/json")
		srv.fr.WriteData(id, true, []byte(`{"id":`+fmt.Sprint(id)+`,"pad":"`+strings.Repeat("x", 2000)+`"}`))
		segs = append(segs, c.send(false, srv.take(), 1448)...)
	}
	return segs
}

func TestWorkerH2Preface(t *testing.T) {
	for _, serverFirst := range []bool{false, true} {
		var got []h2rec
		w := NewWorker(Config{}, collectH2(&got))
		c := newConn(1)
		segs := c.handshake()
		cli, srv := newH2Peer(true), newH2Peer(false)
		if serverFirst { // the server's SETTINGS before the client's preface
			segs = append(segs, c.send(false, srv.take(), 1448)...)
			segs = append(segs, c.send(true, cli.take(), 1448)...)
		} else {
			segs = append(segs, c.send(true, cli.take(), 1448)...)
			segs = append(segs, c.send(false, srv.take(), 1448)...)
		}
		segs = append(segs, h2Exchanges(cli, srv, c, 1, 5)...)
		segs = append(segs, c.fin(true), c.fin(false))
		c.feed(w, segs...)
		w.Close()
		if len(got) != 5 {
			t.Fatalf("server first %v: %d transactions: %+v", serverFirst, len(got), got)
		}
		for i, r := range got {
			if r.proto != ProtoH2 || r.id != uint32(2*i+1) || r.path != fmt.Sprintf("/v1/items/%d", r.id) || r.status != 200 || r.flags != 0 || r.seq != i || r.client != c.cli.String() ||
				!r.confirmed || !r.handshake || !r.state {
				t.Errorf("server first %v: transaction %d: %+v", serverFirst, i, r)
			}
		}
		if w.Stats.HTTP2.Conns[http2.StartPreface] != 1 || w.Stats.Transactions != 5 || w.Stats.HTTP.Requests != 0 {
			t.Errorf("stats %+v", w.Stats)
		}
	}
}

// TestWorkerH2cUpgrade: an HTTP/1.1 request asks for h2c, the server
// answers 101 and its HTTP/2 frames in the same segment; the request is
// stream 1.
func TestWorkerH2cUpgrade(t *testing.T) {
	var got []h2rec
	w := NewWorker(Config{}, collectH2(&got))
	c := newConn(2)
	segs := c.handshake()
	segs = append(segs, c.send(true, "GET /v1/start HTTP/1.1\r\nHost: api.example\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", 1448)...)
	cli, srv := newH2Peer(true), newH2Peer(false)
	srv.headers(1, false, ":status", "200", "content-type", "text/plain")
	srv.fr.WriteData(1, true, []byte("hello"))
	segs = append(segs, c.send(false, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"+srv.take(), 1448)...)
	segs = append(segs, c.send(true, cli.take(), 1448)...)
	segs = append(segs, h2Exchanges(cli, srv, c, 3, 2)...)
	segs = append(segs, c.fin(true), c.fin(false))
	c.feed(w, segs...)
	w.Close()
	want := []string{"1 GET /v1/start 200", "3 GET /v1/items/3 200", "5 GET /v1/items/5 200"}
	var s []string
	for _, r := range got {
		if r.proto != ProtoH2 || r.flags != 0 {
			t.Errorf("%+v", r)
		}
		s = append(s, fmt.Sprintf("%d %s %s %d", r.id, r.method, r.path, r.status))
	}
	if strings.Join(s, ";") != strings.Join(want, ";") {
		t.Fatalf("got %v, want %v", s, want)
	}
	if w.Stats.HTTP2.Conns[http2.StartUpgrade] != 1 {
		t.Errorf("stats %+v", w.Stats.HTTP2)
	}
}

// TestWorkerH2MidStream joins an HTTP/2 connection after its handshake and
// preface: it is found by its frames and the exchanges after the join are
// reported; an HTTP/1.x connection joined mid-stream stays HTTP/1.x.
func TestWorkerH2MidStream(t *testing.T) {
	var got []h2rec
	w := NewWorker(Config{}, collectH2(&got))
	c := newConn(3)
	cli, srv := newH2Peer(true), newH2Peer(false)
	c.send(true, cli.take(), 1448) // not captured
	c.send(false, srv.take(), 1448)
	h2Exchanges(cli, srv, c, 1, 10) // not captured
	segs := h2Exchanges(cli, srv, c, 21, 10)
	segs = append(segs, c.fin(true), c.fin(false))
	// an HTTP/1.x connection joined mid-stream on the same worker
	c1 := newConn(4)
	c1.send(true, req1, 1448)
	segs1 := append(c1.send(false, resp1, 1448), c1.send(true, req2, 1448)...)
	segs1 = append(segs1, c1.send(false, resp2, 1448)...)
	c.feed(w, segs...)
	c1.feed(w, segs1...)
	w.Close()
	var h2n, h1n int
	for _, r := range got {
		switch r.proto {
		case ProtoH2:
			h2n++
			if r.path != fmt.Sprintf("/v1/items/%d", r.id) || r.status != 200 || r.client != c.cli.String() {
				t.Errorf("%+v", r)
			}
		default:
			h1n++
		}
	}
	if h2n != 10 || w.Stats.HTTP2.Conns[http2.StartMidStream] != 1 {
		t.Fatalf("%d HTTP/2 transactions after the join, want 10: %+v (stats %+v)", h2n, got, w.Stats.HTTP2)
	}
	if h1n != 2 {
		t.Fatalf("%d HTTP/1.x transactions on the mid-stream HTTP/1.x connection, want 2 (unmatched response and the next exchange)", h1n)
	}
}

// BenchmarkWorkerH2KeepAlive is BenchmarkWorkerKeepAlive's traffic over
// HTTP/2 (prior knowledge): compare their ns/op (both 64 exchanges).
func BenchmarkWorkerH2KeepAlive(b *testing.B) {
	body := strings.Repeat("x", 16<<10)
	c := newConn(1)
	segs := c.handshake()
	cli, srv := newH2Peer(true), newH2Peer(false)
	segs = append(segs, c.send(true, cli.take(), 1448)...)
	segs = append(segs, c.send(false, srv.take(), 1448)...)
	const n = 64
	for i := 0; i < n; i++ {
		id := uint32(2*i + 1)
		cli.headers(id, true, ":method", "GET", ":scheme", "http", ":authority", "api.example", ":path", "/v1/users/1")
		segs = append(segs, c.send(true, cli.take(), 1448)...)
		srv.headers(id, false, ":status", "200", "content-type", "application/json", "content-length", fmt.Sprint(len(body)))
		for k := 0; k < len(body); k += 16384 {
			srv.fr.WriteData(id, k+16384 >= len(body), []byte(body[k:min(len(body), k+16384)]))
		}
		segs = append(segs, c.send(false, srv.take(), 1448)...)
	}
	var bytes int
	for _, s := range segs {
		bytes += len(s.data)
	}
	b.SetBytes(int64(bytes))
	b.ReportAllocs()
	var count int
	for i := 0; i < b.N; i++ {
		w := NewWorker(Config{}, func(*Transaction) { count++ })
		c.feed(w, segs...)
		w.Close()
	}
	if count != n*b.N {
		b.Fatalf("%d transactions, want %d", count, n*b.N)
	}
}

// TestWorkerH2Bounded: connections that open many streams with large
// bodies and never finish them hold at most the worker's HTTP buffer
// budget; what it refuses is flagged truncated and counted.
func TestWorkerH2Bounded(t *testing.T) {
	const budget = 1 << 20
	var got int
	truncated := 0
	w := NewWorker(Config{HTTP: HTTPConfig{MaxBufferedBytes: budget}}, func(tx *Transaction) {
		got++
		if tx.Flags&http1.FlagTruncated != 0 {
			truncated++
		}
	})
	body := []byte(strings.Repeat("b", 16000))
	for k := 0; k < 20; k++ {
		c := newConn(10 + k)
		segs := c.handshake()
		cli, srv := newH2Peer(true), newH2Peer(false)
		segs = append(segs, c.send(true, cli.take(), 1448)...)
		segs = append(segs, c.send(false, srv.take(), 1448)...)
		for i := 0; i < 100; i++ {
			id := uint32(2*i + 1)
			cli.headers(id, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/upload")
			for j := 0; j < 4; j++ {
				cli.fr.WriteData(id, false, body) // 64 KB, never ended
			}
			segs = append(segs, c.send(true, cli.take(), 1448)...)
		}
		c.feed(w, segs...)
		if w.Budget.Used > budget {
			t.Fatalf("connection %d: %d bytes held, budget %d", k, w.Budget.Used, budget)
		}
	}
	w.Close()
	if w.Budget.Used != 0 || w.Budget.Denied == 0 || got != 2000 || truncated != 2000 {
		t.Fatalf("used %d denied %d, %d transactions, %d truncated", w.Budget.Used, w.Budget.Denied, got, truncated)
	}
}
