package sensor

import (
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/grpc"
	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/reassembly/http2"
	"github.com/apitap/apitap/reassembly/tlshello"
	"github.com/apitap/apitap/reassembly/websocket"
)

// orderKey places an observation in capture order. For capture files at
// counts positions in the reader's sequence: frame i is 2i+1 and the tick
// the reader sends every worker before frame i is 2i, so the key does not
// depend on which worker handled what. Live sources have no global frame
// counter: at is the capture time in nanoseconds. flow is the completing
// flow's first packet position (reassembly.Flow.Order) and seq the
// transaction's number in its flow, which orders what one frame or tick
// completes.
type orderKey struct {
	at, flow, seq uint64
}

func (a orderKey) less(b orderKey) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	if a.flow != b.flow {
		return a.flow < b.flow
	}
	return a.seq < b.seq
}

const (
	// atFinal is the position of what the end of the input completes
	// (open connections flushed by Close).
	atFinal = math.MaxUint64 - 1
	// flowTick is the flow field of a tick marker: after what the tick
	// itself completed.
	flowTick = math.MaxUint64
	// seqHello is the seq field of a TLS ClientHello (a TLS flow has no
	// transactions).
	seqHello = 1 << 62
)

type obsKind uint8

const (
	obsTx    obsKind = iota // a transaction (and what stage one found in it)
	obsHello                // a TLS ClientHello
	obsTick                 // the reader's tick: stage two's clock advances
	obsOther                // detections outside a transaction (stage-one Finish)
)

// obs is what stage one hands stage two: one completed transaction with
// its encoded event and the detections and fold occurrences stage one made
// in it, a ClientHello, or a tick. Everything it points to is owned by it
// (or immutable), so the worker can move on.
type obs struct {
	// The fields every observation sets and reset clears come first, in
	// a few cache lines: with several workers an obs is filled on one core
	// and read on another, and a reset that touched the whole struct cost
	// a cache miss per line.
	key  orderKey
	ts   time.Time // capture time of the frame or tick that completed it
	kind obsKind
	// hasTx: tx is a copy of the transaction for stage-two analyzers
	hasTx bool
	line  []byte // the transaction event, when transactions are emitted
	// lineType is line's event type: "" for a transaction, "message"
	lineType string
	flowID   string // the transaction's flow (the key of line when exported)
	dets     []event.Detection
	folds    []fold
	args     []byte // the lazy folds' arguments
	// pre is what the ordered analyzers' pre-stage (stage2.pre) emitted
	// and folded on this transaction, in order, for stage two to replay
	// where the one chain would have made it
	pre   []fold
	hello *tlshello.Hello
	// server answered client (a transaction with a response): the
	// blocklist learns its monitored servers from it
	server, client netip.Addr
	// principal is the authenticated identity of a request the server
	// accepted (below 400): the blocklist tells shared addresses (many
	// identities behind one address) from single clients
	principal uint64
	resolved  netip.Addr // the request's client, for principal

	// The copy of the transaction (hasTx): req and resp are its
	// messages, their headers and bodies live in the batch's arenas.
	tx   reassembly.Transaction
	req  http1.Request
	resp http1.Response
	// rare holds what few observations use (HTTP/2, WebSocket, a
	// ClientHello) out of line, made on first use and kept with the obs:
	// an obs is filled on one core and read on another, and the pool of
	// them is larger than a core's cache, so every line it carries costs.
	rare *obsRare
}

// obsRare is the part of an obs only some observations use.
type obsRare struct {
	h2    http2.StreamInfo // the HTTP/2 stream (tx.H2) and its gRPC call
	call  grpc.Call
	msg   reassembly.Message // a WebSocket message's (tx.Message)
	wsMsg websocket.Message
	// a ClientHello (kind obsHello): its flow and the capture time of
	// its first byte
	flow    reassembly.Flow
	helloAt time.Time
	used    bool // something above is set
}

// extra returns o's rare part, made on first use.
func (o *obs) extra() *obsRare {
	if o.rare == nil {
		o.rare = &obsRare{}
	}
	o.rare.used = true
	return o.rare
}

// fold is one occurrence of a finding that stage two folds (see package
// aggregate).
type fold struct {
	spec analyzer.FoldSpec
	key  analyzer.FoldKey
	d    event.Detection
	// a lazy occurrence (analyzer.LazyFolder): d has no evidence yet,
	// ev builds it from arg when the occurrence opens a detection
	ev  analyzer.Evidencer
	arg []byte
	// det: d is a detection to hand on as it is (an ordered part's, in
	// o.pre), not an occurrence to fold
	det bool
}

// reset empties o for reuse, keeping its buffers (within bounds).
func (o *obs) reset() {
	o.line = o.line[:0]
	if cap(o.line) > 256<<10 {
		o.line = nil
	}
	clear(o.dets)
	o.dets = o.dets[:0]
	clear(o.folds)
	o.folds = o.folds[:0]
	clear(o.pre)
	o.pre = o.pre[:0]
	o.args = o.args[:0]
	if cap(o.args) > 64<<10 {
		o.args = nil
	}
	if o.hasTx { // the copy (copyTx) is large: cleared only when made
		// req and resp only if the copy used them
		if o.tx.Request != nil {
			o.req = http1.Request{}
		}
		if o.tx.Response != nil {
			o.resp = http1.Response{}
		}
		o.tx, o.hasTx = reassembly.Transaction{}, false
	}
	o.hello = nil
	if r := o.rare; r != nil && r.used {
		*r = obsRare{}
	}
	o.server, o.client = netip.Addr{}, netip.Addr{}
	o.principal, o.resolved = 0, netip.Addr{}
	o.lineType, o.flowID = "", ""
}

// copyTx makes o.tx a copy of tx that stays valid after the worker moves
// on: the messages are copied into o, their header lists and bodies into
// the batch's arenas (strings are immutable and kept as they are). A
// response body nobody decoded yet is copied still coded and decodes with
// dec (stage two's) if a stage-two analyzer reads it.
func (o *obs) copyTx(tx *reassembly.Transaction, b *obsBatch, dec *http1.Decoder) {
	o.tx = *tx
	o.tx.Flow.State = nil // the worker's, per connection
	o.hasTx = true
	if r := tx.Request; r != nil {
		o.req = *r
		o.req.Headers = b.keepHeaders(r.Headers)
		r.Body.Detach(&o.req.Body, b.keep, dec, 0)
		o.tx.Request = &o.req
	}
	if r := tx.Response; r != nil {
		o.resp = *r
		o.resp.Headers = b.keepHeaders(r.Headers)
		r.Body.Detach(&o.resp.Body, b.keep, dec, 1)
		o.tx.Response = &o.resp
	}
	if s := tx.H2; s != nil {
		r := o.extra()
		r.h2 = *s
		r.h2.RequestTrailers = b.keepHeaders(s.RequestTrailers)
		r.h2.ResponseTrailers = b.keepHeaders(s.ResponseTrailers)
		if s.GRPC != nil {
			r.call = *s.GRPC
			r.h2.GRPC = &r.call
		}
		o.tx.H2 = &r.h2
	}
	if m := tx.Message; m != nil {
		// the message's bytes are the request's or response's body,
		// copied above
		r := o.extra()
		r.wsMsg = *m.Message
		r.wsMsg.Data = nil
		if o.tx.Response != nil && !m.FromClient {
			r.wsMsg.Data = o.tx.Response.Body.Bytes()
		} else if o.tx.Request != nil {
			r.wsMsg.Data = o.tx.Request.Body.Bytes()
		}
		r.msg = reassembly.Message{Message: &r.wsMsg, Upgrade: m.Upgrade}
		o.tx.Message = &r.msg
	}
}

// keep copies p into the batch's byte arena. When the arena grows, what it
// held before stays where it was (the old array lives as long as it is
// referenced).
func (b *obsBatch) keep(p []byte) []byte {
	if p == nil {
		return nil
	}
	start := len(b.arena)
	b.arena = append(b.arena, p...)
	return b.arena[start:len(b.arena):len(b.arena)]
}

func (b *obsBatch) keepHeaders(h []http1.Header) []http1.Header {
	if h == nil {
		return nil
	}
	start := len(b.hdrs)
	b.hdrs = append(b.hdrs, h...)
	return b.hdrs[start:len(b.hdrs):len(b.hdrs)]
}

// addDetection keeps a copy of d (analyzers reuse theirs).
func (o *obs) addDetection(d *event.Detection) {
	c := *d
	c.Evidence = slices.Clone(d.Evidence)
	o.dets = append(o.dets, c)
}

// addFold keeps a copy of an occurrence to fold.
func (o *obs) addFold(spec analyzer.FoldSpec, k analyzer.FoldKey, d *event.Detection, ev analyzer.Evidencer, arg []byte) {
	o.folds = append(o.folds, o.kept(spec, k, d, ev, arg))
}

// addPre records what the pre-stage (stage2.pre) emitted (det) or folded,
// in order.
func (o *obs) addPre(spec analyzer.FoldSpec, k analyzer.FoldKey, d *event.Detection, ev analyzer.Evidencer, arg []byte, det bool) {
	f := o.kept(spec, k, d, ev, arg)
	f.det = det
	o.pre = append(o.pre, f)
}

// kept copies an occurrence, with what builds its evidence when it came
// without (ev, arg: analyzer.LazyFolder; arg is kept in o's own buffer,
// reused from one observation to the next).
func (o *obs) kept(spec analyzer.FoldSpec, k analyzer.FoldKey, d *event.Detection, ev analyzer.Evidencer, arg []byte) fold {
	c := *d
	c.Evidence = slices.Clone(d.Evidence)
	if ev != nil {
		start := len(o.args)
		o.args = append(o.args, arg...)
		arg = o.args[start:len(o.args):len(o.args)] // what the buffer held before stays where it was when it grows
	}
	return fold{spec: spec, key: k, d: c, ev: ev, arg: arg}
}

// obsBatch carries a worker's observations to stage two, in the worker's
// order (which is capture order), with the worker's low-water mark: every
// observation it sends later has a key with at >= mark.
type obsBatch struct {
	worker int
	items  []*obs // pointers: an obs points into itself (tx.Request)
	n      int
	mark   uint64
	final  bool // the worker has finished: nothing follows
	// arenas of the copied transactions' bodies and header lists
	arena []byte
	hdrs  []http1.Header
}

// clearArenas empties the arenas for reuse, within bounds.
func (b *obsBatch) clearArenas() {
	b.arena = b.arena[:0]
	if cap(b.arena) > 8<<20 {
		b.arena = nil
	}
	clear(b.hdrs)
	b.hdrs = b.hdrs[:0]
	if cap(b.hdrs) > 1<<14 {
		b.hdrs = nil
	}
}

// next returns the batch's next free slot, reset.
func (b *obsBatch) next() *obs {
	if b.n == len(b.items) {
		// a new observation is zero: not reset, whose reads would be
		// the first touch of its fresh pages (a read maps the zero page,
		// the write after it copies: two faults and a TLB shootdown of
		// the other CPUs instead of one fault)
		o := &obs{}
		b.items = append(b.items, o)
		b.n++
		return o
	}
	o := b.items[b.n]
	b.n++
	o.reset()
	return o
}

// sortFrom sorts the observations from index i on by key (what one tick
// completed: the reassembler flushes connections in no particular order).
func (b *obsBatch) sortFrom(i int) {
	if b.n-i > 1 {
		slices.SortStableFunc(b.items[i:b.n], func(x, y *obs) int {
			switch {
			case x.key.less(y.key):
				return -1
			case y.key.less(x.key):
				return 1
			}
			return 0
		})
	}
}
