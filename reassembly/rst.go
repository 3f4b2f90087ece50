package reassembly

import (
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// RSTs judged by what follows.
//
// A RST ends a connection only if the endpoint that receives it honours
// it, and an attacker who wants the sensor to stop reading while the server
// reads on sends one the server drops (bad checksum, out of window, a
// TCP-MD5 or TCP-AO option on a connection without them). The sensor can not
// check most of those conditions, but it sees the consequence: a connection
// whose RST was honoured carries nothing more. So a RST is held back from
// gopacket until the next packet of its connection:
//   - data or a FIN from the side that sent the RST (a stack that reset a
//     connection sends nothing more on it), or a SYN-ACK: the RST was not
//     honoured; it is dropped and counted (Stats.RSTIgnored), and the
//     connection goes on;
//   - a new SYN on the same addresses, another RST, or nothing for
//     rstHold of capture time (and at Close): it is handed to gopacket and
//     ends the connection as before;
//   - data from the receiving side goes on to gopacket while the RST is
//     held (it may have been in flight when the RST was sent).
//
// A RST carrying a TCP-MD5 (kind 19) or TCP-AO (kind 29) option is held the
// same way. Held RSTs are few (a bounded table, the oldest applied when it
// is full), and a packet pays for a lookup only while some are held.

// rstHold is how long a RST waits for the connection to carry on.
const rstHold = time.Second

// maxHeldRSTs bounds the table per worker.
const maxHeldRSTs = 4096

type heldRST struct {
	pkt  Packet
	hdr  [maxTCPHeader]byte
	hlen uint8
	at   time.Time
	src  [16]byte // the sender
	sp   uint16
}

type rstTable struct {
	m     map[synKey]*heldRST
	order []synKey // FIFO, may hold keys applied already
	free  []*heldRST
	tcp   layers.TCP
}

// holdRST keeps a RST back (see above). It reports false when the RST must
// go to gopacket at once.
func (w *Worker) holdRST(p *Packet) bool {
	t := &w.rsts
	if len(p.TCP.Contents) > maxTCPHeader || len(p.TCP.Contents) < 20 {
		return false
	}
	k := synKeyOf(p)
	if _, ok := t.m[k]; ok {
		w.applyRST(k) // a second RST: the first one stands
		return false
	}
	if t.m == nil {
		t.m = make(map[synKey]*heldRST)
	}
	for len(t.m) >= maxHeldRSTs && len(t.order) > 0 {
		o := t.order[0]
		t.order = t.order[1:]
		w.applyRST(o)
	}
	var e *heldRST
	if n := len(t.free); n > 0 {
		e, t.free = t.free[n-1], t.free[:n-1]
	} else {
		e = new(heldRST)
	}
	e.pkt = *p
	e.pkt.TCP, e.pkt.CI.AncillaryData = nil, nil
	e.hlen = uint8(copy(e.hdr[:], p.TCP.Contents))
	e.at = p.CI.Timestamp
	e.src, e.sp = p.Src.As16(), p.SrcPort
	t.m[k] = e
	t.order = append(t.order, k)
	return true
}

// rstNext looks at a packet (not a RST) of a connection that may have a
// held RST, before it is assembled.
func (w *Worker) rstNext(p *Packet) {
	t := &w.rsts
	k := synKeyOf(p)
	e, ok := t.m[k]
	if !ok {
		return
	}
	tcp := p.TCP
	fromSender := p.Src.As16() == e.src && p.SrcPort == e.sp
	switch {
	case tcp.SYN && !tcp.ACK: // a new connection on the same addresses
		w.applyRST(k)
	case tcp.SYN && tcp.ACK, fromSender && (len(tcp.Payload) > 0 || tcp.FIN):
		w.Stats.RSTIgnored++
		w.dropRST(k)
	}
}

// applyRST hands a held RST to gopacket.
func (w *Worker) applyRST(k synKey) {
	t := &w.rsts
	e, ok := t.m[k]
	if !ok {
		return
	}
	delete(t.m, k)
	if t.tcp.DecodeFromBytes(e.hdr[:e.hlen], gopacket.NilDecodeFeedback) == nil {
		e.pkt.TCP = &t.tcp
		w.assemble(&e.pkt)
		e.pkt.TCP = nil
	}
	t.free = append(t.free, e)
}

func (w *Worker) dropRST(k synKey) {
	t := &w.rsts
	if e, ok := t.m[k]; ok {
		delete(t.m, k)
		t.free = append(t.free, e)
	}
}

// expireRSTs applies the RSTs held longer than rstHold (all with all).
func (w *Worker) expireRSTs(all bool) {
	t := &w.rsts
	old := w.now.Add(-rstHold)
	for len(t.order) > 0 {
		k := t.order[0]
		if e, ok := t.m[k]; ok {
			if !all && !e.at.Before(old) {
				break
			}
			w.applyRST(k)
		}
		t.order = t.order[1:]
	}
	if len(t.order) == 0 {
		t.order = t.order[:0:0]
	}
}
