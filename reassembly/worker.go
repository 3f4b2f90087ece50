package reassembly

import (
	"bytes"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"hash/maphash"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	gpr "github.com/gopacket/gopacket/reassembly"

	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/reassembly/http2"
	"github.com/apitap/apitap/reassembly/tlsdecrypt"
	"github.com/apitap/apitap/reassembly/tlshello"
	"github.com/apitap/apitap/reassembly/websocket"
)

// Packet is one decoded TCP segment handed to a Worker. The sensor fills one
// Packet per worker and reuses it: the Worker copies what it keeps.
type Packet struct {
	NetFlow          gopacket.Flow
	TCP              *layers.TCP
	CI               gopacket.CaptureInfo
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	VLAN             [2]uint16
	NVLAN            uint8
	Tunnel           Tunnel
	// Order is the packet's position in capture order (the sensor's frame
	// counter for files, the capture time in nanoseconds for live sources):
	// a flow's Order is its first packet's.
	Order uint64
}

// pktCtx is the AssemblerContext handed to gopacket with each packet.
// gopacket keeps it with segments queued out of order and asks it for their
// capture time when it delivers them, so it must outlive the reused Packet:
// a Worker keeps a ring of them, so queued segments keep their own
// timestamps as long as fewer than ctxRing packets pass in between.
type pktCtx struct {
	ci gopacket.CaptureInfo
	p  *Packet // valid only while the packet is being assembled
}

// GetCaptureInfo implements gopacket's AssemblerContext.
func (c *pktCtx) GetCaptureInfo() gopacket.CaptureInfo { return c.ci }

const ctxRing = 1024

// Handler receives each completed transaction. tx is valid only during the
// call (see Transaction).
type Handler func(tx *Transaction)

// Stats counts what one Worker did. A Worker updates its Stats without
// locks: read them from the worker's goroutine, or after Close.
type Stats struct {
	Flows           uint64 // connections created
	FlowsOpen       int64  // connections currently tracked
	FlowsRejected   uint64 // packets of new connections ignored because MaxFlows was reached
	Gaps            uint64 // sequence ranges skipped (lost packets, buffer bounds, gap timeout)
	GapBytes        uint64 // bytes in those ranges, where known
	MidStream       uint64 // directions whose start (SYN) was not captured
	Transactions    uint64
	Flags           [len(http1.FlagNames)]uint64 // transactions carrying each flag
	OutOfOrderBytes uint64                       // bytes that were queued waiting for earlier data
	BufferDenied    uint64                       // times the HTTP buffer budget refused bytes (set by Close)
	// OverlapConflicts counts segments that carried different bytes for
	// sequence numbers already seen in their direction (a retransmission
	// that disagrees with the original: an IDS evasion attempt). Only one
	// version reaches the parser. See stream.overlap for what is compared.
	OverlapConflicts uint64
	// HalfOpenDropped counts connection attempts (a SYN and nothing else
	// yet) forgotten because more were waiting than the table of pending
	// SYNs holds: a SYN flood. See Worker.holdSYN.
	HalfOpenDropped uint64
	// UnansweredRejected counts packets of new connections not tracked
	// because MaxUnansweredFlows connections that only one side has
	// spoken on were open already (spoofed sources, scans): they can not
	// take the place of answered connections. FlowsUnanswered is how many
	// such one-sided connections are open now.
	UnansweredRejected uint64
	FlowsUnanswered    int64
	// TLSHellos counts TLS connections whose ClientHello was read (and
	// handed to Worker.OnTLS); their bytes are not parsed as HTTP.
	// TLSUnparsed counts connections that started like TLS but whose
	// hello could not be read.
	TLSHellos, TLSUnparsed uint64
	// AckedHoles counts holes skipped at once because the other side
	// acknowledged the missing bytes (see holes.go); they are counted in
	// Gaps and GapBytes too.
	AckedHoles uint64
	// RSTIgnored counts RSTs that the connection carried on after (the
	// endpoint did not honour them; see rst.go): they did not end it.
	RSTIgnored uint64
	HTTP       http1.Stats
	HTTP2      http2.Stats // HTTP/2 and gRPC (h2.go)
	// TLS counts the decryption of TLS connections (tls.go; with a key
	// log only).
	TLS tlsdecrypt.Stats
	// WebSocket counts frames and messages of upgraded connections (ws.go).
	WebSocket websocket.Stats
}

// Add adds o to s (to sum the workers' stats).
func (s *Stats) Add(o *Stats) {
	s.Flows += o.Flows
	s.FlowsOpen += o.FlowsOpen
	s.FlowsRejected += o.FlowsRejected
	s.Gaps += o.Gaps
	s.GapBytes += o.GapBytes
	s.MidStream += o.MidStream
	s.Transactions += o.Transactions
	for i := range s.Flags {
		s.Flags[i] += o.Flags[i]
	}
	s.OutOfOrderBytes += o.OutOfOrderBytes
	s.BufferDenied += o.BufferDenied
	s.OverlapConflicts += o.OverlapConflicts
	s.HalfOpenDropped += o.HalfOpenDropped
	s.UnansweredRejected += o.UnansweredRejected
	s.FlowsUnanswered += o.FlowsUnanswered
	s.TLSHellos += o.TLSHellos
	s.TLSUnparsed += o.TLSUnparsed
	s.AckedHoles += o.AckedHoles
	s.RSTIgnored += o.RSTIgnored
	s.HTTP.Add(&o.HTTP)
	s.HTTP2.Add(&o.HTTP2)
	s.TLS.Add(&o.TLS)
	s.WebSocket.Add(&o.WebSocket)
}

// flushEvery is how often (capture time) a Worker looks for streams stuck on
// a gap or idle.
const flushEvery = time.Second

// Worker reassembles the TCP connections of one shard and parses HTTP on
// them. It is not safe for concurrent use.
type Worker struct {
	cfg   Config
	lim   http1.Limits
	h     Handler
	pool  *gpr.StreamPool
	asm   *gpr.Assembler
	now   time.Time
	flush time.Time // next flush due (capture time)
	free  []*stream // recycled streams, keeping their parser buffers
	tx    Transaction
	ctx   [ctxRing]pktCtx
	ctxi  int
	seed  maphash.Seed // for segment checksums (overlap conflicts)
	syns  synTable     // connection attempts not handed to gopacket yet
	// tlsHeld is the bytes of incomplete ClientHellos held (maxTLSHeld)
	tlsHeld int
	synTCP  layers.TCP // a pending SYN being replayed
	// acknowledged holes (holes.go)
	holeTab map[synKey]*stream
	// holePorts counts holeTab's connections by the XOR of their ports,
	// as synTable.ports does
	holePorts *[1 << 16]uint16 // allocated with the first hole
	fills     []fillReq
	fillBuf   []byte
	fillPkt   Packet
	fillTCP   layers.TCP
	filling   bool
	// RSTs waiting for the connection's next packet (rst.go)
	rsts rstTable
	// answeredReplay is set while a pending SYN is replayed because the
	// other side of its connection sent a packet: the connection is
	// answered from its start.
	answeredReplay bool
	// ManualTick, when set, leaves the clock's periodic work (gap skips,
	// idle closes) to explicit Tick calls: the sensor ticks every worker at
	// the same capture times, so that what times out does not depend on
	// which packets a worker happened to get. Otherwise Packet ticks itself
	// every second of capture time.
	ManualTick bool
	// OnTLS, when set, is called with the ClientHello of every TLS
	// connection (flow's Client is the side that sent it), at the capture
	// time of its first byte. The hello is only valid during the call.
	OnTLS func(flow *Flow, at time.Time, h *tlshello.Hello)
	// OnMessage, when set, is called with each WebSocket message, as a
	// Transaction whose Message is set (ws.go); without it messages are
	// parsed and counted (Stats.WebSocket) but not handed on.
	OnMessage Handler
	// Budget bounds the bytes the worker's HTTP parsers hold.
	Budget http1.Budget
	// Stats may be read from the worker's goroutine at any time.
	Stats Stats
	h2    h2Worker
	tlsd  tlsWorker // TLS decryption (tls.go)
}

// NewWorker returns a Worker calling h for each transaction. cfg should have
// passed Validate; zero fields take defaults.
func NewWorker(cfg Config, h Handler) *Worker {
	cfg = cfg.WithDefaults()
	w := &Worker{cfg: cfg, lim: cfg.HTTP.Limits(), h: h, seed: maphash.MakeSeed()}
	w.Budget.Max = cfg.HTTP.MaxBufferedBytes
	w.lim.Budget = &w.Budget
	w.pool = gpr.NewStreamPool((*factory)(w))
	w.asm = gpr.NewAssembler(w.pool)
	w.asm.MaxBufferedPagesTotal = max(1, cfg.MaxBufferedBytes/pageBytes)
	w.asm.MaxBufferedPagesPerConnection = max(1, cfg.MaxFlowBufferedBytes/pageBytes)
	w.syns.init(min(max(cfg.MaxFlows/8, 256), maxPendingSYNs))
	w.initH2()
	return w
}

// Packet feeds one TCP segment. p is not kept.
func (w *Worker) Packet(p *Packet) {
	ts := p.CI.Timestamp
	if ts.After(w.now) {
		w.now = ts
	}
	t := p.TCP
	switch {
	case t.SYN && !t.ACK && !t.FIN && !t.RST && len(t.Payload) == 0 && len(t.Contents) <= maxTCPHeader:
		if len(w.rsts.m) > 0 {
			w.rstNext(p)
		}
		w.holdSYN(p)
	case t.RST && w.holdRST(p):
	default:
		if len(w.rsts.m) > 0 && !t.RST {
			w.rstNext(p)
		}
		if len(w.syns.idx) > 0 && w.syns.ports[p.SrcPort^p.DstPort] > 0 { // cheap test first: most packets have no pending SYN
			if i, ok := w.syns.idx[synKeyOf(p)]; ok {
				e := &w.syns.ring[i]
				w.answeredReplay = e.pkt.Src != p.Src || e.pkt.SrcPort != p.SrcPort
				w.replaySYN(i)
				w.answeredReplay = false
			}
		}
		w.assemble(p)
	}
	if !w.ManualTick && !w.now.Before(w.flush) {
		w.Tick(w.now)
	}
}

func (w *Worker) assemble(p *Packet) {
	if len(w.holeTab) > 0 && p.TCP.ACK && !w.filling {
		w.preAck(p)
	}
	c := &w.ctx[w.ctxi]
	w.ctxi = (w.ctxi + 1) % ctxRing
	c.ci, c.p = p.CI, p
	w.asm.AssembleWithContext(p.NetFlow, p.TCP, c)
	if len(w.fills) > 0 && !w.filling {
		w.runFills()
	}
}

// A SYN (without ACK or payload) is not handed to gopacket at once: it waits
// in a bounded FIFO table until another packet of its connection comes (the
// SYN-ACK, or the client's first segment when only one direction is
// captured), which replays it first, so gopacket sees the packets of a
// connection in their order. A SYN flood therefore fills this table, not the
// flow table (reassembly.max_flows): when the table is full the oldest
// attempt is forgotten (Stats.HalfOpenDropped); if its connection goes on
// after all, it starts at the SYN-ACK (the client's direction is then
// mid-stream). Attempts older than IdleTimeout are forgotten too; at Close
// the pending ones are replayed, so a capture counts the same flows.
const (
	maxPendingSYNs = 16384 // per worker; MaxFlows/8 when that is smaller (at least 256)
	maxTCPHeader   = 60
)

// synKey is a connection's two endpoints, ordered: both directions map to
// one key, as in gopacket (which ignores VLANs and tunnels too). It holds no
// pointer, so that hashing it is cheap: it is looked up for every packet
// while SYNs are pending.
type synKey struct {
	lo, hi         [16]byte
	loPort, hiPort uint16
}

func synKeyOf(p *Packet) synKey {
	k := synKey{lo: p.Src.As16(), hi: p.Dst.As16(), loPort: p.SrcPort, hiPort: p.DstPort}
	if c := bytes.Compare(k.lo[:], k.hi[:]); c > 0 || c == 0 && k.loPort > k.hiPort {
		k.lo, k.hi, k.loPort, k.hiPort = k.hi, k.lo, k.hiPort, k.loPort
	}
	return k
}

// pendingSYN is a SYN waiting for the next packet of its connection.
type pendingSYN struct {
	key  synKey
	pkt  Packet // pkt.TCP is nil: the header is in hdr
	hdr  [maxTCPHeader]byte
	hlen uint8 // 0: the TCP layer was not decoded from bytes (tests)
	live bool
	seq  uint32
	win  uint16
}

// synTable is a FIFO ring of pending SYNs with an index by connection.
// Slots between head and tail are live or already replayed (dead). The ring
// grows up to max slots as needed.
type synTable struct {
	ring       []pendingSYN
	head, tail int // tail-head slots in use
	max        int
	idx        map[synKey]int
	// ports counts the pending SYNs by the XOR of their two ports (the
	// same for both directions): a packet whose count is 0 needs no map
	// lookup (and no key to build). uint16 holds any count: the table
	// holds at most maxPendingSYNs (< 1<<16) SYNs.
	ports [1 << 16]uint16
}

func (t *synTable) init(n int) {
	t.max = n
	t.idx = make(map[synKey]int)
}

// grow makes room for one more SYN without forgetting any, if max allows,
// keeping the live ones in order.
func (t *synTable) grow() bool {
	if len(t.ring) >= t.max {
		if len(t.idx) > len(t.ring)*3/4 {
			return false // (nearly) every slot holds a live SYN: the oldest goes
		}
		t.resize(len(t.ring)) // full size, but a quarter replayed in between: compact
		return true
	}
	t.resize(min(max(2*len(t.ring), 64), t.max))
	return true
}

// resize copies the live SYNs, in order, into a ring of n slots.
func (t *synTable) resize(n int) {
	ring := make([]pendingSYN, n)
	live := 0
	for ; t.head < t.tail; t.head++ {
		if e := &t.ring[t.head%len(t.ring)]; e.live {
			ring[live] = *e
			t.idx[e.key] = live
			live++
		}
	}
	t.ring, t.head, t.tail = ring, 0, live
}

// pop frees the oldest slot and reports whether it was live.
func (t *synTable) pop() bool {
	e := &t.ring[t.head%len(t.ring)]
	t.head++
	if !e.live {
		return false
	}
	e.live = false
	delete(t.idx, e.key)
	t.ports[e.key.loPort^e.key.hiPort]--
	return true
}

// holdSYN puts a SYN into the table of pending SYNs. A second SYN of a
// pending connection is ignored, as gopacket would ignore it.
func (w *Worker) holdSYN(p *Packet) {
	t := &w.syns
	k := synKeyOf(p)
	if _, ok := t.idx[k]; ok {
		return
	}
	for t.tail-t.head == len(t.ring) && !t.grow() {
		if t.pop() {
			w.Stats.HalfOpenDropped++
		}
	}
	i := t.tail % len(t.ring)
	t.tail++
	e := &t.ring[i]
	e.key, e.pkt, e.live = k, *p, true
	e.pkt.TCP, e.pkt.CI.AncillaryData = nil, nil
	e.hlen = uint8(copy(e.hdr[:], p.TCP.Contents))
	e.seq, e.win = p.TCP.Seq, p.TCP.Window
	t.idx[k] = i
	t.ports[k.loPort^k.hiPort]++
}

// replaySYN hands the pending SYN in slot i to gopacket.
func (w *Worker) replaySYN(i int) {
	t := &w.syns
	e := &t.ring[i]
	e.live = false
	delete(t.idx, e.key)
	t.ports[e.key.loPort^e.key.hiPort]--
	tcp := &w.synTCP
	if e.hlen == 0 || tcp.DecodeFromBytes(e.hdr[:e.hlen], gopacket.NilDecodeFeedback) != nil {
		// built by hand, as the tests do (no port bytes for TransportFlow)
		*tcp = layers.TCP{SrcPort: layers.TCPPort(e.pkt.SrcPort), DstPort: layers.TCPPort(e.pkt.DstPort), Seq: e.seq, SYN: true, Window: e.win}
	}
	e.pkt.TCP = tcp
	w.assemble(&e.pkt)
	e.pkt.TCP = nil
}

// expireSYNs forgets pending SYNs older than IdleTimeout.
func (w *Worker) expireSYNs() {
	t := &w.syns
	old := w.now.Add(-w.cfg.IdleTimeout)
	for t.head < t.tail {
		e := &t.ring[t.head%len(t.ring)]
		if e.live && !e.pkt.CI.Timestamp.Before(old) {
			return
		}
		t.pop()
	}
}

// Tick advances the worker's clock to now (capture time) without a packet:
// streams waiting on a gap longer than GapTimeout skip it, and connections
// idle longer than IdleTimeout are closed.
func (w *Worker) Tick(now time.Time) {
	if now.After(w.now) {
		w.now = now
	}
	if w.flush.IsZero() {
		w.flush = w.now.Add(flushEvery)
		return
	}
	w.flush = w.now.Add(flushEvery)
	w.expireSYNs()
	w.expireRSTs(false)
	if len(w.tlsd.waiting) > 0 {
		w.tlsTick(w.now)
	}
	w.asm.FlushWithOptions(gpr.FlushOptions{
		T:  w.now.Add(-w.cfg.GapTimeout),
		TC: w.now.Add(-w.cfg.IdleTimeout),
	})
}

// Close ends every open connection, emitting what it holds (unmatched and
// truncated messages are flagged). The Worker can not be used afterwards.
func (w *Worker) Close() {
	for t := &w.syns; t.head < t.tail; {
		i := t.head % len(t.ring)
		t.head++
		if t.ring[i].live {
			w.replaySYN(i)
		}
	}
	w.expireRSTs(true)
	w.tlsd.closing = true
	w.asm.FlushAll()
	w.tlsFinish()
	w.Stats.BufferDenied = w.Budget.Denied
}

// factory creates streams for the Worker's StreamPool.
type factory Worker

// New implements gopacket's StreamFactory. It returns nil (the packet is
// ignored and no state is kept) once MaxFlows connections are open.
func (f *factory) New(_, _ gopacket.Flow, tcp *layers.TCP, ac gpr.AssemblerContext) gpr.Stream {
	w := (*Worker)(f)
	if w.Stats.FlowsOpen >= int64(w.cfg.MaxFlows) {
		w.Stats.FlowsRejected++
		return nil
	}
	if !w.answeredReplay && w.Stats.FlowsUnanswered >= int64(w.cfg.MaxUnansweredFlows) {
		w.Stats.UnansweredRejected++
		return nil
	}
	p := ac.(*pktCtx).p
	var s *stream
	if n := len(w.free); n > 0 {
		s = w.free[n-1]
		w.free = w.free[:n-1]
		s.conn.Reset(&w.lim, &w.Stats.HTTP, s.onExchange)
	} else {
		s = &stream{w: w}
		s.conn.Reset(&w.lim, &w.Stats.HTTP, s.onExchange)
	}
	s.init(p, tcp)
	if !w.answeredReplay {
		s.oneSided = true
		w.Stats.FlowsUnanswered++
	}
	w.Stats.Flows++
	w.Stats.FlowsOpen++
	return s
}

// stream is one TCP connection: both directions and their HTTP parser.
type stream struct {
	w       *Worker
	conn    http1.Conn
	a, b    netip.AddrPort // the creating packet's source (direction A) and destination
	flow    Flow
	seq     int
	midSeen bool
	rst     bool
	closed  bool
	// recent remembers the last data segments of each direction (ring,
	// next slot in recentI) to tell retransmissions from conflicting
	// overlaps: 2*recentSegs*16 bytes per connection.
	recent  [2][recentSegs]segSum
	recentI [2]uint8
	// tls: 0 the first bytes are not seen yet, tlsWait a ClientHello is
	// being collected in hello, tlsDone the connection is TLS (its bytes
	// are not HTTP), tlsNo it is not TLS.
	tls     uint8
	tlsDir  http1.Dir // the side that sent the first byte
	hello   []byte
	helloAt time.Time
	tlsc    *tlsdecrypt.Conn // decrypting with a key log (tls.go), or nil
	tlsInfo TLSInfo
	// a connection that ended while its records waited for their
	// secrets: the time it ended, and whether gopacket let it go
	tlsCloseAt time.Time
	tlsClosing bool
	tlsGone    bool
	netFlow    gopacket.Flow // direction A's addresses
	holes      holes         // acknowledgement state (holes.go)
	// oneSided: no packet from the side that did not open the connection
	// yet (counted in Stats.FlowsUnanswered). sent[d]: direction d carried
	// payload; syn[d]: direction d sent a SYN (with ACK for the answer).
	oneSided bool
	sent     [2]bool
	syn      [2]bool
	synAck   [2]bool
	state    FlowState // the stage-one analyzers' (Flow.State)
	h2       h2Stream  // HTTP/2 detection and parser (h2.go)
	ws       *wsState  // WebSocket (ws.go); nil until needed
}

const (
	tlsWait = 1 + iota
	tlsDone
	tlsNo
)

// recentSegs is how many recent data segments per direction are compared
// with new ones.
const recentSegs = 4

// segSum is one data segment: its first sequence number, length and a hash
// of its bytes.
type segSum struct {
	seq, n uint32
	sum    uint64
}

func (s *stream) init(p *Packet, tcp *layers.TCP) {
	s.a = netip.AddrPortFrom(p.Src, p.SrcPort)
	s.b = netip.AddrPortFrom(p.Dst, p.DstPort)
	s.seq, s.midSeen, s.rst, s.closed = 0, false, false, false
	s.oneSided, s.sent, s.syn, s.synAck = false, [2]bool{}, [2]bool{}, [2]bool{}
	s.state = FlowState{}
	s.wsReset()
	s.recent, s.recentI = [2][recentSegs]segSum{}, [2]uint8{}
	s.tls = 0
	s.tlsClosing, s.tlsGone = false, false
	if len(s.hello) > 0 { // recycled while collecting a hello
		s.releaseHello()
	}
	s.netFlow, s.holes = p.NetFlow, holes{}
	s.flow = Flow{Tunnel: p.Tunnel}
	if p.NVLAN > 0 {
		s.flow.VLAN = append(s.flow.VLAN[:0:0], p.VLAN[:p.NVLAN]...)
	}
	s.flow.ID = flowID(p)
	s.flow.Order = p.Order
	switch {
	case tcp.SYN && !tcp.ACK:
		s.conn.SetClient(http1.DirA)
	case tcp.SYN && tcp.ACK:
		s.conn.SetClient(http1.DirB)
	}
	s.h2Init(tcp)
}

// flowID hashes the connection's addresses, tunnel and first packet time.
func flowID(p *Packet) string {
	h := fnv.New64a()
	var buf [64]byte
	b := buf[:0]
	b = p.Src.AppendTo(b)
	b = append(b, byte(p.SrcPort>>8), byte(p.SrcPort))
	b = p.Dst.AppendTo(b)
	b = append(b, byte(p.DstPort>>8), byte(p.DstPort))
	h.Write(b)
	b = buf[:0]
	b = append(b, p.Tunnel.Type...)
	b = p.Tunnel.OuterSrc.AppendTo(b)
	b = p.Tunnel.OuterDst.AppendTo(b)
	ns := p.CI.Timestamp.UnixNano()
	for i := 0; i < 8; i++ {
		b = append(b, byte(ns>>(8*i)))
	}
	h.Write(b)
	var sum [8]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

func dirOf(d gpr.TCPFlowDirection) http1.Dir {
	if d == gpr.TCPDirClientToServer {
		return http1.DirA
	}
	return http1.DirB
}

// Accept implements gopacket's Stream. A direction whose first packet is
// not a SYN starts where the capture starts (mid-stream).
func (s *stream) Accept(tcp *layers.TCP, ci gopacket.CaptureInfo, dir gpr.TCPFlowDirection, nextSeq gpr.Sequence, start *bool, _ gpr.AssemblerContext) bool {
	if s.w.filling {
		return true // a filler segment (holes.go)
	}
	if tcp.RST {
		s.rst = true
	}
	d := dirOf(dir)
	if d == http1.DirB && s.oneSided {
		s.oneSided = false
		s.w.Stats.FlowsUnanswered--
	}
	if tcp.SYN {
		if tcp.ACK {
			s.synAck[d] = true
		} else {
			s.syn[d] = true
		}
	}
	if len(tcp.Payload) > 0 {
		s.sent[d] = true
		s.overlap(d, tcp.Seq, tcp.Payload)
	}
	if nextSeq == -1 && !tcp.SYN && !*start {
		s.holesStart(tcp, dirOf(dir), ci.Timestamp)
		*start = true
		if !s.midSeen {
			s.midSeen = true
			s.w.Stats.MidStream++
			s.conn.SetMidStream()
		}
	}
	s.holesAccept(tcp, dirOf(dir), nextSeq, *start, ci.Timestamp)
	return true
}

// overlap compares a data segment with the recent segments of its direction
// and counts a conflict when one started at the same sequence number and the
// bytes they share differ. The new segment must be at least as long as the
// one remembered (a retransmission of the same or a coalesced range, which
// is what TCP sends; a shorter one is not compared). Overlaps that do not
// start at a remembered segment are not compared: that would need the bytes.
// Only the first sumHead and last sumTail bytes of a segment are hashed
// (all of a short one): hashing every byte cost about 8% more CPU on an
// apitap-gen bench capture, so a difference in the middle of a long segment
// only is not seen.
func (s *stream) overlap(d http1.Dir, seq uint32, data []byte) {
	i := 0
	if d != http1.DirA {
		i = 1
	}
	r := &s.recent[i]
	for j := range r {
		e := &r[j]
		if e.n == 0 || e.seq != seq || len(data) < int(e.n) {
			continue
		}
		if s.w.segHash(data[:e.n]) != e.sum {
			s.w.Stats.OverlapConflicts++
		}
		return // remembered already: keep the first version
	}
	r[s.recentI[i]] = segSum{seq: seq, n: uint32(len(data)), sum: s.w.segHash(data)}
	s.recentI[i] = (s.recentI[i] + 1) % recentSegs
}

const (
	sumHead = 256
	sumTail = 64
)

// segHash hashes the head and tail of a segment (see stream.overlap).
func (w *Worker) segHash(b []byte) uint64 {
	if len(b) <= sumHead+sumTail {
		return maphash.Bytes(w.seed, b)
	}
	// two one-shot hashes cost about half of a streaming maphash.Hash
	return maphash.Bytes(w.seed, b[:sumHead])*0x9e3779b97f4a7c15 + maphash.Bytes(w.seed, b[len(b)-sumTail:])
}

// ReassembledSG implements gopacket's Stream: in-order bytes of one direction.
func (s *stream) ReassembledSG(sg gpr.ScatterGather, ac gpr.AssemblerContext) {
	dir, _, end, skip := sg.Info()
	d := dirOf(dir)
	length, _ := sg.Lengths()
	ts := s.w.now
	if length > 0 {
		ts = sg.CaptureInfo(0).Timestamp
	}
	if st := sg.Stats(); st.QueuedBytes > 0 {
		s.w.Stats.OutOfOrderBytes += uint64(st.QueuedBytes)
	}
	drop, told := s.holesSG(d, skip, length, end)
	if drop > 0 { // filler of an acknowledged hole: the parser knows already
		length -= drop
		if length > 0 {
			ts = sg.CaptureInfo(drop).Timestamp
		}
	}
	if skip != 0 && !s.closed && !told {
		s.w.Stats.Gaps++
		if skip > 0 {
			s.w.Stats.GapBytes += uint64(skip)
		}
		if s.tlsc != nil {
			s.tlsc.Gap(s.tlsSide(d), ts)
		} else {
			s.gap(d, skip, ts)
		}
	}
	if length > 0 && !s.closed && s.ws != nil && s.ws.on {
		s.ws.conn.Data(uint8(d), sg.Fetch(length + drop)[drop:], ts, sg.CaptureInfo(drop+length-1).Timestamp)
	} else if length > 0 && !s.closed && !s.done() {
		data := sg.Fetch(length + drop)[drop:]
		last := sg.CaptureInfo(drop + length - 1).Timestamp
		if s.tls == tlsNo || !s.tlsData(d, data, ts, last) { // TLS bytes are not for the HTTP parser
			if !s.midSeen || !s.wsSniff(d, data, ts, last) {
				s.data(d, data, ts, last)
				if s.ws != nil && s.ws.on { // upgraded: the frames that came with the 101
					if td, tail := s.conn.TakeTail(); len(tail) > 0 {
						s.ws.conn.Data(uint8(td), tail, ts, last)
					}
				}
			}
		}
	}
	if end && s.tls == tlsWait { // the hello never completed
		s.tls = tlsDone
		s.w.Stats.TLSUnparsed++
		s.releaseHello()
	}
	if end && !s.closed {
		switch {
		case s.rst:
			s.close(ts)
		case s.tlsc != nil:
			s.tlsc.CloseDir(s.tlsSide(d), ts)
		default:
			s.closeDir(d, ts)
		}
	}
}

// maxTLSHeld bounds the ClientHello bytes a worker holds for connections
// whose hello is not complete yet; past it a hello is given up (counted
// as TLSUnparsed) rather than buffered.
const maxTLSHeld = 8 << 20

// tlsData looks at the first bytes of a connection: a TLS ClientHello is
// collected from the side that sent the first byte (up to
// tlshello.MaxHello), read and handed to OnTLS, and the connection's bytes
// are kept from the HTTP parser. It says whether data was taken (TLS, or
// replayed to the HTTP parser here).
func (s *stream) tlsData(d http1.Dir, data []byte, ts, last time.Time) bool {
	switch s.tls {
	case tlsDone:
		if s.tlsc != nil {
			s.tlsFeed(d, data, ts, last)
		}
		return true
	case 0:
		if data[0] != 22 || len(data) >= 3 && !tlshello.Looks(data) {
			s.tls = tlsNo
			return false
		}
		s.tls, s.tlsDir, s.helloAt = tlsWait, d, ts
	case tlsWait:
		if d != s.tlsDir { // the other side spoke before a hello was complete: not TLS
			s.tls = tlsNo
			s.conn.Data(s.tlsDir, s.hello, s.helloAt, ts)
			s.releaseHello()
			return false
		}
	}
	n := min(len(data), tlshello.MaxHello-len(s.hello))
	if s.w.tlsHeld+n > maxTLSHeld {
		s.tls = tlsDone
		s.w.Stats.TLSUnparsed++
		s.releaseHello()
		return true
	}
	s.hello = append(s.hello, data[:n]...)
	s.w.tlsHeld += n
	h, err := tlshello.Parse(s.hello)
	switch {
	case err == nil:
		s.tls = tlsDone
		s.w.Stats.TLSHellos++
		if s.w.OnTLS != nil {
			f := s.flow
			f.Client, f.Server = s.a, s.b
			if s.tlsDir != http1.DirA {
				f.Client, f.Server = s.b, s.a
			}
			s.w.OnTLS(&f, s.helloAt, h)
		}
		s.tlsStart(h, data[n:], last)
	case errors.Is(err, tlshello.ErrShort) && len(s.hello) < tlshello.MaxHello:
		return true // wait for the rest of the hello
	case errors.Is(err, tlshello.ErrNotHello):
		// the first bytes were too few to tell: not TLS after all; the
		// parser gets everything, from the first byte's time
		s.tls = tlsNo
		s.conn.Data(s.tlsDir, append(s.hello, data[n:]...), s.helloAt, ts)
	default:
		s.tls = tlsDone
		s.w.Stats.TLSUnparsed++
	}
	s.releaseHello()
	return true
}

// releaseHello gives the hello buffer's bytes back to the worker's bound.
func (s *stream) releaseHello() {
	s.w.tlsHeld -= len(s.hello)
	if cap(s.hello) > 4096 {
		s.hello = nil // do not keep a large buffer per recycled stream
	} else {
		s.hello = s.hello[:0]
	}
}

// ReassemblyComplete implements gopacket's Stream: both directions are over.
func (s *stream) ReassemblyComplete(_ gpr.AssemblerContext) bool {
	if s.tls == tlsWait { // the hello never completed
		s.tls = tlsDone
		s.w.Stats.TLSUnparsed++
		s.releaseHello()
	}
	s.close(s.w.now)
	s.w.unregisterHole(s)
	s.w.Stats.FlowsOpen--
	if s.oneSided {
		s.oneSided = false
		s.w.Stats.FlowsUnanswered--
	}
	if !s.closed { // TLS records wait for their secrets: tls.go ends it
		s.tlsGone = true
		return true
	}
	s.recycle()
	return true
}

// recycle gives a finished stream's buffers back and keeps it for reuse.
func (s *stream) recycle() {
	s.conn.Reset(&s.w.lim, &s.w.Stats.HTTP, nil) // gives its budget back
	s.tlsRelease()
	s.h2Release()
	if len(s.w.free) < maxFree {
		s.w.free = append(s.w.free, s)
	}
}

// maxFree bounds the recycled streams a worker keeps (with their buffers).
const maxFree = 1024

func (s *stream) close(ts time.Time) {
	if s.closed || s.tlsLinger(ts) {
		return
	}
	s.h2Close(ts)
	s.conn.Close(ts)
	s.closed = true
}

// txFlow sets tx.Flow to the connection's flow as seen from client c
// (HTTP/1.x and HTTP/2 exchanges alike).
func (s *stream) txFlow(tx *Transaction, c http1.Dir) {
	tx.Flow = s.flow
	if c == http1.DirA {
		tx.Flow.Client, tx.Flow.Server = s.a, s.b
	} else {
		tx.Flow.Client, tx.Flow.Server = s.b, s.a
	}
	tx.Flow.State = &s.state
	sv := 1 - c
	tx.Flow.Confirmed = s.sent[sv] && s.sent[c]
	tx.Flow.Handshake = s.syn[c] && s.synAck[sv]
}

// onExchange turns a parsed exchange into a Transaction for the handler.
func (s *stream) onExchange(ex *http1.Exchange) {
	if s.h2Exchange(ex) {
		return // an h2c upgrade: the request is stream 1 of HTTP/2
	}
	w := s.w
	tx := &w.tx
	s.txFlow(tx, ex.ClientDir)
	tx.Seq = s.seq
	s.seq++
	tx.Exchange = *ex
	s.tlsTx(tx)
	if ex.Flags&http1.FlagUpgrade != 0 {
		s.wsUpgrade(ex, tx.Seq)
	}
	w.Stats.Transactions++
	if w.h != nil {
		w.h(tx)
	}
	// counted after the handler: with what decoding a body on demand
	// found (a response is decoded only if an analyzer read it)
	w.countFlags(tx.AllFlags())
}

// countFlags counts a transaction under each of its flags.
func (w *Worker) countFlags(f http1.Flags) {
	for i := 0; f != 0; f, i = f>>1, i+1 {
		if f&1 != 0 && i < len(w.Stats.Flags) {
			w.Stats.Flags[i]++
		}
	}
}
