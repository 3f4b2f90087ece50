package websocket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
)

// Handler receives each complete message (see Message for lifetimes).
type Handler func(m *Message)

// Limits bound what one connection holds. Zero values take the defaults.
type Limits struct {
	// MaxMessageBytes of a message's payload are kept (after inflation);
	// default 64 KiB.
	MaxMessageBytes int
	// MaxCompressedBytes of a compressed message are held until it ends
	// (the rest is not inflated: flag truncated); default 4 x
	// MaxMessageBytes.
	MaxCompressedBytes int
	// MaxDecodedRatio stops inflating a message past this ratio of
	// inflated to compressed bytes (bomb bound); default 100.
	MaxDecodedRatio int
	// MaxMessages are reported per connection (both directions, close
	// messages included); later messages are parsed as frames only (not
	// kept, not inflated) and counted as CappedMessages. Default 100000.
	MaxMessages int
}

// WithDefaults fills zero fields.
func (l Limits) WithDefaults() Limits {
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = 64 << 10
	}
	if l.MaxCompressedBytes <= 0 {
		l.MaxCompressedBytes = 4 * l.MaxMessageBytes
	}
	if l.MaxDecodedRatio <= 0 {
		l.MaxDecodedRatio = 100
	}
	if l.MaxMessages <= 0 {
		l.MaxMessages = 100000
	}
	return l
}

// Stats counts what the Conns of one worker did (no locks: the worker's
// goroutine owns them).
type Stats struct {
	Upgrades uint64 // connections upgraded by a captured handshake
	Joined   uint64 // connections recognised by their frames (handshake not captured)
	Frames   uint64
	Messages uint64 // text, binary and close messages reported
	Pings    uint64
	Pongs    uint64
	// Compressed messages, and those that could not be inflated.
	Compressed, DecodeErrors uint64
	// Truncated messages (a bound cut them); TruncatedBytes payload bytes
	// not kept.
	Truncated, TruncatedBytes uint64
	// ProtocolErrors: frame headers that break RFC 6455 (the parser then
	// hunts for the next frame boundary); Resyncs: hunts started (after
	// those, a gap, or a join); SkippedBytes: bytes passed over while
	// hunting.
	ProtocolErrors, Resyncs, SkippedBytes uint64
	// LostMessages: messages whose start was not seen (a join or a gap
	// in the middle of them) or that were cut by damage: not reported.
	LostMessages uint64
	// CappedMessages: messages of connections past Limits.MaxMessages,
	// not reported.
	CappedMessages uint64
}

// Add adds o to s.
func (s *Stats) Add(o *Stats) {
	s.Upgrades += o.Upgrades
	s.Joined += o.Joined
	s.Frames += o.Frames
	s.Messages += o.Messages
	s.Pings += o.Pings
	s.Pongs += o.Pongs
	s.Compressed += o.Compressed
	s.DecodeErrors += o.DecodeErrors
	s.Truncated += o.Truncated
	s.TruncatedBytes += o.TruncatedBytes
	s.ProtocolErrors += o.ProtocolErrors
	s.Resyncs += o.Resyncs
	s.SkippedBytes += o.SkippedBytes
	s.LostMessages += o.LostMessages
	s.CappedMessages += o.CappedMessages
}

// windowSize is the deflate window kept per direction (context takeover).
const windowSize = 32 << 10

// half is the state of one direction.
type half struct {
	client  bool // this direction is the client's (masked frames)
	hunting bool
	hdr     [14]byte
	nhdr    int
	fr      header // the frame in progress (valid when inFrame)
	inFrame bool
	left    int64 // payload bytes left in the frame
	moff    int   // mask offset
	// the message in progress
	inMsg      bool
	skip       bool // discarding a message whose start was lost
	op         Opcode
	compressed bool
	frags      int
	wire       int64
	start      time.Time
	raw        []byte // payload, or compressed bytes
	trunc      bool
	ctl        []byte // control frame payload
	ctlStart   time.Time
	window     []byte // inflate history (context takeover)
	noContext  bool   // each message compressed on its own
}

// Conn is the WebSocket state of one TCP connection: directions are
// numbered as by the reassembler (0 and 1).
type Conn struct {
	lim     Limits
	st      *Stats
	h       Handler
	half    [2]half
	deflate bool
	msg     Message
	out     []byte
	buf     []byte
	rd      bytes.Reader
	inf     io.ReadCloser
	n       int // messages reported
}

// Reset prepares c for a connection whose client is direction client,
// with the negotiated extensions, keeping its buffers. joined says the
// handshake was not captured: both directions start by hunting for a frame
// boundary, and permessage-deflate is assumed possible (RSV1 tells).
func (c *Conn) Reset(lim Limits, st *Stats, h Handler, client uint8, ext Extensions, joined bool) {
	c.lim, c.st, c.h = lim.WithDefaults(), st, h
	c.deflate = ext.Deflate || joined
	c.n = 0
	for i := range c.half {
		hf := &c.half[i]
		*hf = half{raw: hf.raw[:0], ctl: hf.ctl[:0], window: hf.window[:0]}
		hf.client = uint8(i) == client&1
		hf.hunting = joined
		hf.noContext = hf.client && ext.ClientNoContext || !hf.client && ext.ServerNoContext
		if cap(hf.raw) > 1<<20 {
			hf.raw = nil
		}
	}
	if joined {
		st.Joined++
		st.Resyncs += 2
	} else {
		st.Upgrades++
	}
}

// Gap says bytes of direction d were lost: the message in progress is
// lost, the inflate history too, and parsing resumes at the next frame
// boundary found.
func (c *Conn) Gap(d uint8) {
	hf := &c.half[d&1]
	c.lose(hf)
	hf.window = hf.window[:0]
	if !hf.hunting {
		hf.hunting = true
		c.st.Resyncs++
	}
}

// lose drops the message and frame in progress.
func (c *Conn) lose(hf *half) {
	if hf.inMsg || hf.skip {
		c.st.LostMessages++
	}
	hf.inMsg, hf.skip, hf.inFrame, hf.nhdr, hf.left = false, false, false, 0, 0
	hf.raw, hf.ctl, hf.trunc = hf.raw[:0], hf.ctl[:0], false
}

// Data feeds in-order bytes of direction d; first and last are the
// capture times of b's first and last byte.
func (c *Conn) Data(d uint8, b []byte, first, last time.Time) {
	hf := &c.half[d&1]
	for len(b) > 0 {
		if hf.hunting {
			i := hunt(b, hf.client, c.deflate)
			if i < 0 && chainState(b, 0, hf.client, c.deflate) == 0 {
				// a frame at the start of the chunk that goes on past
				// it: taken on trust (a segment usually starts with a
				// write); a wrong guess ends in a protocol error
				i = 0
			}
			if i < 0 {
				c.st.SkippedBytes += uint64(len(b))
				return
			}
			c.st.SkippedBytes += uint64(i)
			b = b[i:]
			hf.hunting = false
		}
		if !hf.inFrame {
			n := min(len(b), len(hf.hdr)-hf.nhdr)
			copy(hf.hdr[hf.nhdr:], b[:n])
			h, size := parseHeader(hf.hdr[:hf.nhdr+n], hf.client, c.deflate, false)
			if size == 0 {
				hf.nhdr += n
				return
			}
			if size < 0 {
				c.st.ProtocolErrors++
				c.lose(hf)
				hf.window = hf.window[:0]
				hf.hunting = true
				c.st.Resyncs++
				if hf.nhdr == 0 {
					b = b[1:] // hunt from the next byte
				}
				hf.nhdr = 0
				continue
			}
			b = b[size-hf.nhdr:]
			hf.nhdr = 0
			c.beginFrame(hf, &h, first)
			if hf.left == 0 {
				c.endFrame(hf, last)
				continue
			}
		}
		n := int(min(hf.left, int64(len(b))))
		c.payload(hf, b[:n])
		hf.left -= int64(n)
		b = b[n:]
		if hf.left == 0 {
			c.endFrame(hf, last)
		}
	}
}

// beginFrame starts the frame whose header was read.
func (c *Conn) beginFrame(hf *half, h *header, ts time.Time) {
	c.st.Frames++
	hf.fr, hf.inFrame, hf.left, hf.moff = *h, true, h.length, 0
	switch {
	case h.op >= OpClose:
		hf.ctl, hf.ctlStart = hf.ctl[:0], ts
	case h.op != OpContinuation:
		if hf.inMsg || hf.skip { // a new message before the last one ended
			c.st.ProtocolErrors++
			c.lose(hf)
			hf.inFrame, hf.left = true, h.length
		}
		hf.inMsg, hf.op, hf.compressed = true, h.op, h.rsv1
		hf.frags, hf.wire, hf.start, hf.trunc = 1, 0, ts, false
		hf.raw = hf.raw[:0]
	case hf.inMsg:
		hf.frags++
	default: // a continuation whose message started before what we saw
		hf.skip = true
	}
}

// payload takes frame payload bytes.
func (c *Conn) payload(hf *half, b []byte) {
	if len(b) == 0 {
		return
	}
	if hf.fr.op >= OpClose {
		hf.ctl = c.unmask(hf, hf.ctl, b)
		return
	}
	if !hf.inMsg {
		return
	}
	hf.wire += int64(len(b))
	if c.full() {
		return // not reported: not kept
	}
	bound := c.lim.MaxMessageBytes
	if hf.compressed {
		bound = c.lim.MaxCompressedBytes
	}
	n := min(len(b), bound-len(hf.raw))
	if n < len(b) {
		hf.trunc = true
		if !hf.compressed {
			c.st.TruncatedBytes += uint64(len(b) - max(n, 0))
		}
	}
	if n > 0 {
		hf.raw = c.unmask(hf, hf.raw, b[:n])
	}
	hf.moff = (hf.moff + len(b) - max(n, 0)) & 3
}

// unmask appends b to dst, unmasked when the frame is masked.
func (c *Conn) unmask(hf *half, dst, b []byte) []byte {
	start := len(dst)
	dst = append(dst, b...)
	if hf.fr.masked {
		m := hf.fr.mask
		o := hf.moff
		for i := start; i < len(dst); i++ {
			dst[i] ^= m[o&3]
			o++
		}
		hf.moff = o & 3
	}
	return dst
}

// endFrame completes the frame in progress.
func (c *Conn) endFrame(hf *half, ts time.Time) {
	hf.inFrame = false
	op := hf.fr.op
	switch {
	case op == OpPing:
		c.st.Pings++
	case op == OpPong:
		c.st.Pongs++
	case op == OpClose:
		m := &c.msg
		*m = Message{FromClient: hf.client, Opcode: OpClose, WireBytes: int64(len(hf.ctl)), Fragments: 1, Start: hf.ctlStart, End: ts}
		if len(hf.ctl) >= 2 {
			m.CloseCode = binary.BigEndian.Uint16(hf.ctl)
			if r := hf.ctl[2:]; utf8.Valid(r) {
				m.CloseReason = string(r)
			}
		}
		c.emit(m)
	case !hf.fr.fin:
	case hf.skip:
		hf.skip = false
		c.st.LostMessages++
	case hf.inMsg:
		hf.inMsg = false
		c.endMessage(hf, ts)
	}
}

// endMessage reports the message in progress.
func (c *Conn) endMessage(hf *half, ts time.Time) {
	if c.full() {
		c.st.CappedMessages++
		hf.raw = hf.raw[:0]
		return
	}
	m := &c.msg
	*m = Message{FromClient: hf.client, Opcode: hf.op, WireBytes: hf.wire, Fragments: hf.frags,
		Compressed: hf.compressed, Truncated: hf.trunc, Start: hf.start, End: ts}
	if !hf.compressed {
		m.Data, m.Size = hf.raw, hf.wire
	} else {
		c.st.Compressed++
		c.inflate(hf, m)
	}
	if m.Truncated {
		c.st.Truncated++
	}
	c.emit(m)
	hf.raw = hf.raw[:0]
	if cap(hf.raw) > 1<<20 {
		hf.raw = nil
	}
}

// errBomb stops inflating past the ratio bound.
var errBomb = errors.New("decoded ratio exceeded")

// inflate decodes a permessage-deflate message into m.Data (RFC 7692,
// 7.2.2: the payload with 00 00 ff ff appended is raw DEFLATE). With
// context takeover the direction's history is the dictionary.
func (c *Conn) inflate(hf *half, m *Message) {
	in := append(hf.raw, 0, 0, 0xff, 0xff)
	hf.raw = in
	c.rd.Reset(in)
	var dict []byte
	if !hf.noContext {
		dict = hf.window
	}
	if c.inf == nil {
		c.inf = flate.NewReaderDict(&c.rd, dict)
	} else if err := c.inf.(flate.Resetter).Reset(&c.rd, dict); err != nil {
		c.inf = flate.NewReaderDict(&c.rd, dict)
	}
	if c.buf == nil {
		c.buf = make([]byte, 16<<10)
	}
	out := c.out[:0]
	var total int64
	limit := int64(c.lim.MaxDecodedRatio) * int64(len(in))
	var err error
	for {
		var n int
		n, err = c.inf.Read(c.buf)
		if n > 0 {
			chunk := c.buf[:n]
			total += int64(n)
			if k := min(n, c.lim.MaxMessageBytes-len(out)); k > 0 {
				out = append(out, chunk[:k]...)
			}
			if !hf.noContext {
				hf.window = appendWindow(hf.window, chunk)
			}
			if total > limit {
				err = errBomb
				break
			}
		}
		if err != nil {
			break
		}
	}
	c.out = out
	if cap(c.out) > 1<<20 {
		c.out = nil
	}
	m.Size = total
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		// the end of the message: the sync marker, or a final block
		if hf.trunc { // compressed bytes were cut: the history is lost
			hf.window = hf.window[:0]
		}
	case errors.Is(err, errBomb):
		m.Truncated = true
		hf.window = hf.window[:0]
	default:
		m.DecodeError = true
		c.st.DecodeErrors++
		hf.window = hf.window[:0]
		out = out[:0]
	}
	if total > int64(len(out)) && !m.DecodeError {
		m.Truncated = true
		c.st.TruncatedBytes += uint64(total - int64(len(out)))
	}
	m.Data = out
}

// appendWindow keeps the last windowSize bytes of w followed by b.
func appendWindow(w, b []byte) []byte {
	if len(b) >= windowSize {
		return append(w[:0], b[len(b)-windowSize:]...)
	}
	if over := len(w) + len(b) - windowSize; over > 0 {
		w = w[:copy(w, w[over:])]
	}
	return append(w, b...)
}

// full says the connection reported Limits.MaxMessages messages.
func (c *Conn) full() bool { return c.n >= c.lim.MaxMessages }

func (c *Conn) emit(m *Message) {
	if c.full() {
		c.st.CappedMessages++
		return
	}
	c.n++
	c.st.Messages++
	if c.h != nil {
		c.h(m)
	}
}

// Counts lists the non-zero counters by name (the stats event's
// websocket object), sorted by name.
func (s *Stats) Counts() []Count {
	all := []Count{
		{"capped_messages", s.CappedMessages}, {"compressed", s.Compressed}, {"decode_errors", s.DecodeErrors}, {"frames", s.Frames},
		{"joined", s.Joined}, {"lost_messages", s.LostMessages}, {"messages", s.Messages},
		{"pings", s.Pings}, {"pongs", s.Pongs}, {"protocol_errors", s.ProtocolErrors},
		{"resyncs", s.Resyncs}, {"skipped_bytes", s.SkippedBytes}, {"truncated", s.Truncated},
		{"truncated_bytes", s.TruncatedBytes}, {"upgrades", s.Upgrades},
	}
	out := all[:0]
	for _, c := range all {
		if c.N > 0 {
			out = append(out, c)
		}
	}
	return out
}

// Count is one named counter.
type Count struct {
	Name string
	N    uint64
}
