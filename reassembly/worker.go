package reassembly

import (
	"encoding/hex"
	"hash/fnv"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	gpr "github.com/gopacket/gopacket/reassembly"

	"github.com/apitap/apitap/reassembly/http1"
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
	HTTP            http1.Stats
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
	s.HTTP.Add(&o.HTTP)
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
	// Budget bounds the bytes the worker's HTTP parsers hold.
	Budget http1.Budget
	// Stats may be read from the worker's goroutine at any time.
	Stats Stats
}

// NewWorker returns a Worker calling h for each transaction. cfg should have
// passed Validate; zero fields take defaults.
func NewWorker(cfg Config, h Handler) *Worker {
	cfg = cfg.WithDefaults()
	w := &Worker{cfg: cfg, lim: cfg.HTTP.Limits(), h: h}
	w.Budget.Max = cfg.HTTP.MaxBufferedBytes
	w.lim.Budget = &w.Budget
	w.pool = gpr.NewStreamPool((*factory)(w))
	w.asm = gpr.NewAssembler(w.pool)
	w.asm.MaxBufferedPagesTotal = max(1, cfg.MaxBufferedBytes/pageBytes)
	w.asm.MaxBufferedPagesPerConnection = max(1, cfg.MaxFlowBufferedBytes/pageBytes)
	return w
}

// Packet feeds one TCP segment. p is not kept.
func (w *Worker) Packet(p *Packet) {
	ts := p.CI.Timestamp
	if ts.After(w.now) {
		w.now = ts
	}
	c := &w.ctx[w.ctxi]
	w.ctxi = (w.ctxi + 1) % ctxRing
	c.ci, c.p = p.CI, p
	w.asm.AssembleWithContext(p.NetFlow, p.TCP, c)
	if !w.now.Before(w.flush) {
		w.Tick(w.now)
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
	w.asm.FlushWithOptions(gpr.FlushOptions{
		T:  w.now.Add(-w.cfg.GapTimeout),
		TC: w.now.Add(-w.cfg.IdleTimeout),
	})
}

// Close ends every open connection, emitting what it holds (unmatched and
// truncated messages are flagged). The Worker can not be used afterwards.
func (w *Worker) Close() {
	w.asm.FlushAll()
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
}

func (s *stream) init(p *Packet, tcp *layers.TCP) {
	s.a = netip.AddrPortFrom(p.Src, p.SrcPort)
	s.b = netip.AddrPortFrom(p.Dst, p.DstPort)
	s.seq, s.midSeen, s.rst, s.closed = 0, false, false, false
	s.flow = Flow{Tunnel: p.Tunnel}
	if p.NVLAN > 0 {
		s.flow.VLAN = append(s.flow.VLAN[:0:0], p.VLAN[:p.NVLAN]...)
	}
	s.flow.ID = flowID(p)
	switch {
	case tcp.SYN && !tcp.ACK:
		s.conn.SetClient(http1.DirA)
	case tcp.SYN && tcp.ACK:
		s.conn.SetClient(http1.DirB)
	}
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
func (s *stream) Accept(tcp *layers.TCP, _ gopacket.CaptureInfo, _ gpr.TCPFlowDirection, nextSeq gpr.Sequence, start *bool, _ gpr.AssemblerContext) bool {
	if tcp.RST {
		s.rst = true
	}
	if nextSeq == -1 && !tcp.SYN && !*start {
		*start = true
		if !s.midSeen {
			s.midSeen = true
			s.w.Stats.MidStream++
			s.conn.SetMidStream()
		}
	}
	return true
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
	if skip != 0 && !s.closed {
		s.w.Stats.Gaps++
		if skip > 0 {
			s.w.Stats.GapBytes += uint64(skip)
		}
		s.conn.Gap(d, skip, ts)
	}
	if length > 0 && !s.closed && !s.conn.Done() {
		last := sg.CaptureInfo(length - 1).Timestamp
		s.conn.Data(d, sg.Fetch(length), ts, last)
	}
	if end && !s.closed {
		if s.rst {
			s.close(ts)
		} else {
			s.conn.CloseDir(d, ts)
		}
	}
}

// ReassemblyComplete implements gopacket's Stream: both directions are over.
func (s *stream) ReassemblyComplete(_ gpr.AssemblerContext) bool {
	s.close(s.w.now)
	s.w.Stats.FlowsOpen--
	s.conn.Reset(&s.w.lim, &s.w.Stats.HTTP, nil) // gives its budget back
	if len(s.w.free) < maxFree {
		s.w.free = append(s.w.free, s)
	}
	return true
}

// maxFree bounds the recycled streams a worker keeps (with their buffers).
const maxFree = 1024

func (s *stream) close(ts time.Time) {
	if s.closed {
		return
	}
	s.conn.Close(ts)
	s.closed = true
}

// onExchange turns a parsed exchange into a Transaction for the handler.
func (s *stream) onExchange(ex *http1.Exchange) {
	w := s.w
	tx := &w.tx
	tx.Flow = s.flow
	if ex.ClientDir == http1.DirA {
		tx.Flow.Client, tx.Flow.Server = s.a, s.b
	} else {
		tx.Flow.Client, tx.Flow.Server = s.b, s.a
	}
	tx.Seq = s.seq
	s.seq++
	tx.Exchange = *ex
	w.Stats.Transactions++
	for f, i := ex.Flags, 0; f != 0; f, i = f>>1, i+1 {
		if f&1 != 0 && i < len(w.Stats.Flags) {
			w.Stats.Flags[i]++
		}
	}
	if w.h != nil {
		w.h(tx)
	}
}
