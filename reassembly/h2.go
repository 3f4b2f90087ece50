package reassembly

import (
	"bytes"
	"strings"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/apitap/apitap/reassembly/grpc"
	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/reassembly/http2"
	"github.com/apitap/apitap/reassembly/protomsg"
)

// Protocol is how a transaction travelled.
type Protocol uint8

const (
	ProtoHTTP1     Protocol = iota // HTTP/1.x
	ProtoH2                        // HTTP/2
	ProtoGRPC                      // gRPC over HTTP/2
	ProtoWebSocket                 // a WebSocket message (ws.go)
)

// ProtocolNames are the protocol names, as events write them.
var ProtocolNames = [...]string{"http/1.x", "h2", "grpc", "websocket"}

func (p Protocol) String() string { return ProtocolNames[int(p)%len(ProtocolNames)] }

// Which parser a connection's bytes go to (stream.h2.state): undecided
// until its first bytes are seen; a connection joined mid-stream stays
// undecided (its bytes go to the HTTP/1.x parser, a copy is held) until
// frames or an HTTP/1.x message show what it speaks.
const (
	h2Undecided uint8 = iota
	h2Off             // HTTP/1.x (it may still upgrade to h2c)
	h2On              // HTTP/2: the bytes go to the http2.Conn
)

// Bounds of the detection.
const (
	// maxH2Detect is what a mid-stream direction holds while it is not
	// known to be HTTP/2 or HTTP/1.x; past it the connection is left to
	// the HTTP/1.x parser.
	maxH2Detect = 64 << 10
	// maxH2Held bounds those bytes over a worker's connections.
	maxH2Held = 8 << 20
	// maxH2Free bounds the recycled HTTP/2 parsers a worker keeps.
	maxH2Free = 256
)

// h2Worker is a worker's HTTP/2 state.
type h2Worker struct {
	env  http2.Env
	dec  grpc.Decoder
	free []*http2.Conn
	held int // bytes held by undecided connections
}

func (w *Worker) initH2() {
	w.h2.env = http2.Env{Limits: &w.lim, Stats: &w.Stats.HTTP2, GRPC: &w.h2.dec}
	w.h2.dec.Stats = &w.Stats.HTTP2.GRPC
}

// SetProtos sets the protobuf descriptor set gRPC messages are decoded
// with (nil: field numbers only). Call it before the first packet.
func (w *Worker) SetProtos(r *protomsg.Registry) { w.h2.dec.Protos = r }

// h2Stream is a connection's HTTP/2 state.
type h2Stream struct {
	conn      *http2.Conn
	state     uint8
	client    http1.Dir // the SYN sender, when synSeen
	synSeen   bool
	hold      [2][]byte // bytes held while undecided
	holdTS    [2]time.Time
	fed       [2]bool // the held bytes were given to the HTTP/1.x parser too
	scan      [2]http2.Scanner
	upgradeTo *http1.Request
	upReq     http1.Request // the h2c upgrade request, copied
	upBody    []byte
}

// h2Init records what the connection's first packet says about it.
func (s *stream) h2Init(tcp *layers.TCP) {
	g := &s.h2
	s.h2Release()
	g.state, g.synSeen, g.upgradeTo = h2Undecided, false, nil
	switch {
	case tcp.SYN && !tcp.ACK:
		g.client, g.synSeen = http1.DirA, true
	case tcp.SYN && tcp.ACK:
		g.client, g.synSeen = http1.DirB, true
	}
}

// h2Release gives back the HTTP/2 parser and held bytes.
func (s *stream) h2Release() {
	g := &s.h2
	w := s.w
	for d := range g.hold {
		w.h2.held -= len(g.hold[d])
		if cap(g.hold[d]) > 4096 {
			g.hold[d] = nil // a recycled stream keeps no large buffer
		} else {
			g.hold[d] = g.hold[d][:0]
		}
		g.fed[d] = false
		g.scan[d].Reset()
	}
	if g.conn != nil {
		g.conn.Reset(&w.h2.env, nil)
		if len(w.h2.free) < maxH2Free {
			w.h2.free = append(w.h2.free, g.conn)
		}
		g.conn = nil
	}
}

// done reports that no parser wants the connection's bytes any more.
func (s *stream) done() bool { return s.h2.state != h2On && s.conn.Done() }

// data routes in-order bytes of direction d to the connection's parser.
func (s *stream) data(d http1.Dir, b []byte, first, last time.Time) {
	g := &s.h2
	switch g.state {
	case h2On:
		g.conn.Data(d, b, first, last)
	case h2Off:
		s.conn.Data(d, b, first, last)
		if g.upgradeTo != nil {
			s.h2cUpgrade(d, b, first, last)
		}
	default:
		s.detect(d, b, first, last)
	}
}

// detect decides what an undecided connection speaks from its first bytes.
func (s *stream) detect(d http1.Dir, b []byte, first, last time.Time) {
	g := &s.h2
	held := len(g.hold[d]) > 0
	if held {
		if !s.holdMore(d, b) {
			s.h2Decide(last)
			s.conn.Data(d, b, first, last)
			return
		}
	} else {
		g.holdTS[d] = first
	}
	buf := b
	if held {
		buf = g.hold[d]
	}
	switch {
	case hasPrefaceStart(buf):
		if len(buf) < len(http2.Preface) { // wait for the rest of the preface
			if !held && !s.holdMore(d, b) {
				s.h2Decide(last)
				s.conn.Data(d, b, first, last)
			}
			return
		}
		g.client, g.synSeen = d, true // the preface is the client's
		var pending []byte
		if !held {
			pending = b
		}
		s.h2Start(http2.StartPreface, d, pending, first, last)
	case !s.midSeen:
		// the connection's start was seen: the client's first bytes
		// decide. A server that speaks first with SETTINGS (HTTP/2
		// servers may write them before they read the preface) is held
		// until then.
		if d != g.client && len(buf) <= 4096 && (http2.LooksLikeSettings(buf) || len(buf) < 9 && buf[0] == 0) {
			if !held && !s.holdMore(d, b) {
				s.h2Decide(last)
				s.conn.Data(d, b, first, last)
			}
			return
		}
		s.h2Decide(last)
		if !held {
			s.conn.Data(d, b, first, last)
		}
	default:
		// joined mid-stream: the HTTP/1.x parser hunts in the bytes as
		// usual while a copy is searched for frames
		s.conn.Data(d, b, first, last)
		if g.state != h2Undecided { // the HTTP/1.x parser found a message
			return
		}
		if !held && !s.holdMore(d, b) {
			s.h2Decide(last)
			return
		}
		g.fed[d] = true
		if _, ok, _ := http2.Detect(g.hold[d], &g.scan[d]); ok {
			w := s.w
			s.conn.Reset(&w.lim, &w.Stats.HTTP, s.onExchange) // what it hunted in was HTTP/2
			s.h2Start(http2.StartMidStream, d, nil, first, last)
		} else if len(g.hold[d]) >= maxH2Detect {
			s.h2Decide(last)
		}
	}
}

// hasPrefaceStart reports whether b starts like the client preface.
func hasPrefaceStart(b []byte) bool {
	n := min(len(b), len(http2.Preface))
	return n > 0 && string(b[:n]) == http2.Preface[:n]
}

// holdMore appends b to the bytes held for direction d, within the
// bounds; false when they refuse.
func (s *stream) holdMore(d http1.Dir, b []byte) bool {
	g := &s.h2
	w := s.w
	if len(g.hold[d])+len(b) > maxH2Detect || w.h2.held+len(b) > maxH2Held {
		return false
	}
	g.hold[d] = append(g.hold[d], b...)
	w.h2.held += len(b)
	return true
}

// firstHeld is the direction whose held bytes were captured first.
func (g *h2Stream) firstHeld() http1.Dir {
	a, b := g.holdTS[http1.DirA], g.holdTS[http1.DirB]
	if len(g.hold[http1.DirB]) > 0 && (len(g.hold[http1.DirA]) == 0 || b.Before(a)) {
		return http1.DirB
	}
	return http1.DirA
}

// h2Decide ends detection with HTTP/1.x: held bytes not given to the
// HTTP/1.x parser yet are given now, in capture order.
func (s *stream) h2Decide(last time.Time) {
	g := &s.h2
	g.state = h2Off
	first := g.firstHeld()
	for _, d := range [2]http1.Dir{first, first ^ 1} {
		if len(g.hold[d]) > 0 && !g.fed[d] {
			s.conn.Data(d, g.hold[d], g.holdTS[d], last)
		}
	}
	s.h2Release()
}

// h2Start switches the connection to HTTP/2 and replays the held bytes
// (the direction captured first first), then pending, bytes of d that
// were not held.
func (s *stream) h2Start(how http2.Start, d http1.Dir, pending []byte, first, last time.Time) {
	g := &s.h2
	w := s.w
	if n := len(w.h2.free); n > 0 {
		g.conn = w.h2.free[n-1]
		w.h2.free = w.h2.free[:n-1]
		g.conn.Reset(&w.h2.env, s.onH2)
	} else {
		g.conn = http2.NewConn(&w.h2.env, s.onH2)
	}
	g.state = h2On
	g.conn.Start(how, g.client, g.synSeen, s.portHint())
	f := g.firstHeld()
	for _, x := range [2]http1.Dir{f, f ^ 1} {
		if len(g.hold[x]) > 0 {
			g.conn.Data(x, g.hold[x], g.holdTS[x], last)
		}
		w.h2.held -= len(g.hold[x])
		g.hold[x] = g.hold[x][:0]
		g.fed[x] = false
	}
	if len(pending) > 0 {
		g.conn.Data(d, pending, first, last)
	}
}

// portHint guesses the client direction of a connection whose handshake
// was missed: the side with the higher (ephemeral) port.
func (s *stream) portHint() http1.Dir {
	if s.a.Port() < s.b.Port() {
		return http1.DirB
	}
	return http1.DirA
}

// h2Exchange looks at each HTTP/1.x exchange before it is reported: the
// connection speaks HTTP/1.x (detection ends), and an exchange answered
// "101 Switching Protocols" to h2c is taken: its request becomes stream 1
// of the HTTP/2 connection that follows (it is then not reported as
// HTTP/1.x, and h2Exchange returns true).
func (s *stream) h2Exchange(ex *http1.Exchange) bool {
	if s.h2.state == h2Undecided {
		s.h2Release()
		s.h2.state = h2Off
	}
	if ex.Request == nil || ex.Response == nil || ex.Response.Status != 101 ||
		!strings.EqualFold(strings.TrimSpace(http1.Get(ex.Response.Headers, http1.IDUpgrade)), "h2c") {
		return false
	}
	g := &s.h2
	g.upReq = *ex.Request
	g.upReq.Headers = append([]http1.Header(nil), ex.Request.Headers...)
	g.upBody = append(g.upBody[:0], ex.Request.Body.Bytes()...)
	g.upReq.Body.Data = g.upBody
	g.upgradeTo = &g.upReq
	g.client, g.synSeen = ex.ClientDir, true
	return true
}

// h2cUpgrade starts HTTP/2 after the 101 answer that ended b (the
// server's bytes): what follows the 101 head in b is HTTP/2.
func (s *stream) h2cUpgrade(d http1.Dir, b []byte, first, last time.Time) {
	g := &s.h2
	req := g.upgradeTo
	g.upgradeTo = nil
	rest := b[:0]
	if d != g.client {
		i := bytes.Index(b, []byte(" 101"))
		if i < 0 {
			i = 0
		}
		if j := bytes.Index(b[i:], []byte("\r\n\r\n")); j >= 0 {
			rest = b[i+j+4:]
		}
	}
	s.h2Release()
	s.h2Start(http2.StartUpgrade, d, nil, first, last)
	g.conn.Upgrade(req)
	if len(rest) > 0 {
		g.conn.Data(d, rest, first, last)
	}
}

// gap reports lost bytes to the connection's parser.
func (s *stream) gap(d http1.Dir, n int, ts time.Time) {
	s.wsGap(d)
	if s.h2.state == h2On {
		s.h2.conn.Gap(d, n, ts)
		return
	}
	s.undecidedGap(d, ts)
	s.conn.Gap(d, n, ts)
}

// undecidedGap accounts for lost bytes while detection goes on: bytes
// held for the search (a copy, the HTTP/1.x parser has them) are not
// followed by what comes next, so they are dropped; bytes held back from
// the HTTP/1.x parser (a server's first bytes) decide for HTTP/1.x.
func (s *stream) undecidedGap(d http1.Dir, ts time.Time) {
	g := &s.h2
	if g.state != h2Undecided || len(g.hold[0])+len(g.hold[1]) == 0 {
		return
	}
	if !g.fed[d] && len(g.hold[d])+len(g.hold[d^1]) > 0 && !g.fed[d^1] {
		s.h2Decide(ts)
		return
	}
	s.w.h2.held -= len(g.hold[d])
	g.hold[d] = g.hold[d][:0]
	g.scan[d].Reset()
}

// gapAt is gap for a hole the other side acknowledged (see holes.go):
// atStart says the lost bytes began a message (HTTP/1.x uses it; HTTP/2
// hunts for the next frame either way).
func (s *stream) gapAt(d http1.Dir, n int, ts time.Time, atStart bool) {
	s.wsGap(d)
	if s.h2.state == h2On {
		s.h2.conn.Gap(d, n, ts)
		return
	}
	s.undecidedGap(d, ts)
	s.conn.GapAt(d, n, ts, atStart)
}

// closeDir reports the end of direction d to the connection's parser.
func (s *stream) closeDir(d http1.Dir, ts time.Time) {
	if s.h2.state == h2On {
		s.h2.conn.CloseDir(d, ts)
		return
	}
	if s.h2.state == h2Undecided {
		s.h2Decide(ts)
	}
	s.conn.CloseDir(d, ts)
}

// h2Close ends the connection for the HTTP/2 parser.
func (s *stream) h2Close(ts time.Time) {
	switch s.h2.state {
	case h2On:
		s.h2.conn.Close(ts)
	case h2Undecided:
		s.h2Decide(ts)
	}
}

// onH2 turns a parsed HTTP/2 stream into a Transaction for the handler.
func (s *stream) onH2(ex *http2.Exchange) {
	w := s.w
	tx := &w.tx
	s.txFlow(tx, ex.ClientDir)
	tx.Seq = s.seq
	s.seq++
	tx.Exchange = ex.Exchange
	tx.Protocol = ProtoH2
	if ex.Stream.GRPC != nil {
		tx.Protocol = ProtoGRPC
	}
	tx.H2 = &ex.Stream
	s.tlsTx(tx)
	w.Stats.Transactions++
	if w.h != nil {
		w.h(tx)
	}
	w.countFlags(tx.AllFlags()) // after the handler, as for HTTP/1.x
	tx.Protocol, tx.H2 = ProtoHTTP1, nil
}
