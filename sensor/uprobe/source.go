package uprobe

import (
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/sensor/capture"
)

// Source turns the probes' plaintext into raw IP frames for one pipeline
// worker (capture.Source): its Next and Info run on that worker's
// goroutine, which owns the connection table.
type Source struct {
	items <-chan *item
	free  chan<- *item
	done  <-chan struct{}
	conns map[flowKey]*srcConn
	dead  []flowKey // ended: forgotten at the next call (Info may still ask)
	cur   *item
	steps []step
	step  int
	buf   []byte
	timer *time.Timer
}

type srcConn struct {
	info *reassembly.TLSInfo
	seq  [2]uint32 // next sequence number: [0] client, [1] server (SYNs at 0)
}

// pollTimeout is how long Next waits for plaintext before it returns
// capture.ErrTimeout (the worker then advances its clock and hands on what
// it completed).
const pollTimeout = 50 * time.Millisecond // as the AF_PACKET sources

func newSource(items <-chan *item, free chan<- *item, done <-chan struct{}) *Source {
	return &Source{items: items, free: free, done: done, conns: make(map[flowKey]*srcConn)}
}

// Name implements capture.Source.
func (s *Source) Name() string { return "tls-uprobes" }

// LinkType implements capture.Source: raw IP.
func (s *Source) LinkType() layers.LinkType { return layers.LinkTypeRaw }

// Close implements capture.Source (the Manager owns what feeds it).
func (s *Source) Close() error { return nil }

// Info is the TLS description of a connection's transactions (the
// reassembly worker's SetPlainSource).
func (s *Source) Info(f *reassembly.Flow) *reassembly.TLSInfo {
	if c := s.conns[flowKey{f.Client, f.Server}]; c != nil {
		return c.info
	}
	return nil
}

// Next implements capture.Source: the next frame, ErrTimeout when nothing
// came within pollTimeout, io.EOF once the Manager is closed.
func (s *Source) Next() ([]byte, gopacket.CaptureInfo, error) {
	for {
		if it := s.cur; it != nil {
			if b, ok := s.frame(it); ok {
				s.step++
				return b, gopacket.CaptureInfo{Timestamp: it.ts, CaptureLength: len(b), Length: len(b)}, nil
			}
			s.cur = nil
			select {
			case s.free <- it:
			default:
			}
		}
		for _, k := range s.dead {
			delete(s.conns, k)
		}
		s.dead = s.dead[:0]
		it, err := s.wait()
		if err != nil {
			return nil, gopacket.CaptureInfo{}, err
		}
		s.cur, s.step = it, 0
		s.plan(it)
	}
}

func (s *Source) wait() (*item, error) {
	select {
	case it := <-s.items:
		return it, nil
	default:
	}
	if s.timer == nil {
		s.timer = time.NewTimer(pollTimeout)
	} else {
		s.timer.Reset(pollTimeout)
	}
	select {
	case it := <-s.items:
		s.timer.Stop()
		return it, nil
	case <-s.timer.C:
		return nil, capture.ErrTimeout
	case <-s.done:
		s.timer.Stop()
		select { // what was queued before the end
		case it := <-s.items:
			return it, nil
		default:
		}
		return nil, io.EOF
	}
}

// step is one frame to send for an item.
type step struct {
	fromClient bool
	flags      uint8
	data       bool
}

// plan lists the frames of an item: a new connection's handshake, then
// its data or its FINs.
func (s *Source) plan(it *item) {
	s.steps = s.steps[:0]
	c := s.conns[it.key]
	if c == nil {
		if it.kind == itemClose {
			return
		}
		// a new connection (or data of one this table no longer has):
		// its handshake first
		s.conns[it.key] = &srcConn{info: it.info}
		s.steps = append(s.steps, step{true, flagSYN, false}, step{false, flagSYN | flagACK, false}, step{true, flagACK, false})
	}
	switch it.kind {
	case itemData:
		s.steps = append(s.steps, step{it.fromClient, flagPSH | flagACK, true})
	case itemClose:
		s.steps = append(s.steps, step{true, flagFIN | flagACK, false}, step{false, flagFIN | flagACK, false})
		s.dead = append(s.dead, it.key)
	}
}

// frame builds the item's next frame, false when it has no more.
func (s *Source) frame(it *item) ([]byte, bool) {
	if s.step >= len(s.steps) {
		return nil, false
	}
	st := s.steps[s.step]
	c := s.conns[it.key]
	d, src, dst := 0, it.key.client, it.key.server
	if !st.fromClient {
		d, src, dst = 1, it.key.server, it.key.client
	}
	var payload []byte
	if st.data {
		c.seq[d] += it.skip
		payload = it.data
		if len(payload) > maxPayload {
			payload = payload[:maxPayload]
		}
	}
	ack := c.seq[1-d]
	if st.flags&flagACK == 0 {
		ack = 0
	}
	s.buf = appendFrame(s.buf[:0], src, dst, c.seq[d], ack, st.flags, payload)
	c.seq[d] += uint32(len(payload))
	if st.flags&(flagSYN|flagFIN) != 0 {
		c.seq[d]++
	}
	return s.buf, true
}
