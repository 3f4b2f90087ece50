package reassembly

import (
	"encoding/binary"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	gpr "github.com/gopacket/gopacket/reassembly"

	"github.com/apitap/apitap/reassembly/http1"
)

// Acknowledged holes.
//
// A mirror port drops segments that the endpoints received. gopacket waits
// for such a hole until GapTimeout (or a buffer bound) and meanwhile queues
// everything after it, so that on a keep-alive connection requests and
// responses pile up and the pairing goes astray. But the other side's
// acknowledgements tell when a hole will never be filled: once the receiver
// has acknowledged bytes past the next byte expected in a direction, those
// bytes reached the endpoint and the capture lost them.
//
// Each stream follows, per direction, the next sequence number expected
// (gopacket's, seen in Accept and advanced by each delivery), the highest
// acknowledgement the other side sent, and the sequence numbers of the
// segments gopacket queued beyond a hole (a few; with more the layout is
// unknown and the hole is left to the gap timeout). When an acknowledgement
// covers the start of a hole, the parser is told about the lost bytes at
// once (http1.Conn.Gap, before the packet that carried the acknowledgement
// is parsed, so that a request sent after the lost response pairs with its
// own response), and the worker hands gopacket a filler segment covering
// the hole, so that what was queued behind it is delivered now; the filler
// bytes themselves are dropped before they reach the parser.
//
// Pure ACKs are not handed to reassembly (sensor drops them); Worker.Ack
// looks at them only for connections that have a hole, so the cost on
// clean traffic is one length test per pure ACK.

// maxQueuedSeqs is how many queued segment starts a direction remembers.
const maxQueuedSeqs = 6

// maxFill bounds one hole filled at once; larger ones wait for the gap
// timeout as before.
const maxFill = 4 << 20

// fillChunk is the largest filler segment handed to gopacket.
const fillChunk = 32 << 10

// holeDir is the acknowledgement state of one direction of a stream.
type holeDir struct {
	nxt     uint32 // next sequence number expected (when known)
	ack     uint32 // highest acknowledgement sent by this direction (for the other)
	q       [maxQueuedSeqs]uint32
	nq      uint8
	known   bool // nxt is valid
	acked   bool // ack is valid
	over    bool // more queued segments than q holds
	ended   bool // FIN or RST delivered: nothing more to fill
	fillDue bool // a filler is scheduled (Worker.fills)
	fillSeq uint32
	fillN   int
	swallow int // filler bytes still to be dropped from deliveries
	// first is the other side's first acknowledgement seen before this
	// direction started (firstSet): where this direction's bytes begin.
	first    uint32
	firstSet bool
	// dataAck is the acknowledgement carried by this direction's last
	// data segment (before the one being handled): where the other
	// direction stood when this side last sent a message. A hole of the
	// other direction starting there starts with a message.
	dataAck    uint32
	dataAckSet bool
}

// holes is a stream's acknowledgement state, both directions.
type holes struct {
	d          [2]holeDir
	registered bool // in Worker.holeTab
}

// seqAfter reports whether a comes after b in sequence space.
func seqAfter(a, b uint32) bool { return int32(a-b) > 0 }

// holesAccept updates the state with a packet of direction d (called from
// Accept, before gopacket handles it). nextSeq is gopacket's next sequence
// number for d (-1 before the start), start whether this packet starts d.
func (s *stream) holesAccept(tcp *layers.TCP, d http1.Dir, nextSeq gpr.Sequence, start bool, ts time.Time) {
	h := &s.holes.d[d&1]
	switch {
	case nextSeq != -1:
		h.nxt, h.known = uint32(nextSeq), true
	case tcp.SYN:
		h.nxt, h.known = tcp.Seq+1, true
	case start:
		h.nxt, h.known = tcp.Seq, true
	}
	if tcp.RST || tcp.FIN && nextSeq != -1 && !seqAfter(tcp.Seq, h.nxt) {
		h.ended = true
	}
	if len(tcp.Payload) > 0 && h.known && seqAfter(tcp.Seq, h.nxt) && !h.ended {
		h.addQueued(tcp.Seq)
		s.w.registerHole(s)
	}
	if tcp.ACK {
		if p := &s.holes.d[(d^1)&1]; !p.known && !p.firstSet {
			p.first, p.firstSet = tcp.Ack, true
		}
		if !h.acked || seqAfter(tcp.Ack, h.ack) {
			h.ack, h.acked = tcp.Ack, true
		}
		s.checkHole(d^1, len(tcp.Payload) > 0 || tcp.FIN, ts)
		if len(tcp.Payload) > 0 {
			h.dataAck, h.dataAckSet = tcp.Ack, true
		}
	}
	if h.nq > 0 && len(tcp.Payload) > 0 && seqAfter(tcp.Seq, h.nxt) {
		s.checkHole(d, false, ts)
	}
}

// holesStart is called for the first packet of a direction whose start
// (SYN) was not seen, before the parser hears of the mid-stream start: when
// the other side had acknowledged bytes of this direction from an earlier
// sequence number, the messages in between were lost (the first response
// on a connection whose SYN-ACK and first response the capture missed),
// and the parser is told so that the next request is not paired with the
// lost one's response.
func (s *stream) holesStart(tcp *layers.TCP, d http1.Dir, ts time.Time) {
	h := &s.holes.d[d&1]
	if !h.firstSet || h.known || !seqAfter(tcp.Seq, h.first) {
		return
	}
	n := int(tcp.Seq - h.first)
	if n > maxFill || s.done() || s.tls == tlsDone {
		return
	}
	s.w.Stats.Gaps++
	s.w.Stats.GapBytes += uint64(n)
	s.w.Stats.AckedHoles++
	s.gap(d, n, ts)
}

func (h *holeDir) addQueued(seq uint32) {
	for i := uint8(0); i < h.nq; i++ {
		if h.q[i] == seq {
			return
		}
	}
	if int(h.nq) == len(h.q) {
		h.over = true
		return
	}
	h.q[h.nq] = seq
	h.nq++
}

// prune forgets the queued segments that are behind nxt (delivered).
func (h *holeDir) prune() {
	n := uint8(0)
	for i := uint8(0); i < h.nq; i++ {
		if seqAfter(h.q[i], h.nxt) {
			h.q[n] = h.q[i]
			n++
		}
	}
	h.nq = n
	if n == 0 {
		h.over = false // everything known was delivered: nothing is queued that we missed
	}
}

// checkHole schedules a fill of direction x when the other side has
// acknowledged bytes of x that the capture does not have. With nothing
// queued behind the hole (its end is the acknowledgement), tail says the
// acknowledging packet carried data or a FIN: the other side moved on. A
// pure ACK alone is not trusted for that, since a mirror may reorder the
// two directions slightly and show an ACK before the data it acknowledges.
func (s *stream) checkHole(x http1.Dir, tail bool, ts time.Time) {
	h, peer := &s.holes.d[x&1], &s.holes.d[(x^1)&1]
	if !h.known || !peer.acked || h.ended || h.fillDue || s.closed || !seqAfter(peer.ack, h.nxt) {
		return
	}
	end := peer.ack
	if h.nq > 0 {
		lo := h.q[0]
		for i := uint8(1); i < h.nq; i++ {
			if seqAfter(lo, h.q[i]) {
				lo = h.q[i]
			}
		}
		if seqAfter(end, lo) {
			end = lo
		}
	} else if h.over || !tail {
		return // data is queued where we do not know (left to the gap timeout), or no proof yet
	}
	n := int(end - h.nxt)
	if n <= 0 || n > maxFill {
		return
	}
	h.fillDue, h.fillSeq, h.fillN = true, h.nxt, n
	h.swallow += n
	s.w.Stats.Gaps++
	s.w.Stats.GapBytes += uint64(n)
	s.w.Stats.AckedHoles++
	if !s.done() && s.tls != tlsDone {
		s.gapAt(x, n, ts, peer.dataAckSet && peer.dataAck == h.nxt)
	}
	s.w.fills = append(s.w.fills, fillReq{s: s, d: x})
}

// holesSG accounts for a delivery of direction d and returns how many of
// its first length bytes are filler (to be dropped), and whether a skip
// that gopacket reports was told to the parser already (a scheduled fill
// that gopacket overtook by skipping the hole itself, at a buffer bound).
func (s *stream) holesSG(d http1.Dir, skip, length int, end bool) (int, bool) {
	h := &s.holes.d[d&1]
	if skip <= 0 && h.nq == 0 && h.swallow == 0 && !end {
		h.nxt += uint32(length) // the common case: in order, no hole
		return 0, false
	}
	told := false
	if skip > 0 {
		h.nxt += uint32(skip)
		if h.fillDue && !s.w.filling {
			h.fillDue, told = false, true
			h.swallow = max(0, h.swallow-h.fillN)
		}
	}
	h.nxt += uint32(length)
	if end {
		h.ended = true
	}
	h.prune()
	drop := min(h.swallow, length)
	h.swallow -= drop
	if s.holes.registered && s.holes.d[0].nq == 0 && s.holes.d[1].nq == 0 && !s.holes.d[0].fillDue && !s.holes.d[1].fillDue {
		s.w.unregisterHole(s)
	}
	return drop, told
}

// fillReq is a filler segment to hand to gopacket once the packet being
// assembled is done (gopacket's connection lock is held until then).
type fillReq struct {
	s *stream
	d http1.Dir
}

// registerHole puts s in the table of streams whose pure ACKs matter.
func (w *Worker) registerHole(s *stream) {
	if s.holes.registered {
		return
	}
	if w.holeTab == nil {
		w.holeTab = make(map[synKey]*stream)
		w.holePorts = new([1 << 16]uint16)
	}
	s.holes.registered = true
	w.holeTab[s.key()] = s
	w.holePorts[s.a.Port()^s.b.Port()]++
}

func (w *Worker) unregisterHole(s *stream) {
	if !s.holes.registered {
		return
	}
	s.holes.registered = false
	delete(w.holeTab, s.key())
	w.holePorts[s.a.Port()^s.b.Port()]--
}

// key is the stream's connection key (both directions alike).
func (s *stream) key() synKey {
	k := synKey{lo: s.a.Addr().As16(), hi: s.b.Addr().As16(), loPort: s.a.Port(), hiPort: s.b.Port()}
	if c := compare16(k.lo, k.hi); c > 0 || c == 0 && k.loPort > k.hiPort {
		k.lo, k.hi, k.loPort, k.hiPort = k.hi, k.lo, k.hiPort, k.loPort
	}
	return k
}

func compare16(a, b [16]byte) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// preAck looks at the acknowledgement of a packet of a connection with a
// hole before gopacket sees the packet: when it shows the hole lost, the
// hole is filled first, so that what was queued behind it (a request sent
// after a lost one) is parsed before the packet (its response).
func (w *Worker) preAck(p *Packet) {
	if w.holePorts == nil || w.holePorts[p.SrcPort^p.DstPort] == 0 {
		return
	}
	s, ok := w.holeTab[synKeyOf(p)]
	if !ok || s.closed {
		return
	}
	d := http1.DirA
	if p.Src != s.a.Addr() || p.SrcPort != s.a.Port() {
		d = http1.DirB
	}
	h, tcp := &s.holes.d[d&1], p.TCP
	if !h.acked || seqAfter(tcp.Ack, h.ack) {
		h.ack, h.acked = tcp.Ack, true
	}
	s.checkHole(d^1, len(tcp.Payload) > 0 || tcp.FIN, p.CI.Timestamp)
	if len(w.fills) > 0 {
		w.runFills()
	}
}

// HasHoles reports whether some connection has a hole that a pure ACK may
// resolve (Ack does nothing otherwise).
func (w *Worker) HasHoles() bool { return len(w.holeTab) > 0 }

// Ack feeds a pure ACK (no payload, no SYN, FIN or RST). The sensor does
// not hand those to Packet; Ack looks at one only when its connection has a
// hole that the ACK may show to be lost, so the common case costs one map
// length test.
func (w *Worker) Ack(p *Packet) {
	if len(w.holeTab) == 0 {
		return
	}
	s, ok := w.holeTab[synKeyOf(p)]
	if !ok || s.closed {
		return
	}
	if ts := p.CI.Timestamp; ts.After(w.now) {
		w.now = ts
	}
	w.assemble(p)
}

// runFills hands gopacket the filler segments scheduled while the last
// packet was assembled.
func (w *Worker) runFills() {
	for len(w.fills) > 0 {
		f := w.fills[0]
		w.fills = append(w.fills[:0], w.fills[1:]...)
		w.fill(f.s, f.d)
	}
}

// fill hands gopacket zero bytes covering the hole of direction d of s.
func (w *Worker) fill(s *stream, d http1.Dir) {
	h := &s.holes.d[d&1]
	if !h.fillDue {
		return
	}
	seq, n := h.fillSeq, h.fillN
	if h.nxt != seq { // the hole moved since (delivered or skipped otherwise)
		h.fillDue = false
		h.swallow = max(0, h.swallow-n)
		return
	}
	if w.fillBuf == nil {
		w.fillBuf = make([]byte, 20+fillChunk)
	}
	src, dst := s.a, s.b
	flow := s.netFlow
	if d != http1.DirA {
		src, dst = dst, src
		flow = flow.Reverse()
	}
	p := &w.fillPkt
	*p = Packet{NetFlow: flow, CI: gopacket.CaptureInfo{Timestamp: w.now}, Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port()}
	w.filling = true
	for n > 0 && !s.closed {
		k := min(n, fillChunk)
		b := w.fillBuf[:20+k]
		binary.BigEndian.PutUint16(b[0:], src.Port())
		binary.BigEndian.PutUint16(b[2:], dst.Port())
		binary.BigEndian.PutUint32(b[4:], seq)
		binary.BigEndian.PutUint32(b[8:], 0)
		b[12], b[13] = 5<<4, 0x08 // header length 20, PSH
		binary.BigEndian.PutUint16(b[14:], 65535)
		if w.fillTCP.DecodeFromBytes(b, gopacket.NilDecodeFeedback) != nil {
			break
		}
		p.TCP = &w.fillTCP
		w.assemble(p)
		seq += uint32(k)
		n -= k
		if h.nxt != seq {
			break // gopacket did not deliver it
		}
	}
	w.filling = false
	h.fillDue = false
	if h.nxt != seq || n > 0 {
		h.swallow = 0 // gopacket did not take all of it (closed half)
	}
	clear(w.fillBuf[:20])
}
