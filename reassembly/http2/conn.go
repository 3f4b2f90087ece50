package http2

import (
	"time"

	xh2 "golang.org/x/net/http2"

	"github.com/apitap/apitap/reassembly/grpc"
	"github.com/apitap/apitap/reassembly/http1"
)

// Bounds of one connection.
const (
	// MaxStreams bounds the open streams tracked per connection (servers
	// usually allow 100 to 250 concurrent ones); the oldest is reported,
	// flagged truncated, to make room.
	MaxStreams = 256
	// maxControlPayload is what is kept of a control frame's payload
	// (SETTINGS, GOAWAY, ...): the fields apitap reads; the rest is skipped.
	maxControlPayload = 64
	// maxHuntBytes bounds what a direction holds while it hunts for a
	// frame boundary; older bytes are dropped.
	maxHuntBytes = 64 << 10
)

// Env is what the Conns of one worker share.
type Env struct {
	// Limits bound header blocks, header fields and kept body bytes; its
	// Budget (when set) the bytes held by all the worker's parsers.
	Limits *http1.Limits
	Stats  *Stats
	GRPC   *grpc.Decoder
	// free holds recycled streams (at most maxFreeStreams, their
	// buffers trimmed to keepBuffer bytes).
	free []*stream
	// the decoded fields of the header block being handled, and the
	// scratch space of its literals: header blocks are decoded one at a
	// time, so the worker's connections share them
	fields  []Field
	scratch appender
}

// Recycling bounds: streams kept for reuse per Env, and the buffer
// capacity a recycled stream or connection keeps (larger buffers are
// dropped: memory not charged to the budget stays small).
const (
	maxFreeStreams = 32
	keepBuffer     = 8 << 10   // connection buffers (frames, header blocks, hunts)
	keepBody       = 128 << 10 // a stream's body buffers (the default max_body_bytes, and append's slack)
)

// trim returns b emptied, or nil when its capacity is over keepBuffer.
func trim[T any](b []T, max int) []T {
	if cap(b) > max {
		return nil
	}
	return b[:0]
}

// half states.
const (
	hIdle    uint8 = iota // not started
	hPreface              // expecting the client preface
	hHeader               // expecting a frame header
	hPayload              // collecting a frame payload
	hData                 // streaming a DATA payload
	hSkip                 // skipping a payload
	hHunt                 // looking for a frame boundary
	hDone                 // closed
)

// half is the parser state of one direction.
type half struct {
	d    http1.Dir
	st   uint8
	hdr  [frameHeaderLen]byte
	nh   int
	fh   frameHeader
	left uint32 // payload bytes still to come
	pre  int    // preface bytes matched
	pay  []byte // payload being collected
	pad  int    // DATA: padding bytes at the end of the payload (-1: pad length not read yet)
	str  *stream
	// the header block being collected (HEADERS or PUSH_PROMISE and its
	// CONTINUATIONs)
	block      []byte
	blockOpen  bool
	blockLost  bool // a fragment was lost or too large: the block can not be decoded
	blockID    uint32
	blockEnd   bool // END_STREAM on the HEADERS frame
	blockPush  bool
	promised   uint32
	blockStart time.Time
	blockWire  int // wire bytes of the block's frames
	dec        decoder
	hunt       []byte
	huntSpare  []byte
	hunted     bool // counted the current hunt
	scan       Scanner
	held       int // bytes of pay, block and hunt charged to the budget
	lastTS     time.Time
}

// Conn is the HTTP/2 state of one TCP connection.
type Conn struct {
	env     *Env
	h       Handler
	half    [2]half
	client  http1.Dir
	known   bool // client direction known
	hint    http1.Dir
	start   Start
	started bool
	late    bool // the connection's start was not seen (or a header block was lost): fields may be unresolved
	streams []*stream
	ex      Exchange
	// trace, in tests, sees every decoded header block (stream id).
	trace func(h *half, id uint32, fields []Field)
	// decode quality of this connection
	fields0, unresolved0 uint64
}

// NewConn returns a Conn parsing with env, reporting to h.
func NewConn(env *Env, h Handler) *Conn {
	c := &Conn{}
	c.Reset(env, h)
	return c
}

// Reset prepares c for a new connection, keeping its buffers. Bytes it
// held are given back to the budget.
func (c *Conn) Reset(env *Env, h Handler) {
	if c.env != nil {
		for i := range c.half {
			c.release(c.half[i].held)
		}
		for _, s := range c.streams {
			c.release(s.held)
			s.held = 0
			c.recycle(s)
		}
	}
	c.env, c.h = env, h
	for i := range c.half {
		old := &c.half[i]
		c.half[i] = half{d: http1.Dir(i), pay: trim(old.pay, keepBuffer), block: trim(old.block, keepBuffer), hunt: trim(old.hunt, keepBuffer),
			huntSpare: trim(old.huntSpare, keepBuffer), dec: old.dec}
		c.half[i].dec.reset(false)
		if len(c.half[i].dec.ring) > 256 {
			c.half[i].dec.ring, c.half[i].dec.next = nil, 0
		}
	}
	c.streams = trim(c.streams, MaxStreams)
	c.client, c.known, c.hint, c.start, c.started, c.late = http1.DirA, false, http1.DirA, 0, false, false
	c.fields0, c.unresolved0 = 0, 0
}

// Start begins parsing. client is the direction that carries requests
// when known; otherwise the roles are learned from the first header blocks
// (pseudo-headers), with hint as the guess when a block does not tell.
func (c *Conn) Start(how Start, client http1.Dir, known bool, hint http1.Dir) {
	c.start, c.started = how, true
	c.client, c.known, c.hint = client, known, hint
	c.env.Stats.Conns[how]++
	for i := range c.half {
		h := &c.half[i]
		switch {
		case how == StartMidStream:
			h.st = hHunt
			h.dec.reset(true)
			c.late = true
		case known && h.d == client:
			h.st = hPreface
		default:
			h.st = hHeader
		}
	}
}

// Started reports whether Start was called since the last Reset.
func (c *Conn) Started() bool { return c.started }

// ClientKnown reports whether the client direction is known, and which.
func (c *Conn) ClientKnown() (http1.Dir, bool) { return c.client, c.known }

// charge takes n bytes from the budget.
func (c *Conn) charge(held *int, n int) bool {
	b := c.env.Limits.Budget
	if b == nil || n <= 0 {
		*held += max(n, 0)
		return true
	}
	if b.Max > 0 && b.Used+int64(n) > b.Max {
		b.Denied++
		return false
	}
	b.Used += int64(n)
	*held += n
	return true
}

// release gives n bytes back.
func (c *Conn) release(n int) {
	if b := c.env.Limits.Budget; b != nil && n > 0 {
		b.Used -= int64(n)
	}
}

// grow appends b to *buf, charging the budget; it reports false (and
// appends nothing) when the budget refuses.
func (c *Conn) grow(held *int, buf *[]byte, b []byte) bool {
	if extra := len(*buf) + len(b) - cap(*buf); extra > 0 || c.env.Limits.Budget != nil {
		if !c.charge(held, len(b)) {
			return false
		}
	}
	*buf = append(*buf, b...)
	return true
}

// Data feeds in-order bytes of direction d; first and last are the capture
// times of their first and last byte.
func (c *Conn) Data(d http1.Dir, b []byte, first, last time.Time) {
	h := &c.half[d&1]
	if !c.started || h.st == hDone || h.st == hIdle || len(b) == 0 {
		return
	}
	h.lastTS = last
	if h.st == hHunt && h.d == c.clientDir() {
		defer func() {
			if h.st != hHunt {
				c.synced()
			}
		}()
	}
	var drained []byte // a hunt buffer being parsed
	for len(b) > 0 {
		switch h.st {
		case hPreface:
			n := min(len(b), len(Preface)-h.pre)
			if string(b[:n]) != Preface[h.pre:h.pre+n] {
				// not the preface after all: find frames
				c.env.Stats.FrameErrors++
				h.st = hHunt
				continue
			}
			h.pre += n
			b = b[n:]
			if h.pre == len(Preface) {
				h.st = hHeader
			}
		case hHeader:
			if h.nh == 0 && len(b) >= frameHeaderLen {
				h.fh = parseFrameHeader(b)
				b = b[frameHeaderLen:]
			} else {
				n := copy(h.hdr[h.nh:], b)
				h.nh += n
				b = b[n:]
				if h.nh < frameHeaderLen {
					break
				}
				h.nh = 0
				h.fh = parseFrameHeader(h.hdr[:])
			}
			b = c.beginFrame(h, b, first)
		case hPayload:
			if len(h.pay) == 0 && uint32(len(b)) >= h.left {
				// the whole payload is here: no copy
				p := b[:h.left]
				b = b[h.left:]
				h.left = 0
				c.endFrame(h, p, first)
				break
			}
			n := min(uint32(len(b)), h.left)
			if !c.grow(&h.held, &h.pay, b[:n]) {
				// the budget refused: the frame is lost (a header
				// block with it: the table can not be trusted after)
				c.releasePay(h)
				if isBlockFrame(h.fh.typ) {
					c.openBlock(h, h.fh, first)
					h.blockLost = true
				}
				h.st = hSkip
				break
			}
			h.left -= n
			b = b[n:]
			if h.left == 0 {
				p := h.pay
				c.endFrame(h, p, first)
				c.releasePay(h)
			}
		case hData:
			b = c.data(h, b)
		case hSkip:
			n := min(uint32(len(b)), h.left)
			h.left -= n
			b = b[n:]
			if h.left == 0 {
				c.afterSkip(h, first)
			}
		case hHunt:
			if drained != nil {
				// damage inside bytes a hunt found: hunt in the rest
				rest := b
				b, drained = nil, nil
				if !c.grow(&h.held, &h.hunt, rest) {
					c.dropHunt(h)
					return
				}
			} else if !c.grow(&h.held, &h.hunt, b) {
				c.dropHunt(h)
				return
			}
			if !h.hunted {
				h.hunted = true
				c.env.Stats.Resyncs++
			}
			off, r := h.scan.Find(h.hunt)
			if r != huntFound {
				if off < len(h.hunt)-maxHuntBytes {
					off = len(h.hunt) - maxHuntBytes
				}
				c.env.Stats.SkippedBytes += uint64(off)
				n := copy(h.hunt, h.hunt[off:])
				c.release(len(h.hunt) - n)
				h.held -= len(h.hunt) - n
				h.hunt = h.hunt[:n]
				h.scan.Trim(off)
				return
			}
			c.env.Stats.SkippedBytes += uint64(off)
			h.hunted = false
			h.scan.Reset()
			h.st, h.nh = hHeader, 0
			// parse the held bytes from the boundary; the hunt buffer is
			// swapped out (and given back to the budget) so that a new
			// hunt can not write under them
			c.release(len(h.hunt))
			h.held -= len(h.hunt)
			drained = h.hunt[off:]
			b = drained
			h.hunt, h.huntSpare = h.huntSpare[:0], h.hunt
		default:
			return
		}
	}
}

// releasePay empties the payload buffer and gives its bytes back.
func (c *Conn) releasePay(h *half) {
	c.release(len(h.pay))
	h.held -= len(h.pay)
	h.pay = h.pay[:0]
}

// dropHunt empties a hunt buffer the budget refused to grow.
func (c *Conn) dropHunt(h *half) {
	c.env.Stats.SkippedBytes += uint64(len(h.hunt))
	c.release(len(h.hunt))
	h.held -= len(h.hunt)
	h.hunt = h.hunt[:0]
	h.scan.Reset()
}

func isBlockFrame(t xh2.FrameType) bool {
	return t == xh2.FrameHeaders || t == xh2.FrameContinuation || t == xh2.FramePushPromise
}

// beginFrame acts on a frame header and returns the bytes left.
func (c *Conn) beginFrame(h *half, b []byte, ts time.Time) []byte {
	fh := h.fh
	c.env.Stats.Frames++
	h.left = fh.length
	if h.blockOpen && fh.typ != xh2.FrameContinuation {
		// a header block must be continued right away (RFC 9113 6.10)
		c.env.Stats.FrameErrors++
		c.lostBlock(h)
	}
	switch fh.typ {
	case xh2.FrameData:
		h.str = c.dataStream(h, fh.stream, ts)
		h.pad = 0
		if fh.flags&xh2.FlagDataPadded != 0 {
			h.pad = -1
		}
		h.st = hData
		if fh.length == 0 {
			c.endData(h)
			h.st = hHeader
		}
		return b
	case xh2.FrameHeaders, xh2.FrameContinuation, xh2.FramePushPromise:
		if int(fh.length) > c.env.Limits.MaxHeaderBytes {
			h.blockLost = true
			c.env.Stats.FrameErrors++
			h.st = hSkip
			if fh.typ != xh2.FrameContinuation || h.blockOpen {
				c.openBlock(h, fh, ts)
			}
			return c.skipEmpty(h, b, ts)
		}
		h.st = hPayload
	case xh2.FrameRSTStream, xh2.FrameGoAway, xh2.FrameSettings, xh2.FramePing, xh2.FramePriority, xh2.FrameWindowUpdate:
		if fh.length > maxControlPayload && fh.typ != xh2.FrameGoAway {
			h.st = hSkip // nothing apitap reads
			return c.skipEmpty(h, b, ts)
		}
		h.st = hPayload
		if fh.typ == xh2.FrameGoAway && fh.length > 8 {
			h.left = 8 // the last stream id and code; the debug data is skipped after
		}
	default: // unknown frame types are ignored (RFC 9113 5.5)
		h.st = hSkip
		return c.skipEmpty(h, b, ts)
	}
	if h.left == 0 {
		c.endFrame(h, nil, ts)
	}
	return b
}

// skipEmpty finishes a skipped frame without payload at once.
func (c *Conn) skipEmpty(h *half, b []byte, ts time.Time) []byte {
	if h.left == 0 {
		c.afterSkip(h, ts)
	}
	return b
}

// afterSkip ends a skipped header-block frame.
func (c *Conn) afterSkip(h *half, ts time.Time) {
	h.st = hHeader
	if isBlockFrame(h.fh.typ) && h.fh.flags&xh2.FlagHeadersEndHeaders != 0 && h.blockOpen {
		c.closeBlock(h, ts)
	}
}

// endFrame handles a complete non-DATA frame payload p.
func (c *Conn) endFrame(h *half, p []byte, ts time.Time) {
	fh := h.fh
	h.st = hHeader
	if fh.typ == xh2.FrameGoAway && fh.length > 8 {
		// skip the debug data after the fields
		h.left, h.st = fh.length-8, hSkip
	}
	switch fh.typ {
	case xh2.FrameHeaders, xh2.FramePushPromise:
		pad := 0
		if fh.flags&xh2.FlagHeadersPadded != 0 { // the same bit for PUSH_PROMISE
			if len(p) < 1 {
				c.frameError(h, fh, ts)
				return
			}
			pad = int(p[0])
			p = p[1:]
		}
		if fh.typ == xh2.FrameHeaders && fh.flags&xh2.FlagHeadersPriority != 0 {
			if len(p) < 5 {
				c.frameError(h, fh, ts)
				return
			}
			p = p[5:]
		}
		if fh.typ == xh2.FramePushPromise {
			if len(p) < 4 {
				c.frameError(h, fh, ts)
				return
			}
			h.promised = (uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3])) & (1<<31 - 1)
			p = p[4:]
		}
		if pad > len(p) {
			c.frameError(h, fh, ts)
			return
		}
		p = p[:len(p)-pad]
		promised := h.promised
		c.openBlock(h, fh, ts)
		h.promised = promised
		c.blockFragment(h, p, fh, ts)
	case xh2.FrameContinuation:
		if !h.blockOpen || fh.stream != h.blockID {
			c.env.Stats.FrameErrors++
			return
		}
		c.blockFragment(h, p, fh, ts)
	case xh2.FrameRSTStream:
		if len(p) == 4 && fh.stream != 0 {
			code := xh2.ErrCode(uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3]))
			c.reset(h, fh.stream, code, ts)
		}
	case xh2.FrameGoAway:
		if len(p) >= 8 && fh.stream == 0 {
			last := (uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3])) & (1<<31 - 1)
			c.goAway(h, last, ts)
		}
	}
}

// frameError skips a frame whose payload broke its own layout.
func (c *Conn) frameError(h *half, fh frameHeader, ts time.Time) {
	c.env.Stats.FrameErrors++
	if isBlockFrame(fh.typ) {
		c.openBlock(h, fh, ts)
		h.blockLost = true
		if fh.flags&xh2.FlagHeadersEndHeaders != 0 {
			c.closeBlock(h, ts)
		}
	}
}

// openBlock starts collecting the header block of a HEADERS or
// PUSH_PROMISE frame.
func (c *Conn) openBlock(h *half, fh frameHeader, ts time.Time) {
	if fh.typ == xh2.FrameContinuation {
		return
	}
	if h.blockOpen {
		c.lostBlock(h)
	}
	c.release(len(h.block))
	h.held -= len(h.block)
	h.block = h.block[:0]
	h.blockOpen, h.blockLost = true, false
	h.blockID, h.blockEnd, h.blockPush, h.promised = fh.stream, fh.flags&xh2.FlagHeadersEndStream != 0 && fh.typ == xh2.FrameHeaders, fh.typ == xh2.FramePushPromise, 0
	h.blockStart, h.blockWire = ts, 0
}

// blockFragment adds a fragment to the open block and decodes the block
// when the frame ends it.
func (c *Conn) blockFragment(h *half, p []byte, fh frameHeader, ts time.Time) {
	h.blockWire += int(fh.length)
	end := fh.flags&xh2.FlagHeadersEndHeaders != 0 // the same bit for every block frame
	if end && len(h.block) == 0 && !h.blockLost {
		// the whole block in one frame: decode it in place
		c.decodeBlock(h, p, ts)
		return
	}
	if !h.blockLost {
		if len(h.block)+len(p) > c.env.Limits.MaxHeaderBytes || !c.grow(&h.held, &h.block, p) {
			h.blockLost = true
		}
	}
	if end {
		c.closeBlock(h, ts)
	}
}

// closeBlock decodes the collected block (or accounts for a lost one).
func (c *Conn) closeBlock(h *half, ts time.Time) {
	if h.blockLost {
		c.lostBlock(h)
		return
	}
	c.decodeBlock(h, h.block, ts)
	c.release(len(h.block))
	h.held -= len(h.block)
	h.block = h.block[:0]
}

// lostBlock accounts for a header block that can not be decoded: the
// table is no longer trusted, and its stream gets headers it can not read.
func (c *Conn) lostBlock(h *half) {
	h.blockOpen = false
	c.release(len(h.block))
	h.held -= len(h.block)
	h.block = h.block[:0]
	c.desync(h)
	c.onFields(h, nil, true, h.blockStart)
}

// desync makes h's HPACK table untrusted.
func (c *Conn) desync(h *half) {
	c.env.Stats.TableResets++
	h.dec.desync()
	c.late = true
}

// decodeBlock decodes a complete header block.
func (c *Conn) decodeBlock(h *half, block []byte, ts time.Time) {
	h.blockOpen = false
	f0, u0, cap0 := h.dec.fields, h.dec.unresolved, h.dec.capped
	var err error
	env := c.env
	env.fields, err = h.dec.block(block, env.fields[:0], &env.scratch, 2*env.Limits.MaxHeaders)
	if err != nil {
		c.env.Stats.HPACKErrors++
		c.desync(h)
	}
	st := c.env.Stats
	df, du := h.dec.fields-f0, h.dec.unresolved-u0
	st.HeaderFields += df
	st.FieldsUnresolved += du
	st.TableSizeCapped += h.dec.capped - cap0
	c.fields0 += df
	c.unresolved0 += du
	if c.trace != nil {
		id := h.blockID
		if h.blockPush {
			id = h.promised
		}
		c.trace(h, id, env.fields)
	}
	c.onFields(h, env.fields, err != nil, ts)
}

// data streams DATA payload bytes and returns the bytes left.
func (c *Conn) data(h *half, b []byte) []byte {
	if h.pad < 0 {
		h.pad = int(b[0])
		b = b[1:]
		h.left--
		if uint32(h.pad) > h.left {
			c.env.Stats.FrameErrors++
			h.pad = int(h.left) // skip the frame
		}
	}
	if n := int(h.left) - h.pad; n > 0 {
		n = min(n, len(b))
		if h.str != nil {
			c.body(h.str, h, b[:n])
		}
		h.left -= uint32(n)
		b = b[n:]
	}
	if int(h.left) <= h.pad && h.left > 0 {
		n := min(h.left, uint32(len(b)))
		h.left -= n
		b = b[n:]
	}
	if h.left == 0 {
		c.endData(h)
		h.st = hHeader
	}
	return b
}

// endData ends a DATA frame.
func (c *Conn) endData(h *half) {
	if h.fh.flags&xh2.FlagDataEndStream != 0 && h.str != nil {
		s := h.str
		m := &s.m[c.roleOf(h)]
		m.end, m.endTS = true, h.lastTS
		c.maybeDone(s)
	}
	h.str = nil
}

// Gap reports n bytes lost in direction d (n < 0: unknown). Inside a DATA
// payload of known length the bytes are skipped (the stream's body is
// flagged gap and truncated); anywhere else a header block may have been
// lost, so the direction's HPACK table is given up (late-join mode) and
// the direction hunts for the next frame boundary.
func (c *Conn) Gap(d http1.Dir, n int, ts time.Time) {
	h := &c.half[d&1]
	if !c.started || h.st == hDone || h.st == hIdle {
		return
	}
	if h.st == hData && h.pad >= 0 && n > 0 && int64(n) <= int64(h.left)-int64(h.pad) {
		if s := h.str; s != nil {
			m := &s.m[c.roleOf(h)]
			m.wire += int64(n)
			m.trunc, m.gap = true, true
			m.fr.Skip(n)
		}
		h.left -= uint32(n)
		if h.left == 0 {
			c.endData(h)
			h.st = hHeader
		}
		return
	}
	if h.st == hHunt {
		c.dropHunt(h) // still hunting: what it holds is not followed by what comes next
		return
	}
	for _, s := range c.streams {
		if r := c.roleOf(h); !s.m[r].end {
			s.m[r].gap, s.m[r].trunc = true, true
		}
	}
	if h.blockOpen {
		c.lostBlock(h)
	} else {
		c.desync(h)
	}
	h.str = nil
	c.releasePay(h)
	h.st, h.nh, h.hunted = hHunt, 0, false
}

// CloseDir reports the end (FIN) of direction d.
func (c *Conn) CloseDir(d http1.Dir, ts time.Time) {
	h := &c.half[d&1]
	if h.blockOpen {
		c.lostBlock(h)
	}
	h.st = hDone
	c.release(h.held)
	h.held = 0
	h.pay, h.block, h.hunt = h.pay[:0], h.block[:0], h.hunt[:0]
}

// Close ends the connection: open streams are reported (requests without
// a response unmatched, bodies cut short truncated).
func (c *Conn) Close(ts time.Time) {
	if !c.started {
		return
	}
	c.CloseDir(http1.DirA, ts)
	c.CloseDir(http1.DirB, ts)
	for len(c.streams) > 0 {
		s := c.streams[0]
		for r := range s.m {
			if s.m[r].seen && !s.m[r].end {
				s.m[r].trunc = true
			}
		}
		c.emit(s)
	}
	if c.fields0 > 0 {
		q := 3
		switch u := c.unresolved0; {
		case u == 0:
			q = 0
		case u*10 <= c.fields0:
			q = 1
		case u*2 <= c.fields0:
			q = 2
		}
		c.env.Stats.Quality[q]++
	}
	c.started = false
}

// Upgrade makes req, the HTTP/1.1 request that asked for "Upgrade: h2c"
// and was answered 101, the request of stream 1 (RFC 7540 section 3.2):
// call it after Start(StartUpgrade, ...). The strings of req are kept, its
// headers and body copied.
func (c *Conn) Upgrade(req *http1.Request) {
	s := c.open(1)
	m := &s.m[roleReq]
	m.seen, m.end = true, true
	m.method, m.path, m.authority = req.Method, req.Target, req.Host
	m.headers = append(m.headers[:0], req.Headers...)
	m.wire, m.trunc = req.Body.WireBytes, req.Body.Truncated
	if !c.grow(&s.held, &m.raw, req.Body.Bytes()) {
		m.trunc = true
	}
	m.start, m.endTS, m.headSize = req.Start, req.End, req.HeadSize
}
