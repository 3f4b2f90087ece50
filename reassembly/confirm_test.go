package reassembly

import (
	"net/netip"
	"testing"
)

// TestConfirmed: a flow is confirmed once the server has answered the
// client; a spoofed source that never gets an answer is not.
func TestConfirmed(t *testing.T) {
	type got struct{ confirmed, handshake bool }
	for _, tc := range []struct {
		name string
		segs func(c *conn) []seg
		want got
	}{
		{"handshake and answer", func(c *conn) []seg {
			s := c.handshake()
			s = append(s, c.send(true, req1, 1448)...)
			return append(s, c.send(false, resp1, 1448)...)
		}, got{true, true}},
		{"syn and request, no answer (spoofed)", func(c *conn) []seg {
			s := c.handshake()[:1]
			c.cseq++
			return append(s, c.send(true, req1, 1448)...)
		}, got{false, false}},
		{"mid-stream, answered", func(c *conn) []seg {
			return append(c.send(true, req1, 1448), c.send(false, resp1, 1448)...)
		}, got{true, false}},
		{"handshake answered, request unanswered", func(c *conn) []seg {
			return append(c.handshake(), c.send(true, req1, 1448)...)
		}, got{false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out []got
			w := NewWorker(Config{}, func(tx *Transaction) { out = append(out, got{tx.Flow.Confirmed, tx.Flow.Handshake}) })
			c := newConn(1)
			c.feed(w, tc.segs(c)...)
			w.Close()
			if len(out) != 1 || out[0] != tc.want {
				t.Fatalf("got %+v, want one transaction %+v", out, tc.want)
			}
		})
	}
}

// TestUnansweredFlood: one-sided connections from spoofed sources fill
// only their own share of the flow table; answered connections that
// arrive among them are all tracked and reported.
func TestUnansweredFlood(t *testing.T) {
	var got []rec
	w := NewWorker(Config{MaxFlows: 100}, collect(&got)) // 25 one-sided at most
	legit := 0
	for i := 0; i < 2000; i++ {
		c := &conn{
			cli:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), 1024),
			srv:  netip.MustParseAddrPort("10.1.0.1:80"),
			cseq: uint32(i), sseq: 9, ts: t0,
		}
		s := c.handshake()[:1] // a SYN and a request, never answered
		c.cseq++
		c.feed(w, append(s, c.send(true, req1, 1448)...)...)
		if i%100 == 50 {
			lc := newConn(1 + legit)
			legit++
			s := lc.handshake()
			s = append(s, lc.send(true, req1, 1448)...)
			s = append(s, lc.send(false, resp1, 1448)...)
			lc.feed(w, append(s, lc.fin(true), lc.fin(false))...)
		}
	}
	if w.Stats.FlowsUnanswered != 25 || w.Stats.UnansweredRejected == 0 || w.Stats.FlowsRejected != 0 {
		t.Errorf("unanswered open %d, rejected %d, flow table rejected %d; want 25, >0, 0", w.Stats.FlowsUnanswered, w.Stats.UnansweredRejected, w.Stats.FlowsRejected)
	}
	w.Close()
	answered := 0
	for _, r := range got {
		if r.status == 200 {
			answered++
		}
	}
	if answered != legit {
		t.Fatalf("%d answered transactions reported, want %d", answered, legit)
	}
}
