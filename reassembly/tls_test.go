package reassembly

import (
	"net/netip"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testutil/tlshellotest"
	"github.com/apitap/apitap/reassembly/tlshello"
)

// TestWorkerTLS: a TLS connection's ClientHello (in two segments) reaches
// OnTLS with the client's side of the flow; its bytes are not parsed as
// HTTP; an HTTP connection next to it is unaffected.
func TestWorkerTLS(t *testing.T) {
	hello := tlshellotest.GoClientHello(t, "shop.example.com")
	var out []rec
	w := NewWorker(Config{}, collect(&out))
	type seen struct {
		client, sni, ja4 string
	}
	var got []seen
	w.OnTLS = func(f *Flow, at time.Time, h *tlshello.Hello) {
		got = append(got, seen{f.Client.String(), h.SNI, h.JA4()})
	}
	c := newConn(1)
	c.srv = netip.AddrPortFrom(c.srv.Addr(), 443)
	c.feed(w, c.handshake()...)
	c.feed(w, c.send(true, string(hello), len(hello)/2+1)...)
	c.feed(w, c.send(false, "\x16\x03\x03\x00\x04\x02\x00\x00\x00 server hello and more", 1400)...)
	c.feed(w, c.send(true, "\x17\x03\x03\x00\x10 encrypted application data", 1400)...)
	c.feed(w, c.fin(true), c.fin(false))
	h := newConn(2)
	h.feed(w, h.handshake()...)
	h.feed(w, h.send(true, req1, 1400)...)
	h.feed(w, h.send(false, resp1, 1400)...)
	w.Close()
	if len(got) != 1 || got[0].client != c.cli.String() || got[0].sni != "shop.example.com" || got[0].ja4[:4] != "t13d" {
		t.Fatalf("OnTLS calls: %+v", got)
	}
	if w.Stats.TLSHellos != 1 || w.Stats.TLSUnparsed != 0 {
		t.Errorf("stats: %d hellos, %d unparsed", w.Stats.TLSHellos, w.Stats.TLSUnparsed)
	}
	var perr uint64
	for _, n := range w.Stats.HTTP.ParseErrors {
		perr += n
	}
	if perr != 0 {
		t.Errorf("%d HTTP parse errors: TLS bytes reached the HTTP parser", perr)
	}
	if len(out) != 1 || out[0].path != "/v1/users/1" || out[0].status != 200 {
		t.Errorf("the HTTP connection: %+v", out)
	}
	t.Logf("JA4 of Go's crypto/tls client: %s", got[0].ja4)
}

// TestWorkerNotTLS: a first byte of 0x16 that is no TLS record falls back
// to HTTP parsing; a truncated hello is counted, not parsed as HTTP.
func TestWorkerNotTLS(t *testing.T) {
	var out []rec
	w := NewWorker(Config{}, collect(&out))
	calls := 0
	w.OnTLS = func(*Flow, time.Time, *tlshello.Hello) { calls++ }
	c := newConn(3)
	c.feed(w, c.handshake()...)
	c.feed(w, c.send(true, "\x16GET / HTTP/1.1\r\n\r\n", 1400)...)
	d := newConn(4)
	d.feed(w, d.handshake()...)
	d.feed(w, d.send(true, "\x16\x03\x01\x00\x05\x01\x00\x00\x09\x03", 1400)...) // hello longer than its record
	d.feed(w, d.fin(true))
	w.Close()
	if calls != 0 || w.Stats.TLSHellos != 0 || w.Stats.TLSUnparsed != 1 {
		t.Errorf("calls %d, hellos %d, unparsed %d", calls, w.Stats.TLSHellos, w.Stats.TLSUnparsed)
	}
}

// TestWorkerTLSBounds: the other side answering before a hello is complete
// ends the TLS guess (both sides' bytes reach the parser in their own
// direction), and incomplete hellos are bounded per worker.
func TestWorkerTLSBounds(t *testing.T) {
	var out []rec
	w := NewWorker(Config{}, collect(&out))
	c := newConn(5)
	c.feed(w, c.handshake()...)
	c.feed(w, c.send(true, "\x16", 1400)...)
	c.feed(w, c.send(false, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 1400)...)
	if w.tlsHeld != 0 {
		t.Errorf("%d hello bytes held after the guess ended", w.tlsHeld)
	}
	// 700 connections each start a 15 KiB hello and never finish it
	big := append([]byte{22, 3, 1, 0x3f, 0xf0, 1, 0, 0x3f, 0xec}, make([]byte, 15000)...)
	for i := 0; i < 700; i++ {
		d := newConn(10 + i%200)
		d.cli = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(1000+i))
		d.feed(w, d.handshake()...)
		d.feed(w, d.send(true, string(big), 1400)...)
		if w.tlsHeld > maxTLSHeld {
			t.Fatalf("%d bytes held, bound %d", w.tlsHeld, maxTLSHeld)
		}
	}
	if w.Stats.TLSUnparsed == 0 {
		t.Error("no hello given up past the bound")
	}
	w.Close()
	if w.tlsHeld != 0 {
		t.Errorf("%d hello bytes still held after Close", w.tlsHeld)
	}
	t.Logf("%d hellos given up; %d flows; none parsed as HTTP", w.Stats.TLSUnparsed, w.Stats.Flows)
}
