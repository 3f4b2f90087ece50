package http1

import (
	"bytes"

	"time"
)

// Handler receives completed exchanges (see Exchange for lifetimes).
type Handler func(ex *Exchange)

type role uint8

const (
	roleUnknown role = iota
	roleClient
	roleServer
)

type state uint8

const (
	stHead      state = iota // expecting a message start
	stHunt                   // looking for a message start after damage
	stBody                   // Content-Length body
	stCloseBody              // body delimited by the end of the connection
	stChunkSize              // chunk-size line
	stChunkData              // chunk data
	stChunkCRLF              // CRLF after chunk data
	stTrailer                // trailer fields after the last chunk
	stDone                   // tunnel or closed: ignore bytes
)

// reqSlot is a pending request with its own buffers.
type reqSlot struct {
	Request
	raw, dec []byte
	lz       lazy // how its body decodes when read
	flags    Flags
	fromMid  bool
	held     int    // bytes charged to the budget for this request
	emitted  bool   // reported already (paired early, or given up)
	lost     bool   // a request lost before its head was parsed (a placeholder keeping its place in line)
	gapsAt   uint32 // Conn.srvGaps when it was pushed
}

// half is the parser state of one direction.
type half struct {
	dir      Dir
	state    state
	pend     []byte // bytes of an incomplete head or chunk line
	mid      bool   // started mid-stream: flag the first message
	closed   bool
	inMsg    bool // a message head was parsed and the message is not complete
	isReq    bool
	req      *reqSlot
	left     int64 // bytes left in the CL body or the current chunk
	wire     int64
	enc      string
	flags    Flags
	start    time.Time
	lastTS   time.Time
	raw      *[]byte // where kept (de-chunked) body bytes go
	trunc    bool
	hunted   bool // counted the current hunt already
	pendHeld int  // bytes of pend charged to the budget
	msgHeld  int  // body bytes of the message in progress charged to the budget
}

// Conn is the HTTP/1.x state of one TCP connection.
type Conn struct {
	lim    *Limits
	st     *Stats
	h      Handler
	half   [2]half
	client Dir
	known  bool // client direction known
	done   bool // upgraded or tunnelled
	// pipelined: a request was seen sent before the previous response
	// ended, so timing can not tell which request a response answers
	pipelined bool
	srvGaps   uint32 // gaps seen in the server's direction
	// lostResps counts responses lost while no request was pending: the
	// request they answered is lost too and will show as a gap in the
	// client's direction (possibly later, when the server's ACK shows it)
	lostResps int
	// CONNECT: connectWait from a CONNECT request head until the client's
	// next bytes tell what the tunnel carries; tunnel once it was
	// established: TLS inside ends parsing, clear HTTP is parsed
	connectWait, tunnel bool
	http09              int     // HTTP/0.9 requests seen (their responses have no head)
	seen                [2]bool // direction d carried bytes
	reqs                []*reqSlot
	head, n             int // ring of pending requests
	resp                Response
	respRaw             []byte
	respDec             []byte
	respLz              lazy
	ex                  Exchange
	scratch             []byte
	// nl holds the offsets of the LFs of the head being parsed (see
	// findHeadEnd); nlOn says they are valid, nlK is the next one
	nl       []int32
	nlOn     bool
	nlK      int
	held     int64 // bytes charged to lim.Budget
	respHeld int   // of which the response in progress
	// tail is what followed a 101 response in the same call (the upgraded
	// protocol's first bytes), valid until the next call (TakeTail)
	tail    []byte
	tailDir Dir
}

// NewConn returns a Conn. lim should come from Limits.WithDefaults.
func NewConn(lim *Limits, st *Stats, h Handler) *Conn {
	c := &Conn{}
	c.Reset(lim, st, h)
	return c
}

// Reset prepares c for a new connection, keeping its buffers.
func (c *Conn) Reset(lim *Limits, st *Stats, h Handler) {
	l := lim.WithDefaults()
	*lim = l
	if c.lim != nil && c.lim.Budget != nil {
		c.lim.Budget.Used -= c.held
	}
	c.held, c.respHeld = 0, 0
	c.lim, c.st, c.h = lim, st, h
	for i := range c.half {
		p := c.half[i].pend[:0]
		c.half[i] = half{dir: Dir(i), pend: p}
	}
	for _, r := range c.reqs {
		r.held = 0
	}
	c.known, c.done, c.pipelined, c.client = false, false, false, DirA
	c.head, c.n, c.lostResps = 0, 0, 0
	c.connectWait, c.tunnel, c.http09, c.seen = false, false, 0, [2]bool{}
	c.tail = nil
}

// TakeTail returns the bytes that followed a 101 Switching Protocols
// response in the last Data call (the upgraded protocol's first bytes) and
// their direction; they are valid until the next call, and returned once.
func (c *Conn) TakeTail() (Dir, []byte) {
	t := c.tail
	c.tail = nil
	return c.tailDir, t
}

// Quiet says that no message start has been found on the connection yet
// (it is hunting in both directions, or has seen nothing).
func (c *Conn) Quiet() bool {
	for i := range c.half {
		if h := &c.half[i]; h.inMsg || c.seen[i] && h.state != stHunt {
			return false
		}
	}
	return c.n == 0 && !c.done
}

// SetClient records that direction d carries the requests.
func (c *Conn) SetClient(d Dir) { c.client, c.known = d, true }

// SetMidStream makes both directions hunt for a message start.
func (c *Conn) SetMidStream() {
	for i := range c.half {
		h := &c.half[i]
		if !h.inMsg && h.state == stHead && len(h.pend) == 0 {
			h.state, h.mid = stHunt, true
		}
	}
}

// Done reports that HTTP parsing has ended for this connection (101
// Switching Protocols or a CONNECT tunnel).
func (c *Conn) Done() bool { return c.done }

func (c *Conn) roleOf(d Dir) role {
	if !c.known {
		return roleUnknown
	}
	if d == c.client {
		return roleClient
	}
	return roleServer
}

// Data feeds in-order bytes of direction d. first and last are the capture
// times of b's first and last byte.
func (c *Conn) Data(d Dir, b []byte, first, last time.Time) {
	h := &c.half[d&1]
	if c.done || h.closed || h.state == stDone || len(b) == 0 {
		return
	}
	h.lastTS = last
	c.seen[d&1] = true
	data := b
	if len(h.pend) > 0 {
		h.pend = append(h.pend, b...)
		data = h.pend
	}
	c.feed(h, data, first)
}

// feed parses data; whatever cannot be parsed yet is left in h.pend.
func (c *Conn) feed(h *half, data []byte, ts time.Time) {
	for len(data) > 0 && !c.done {
		switch h.state {
		case stHunt:
			i, keep := c.hunt(h, data)
			if i < 0 {
				if !c.setPend(h, data[len(data)-keep:]) {
					c.st.SkippedBytes += uint64(keep)
				}
				return
			}
			data = data[i:]
			h.state = stHead
		case stHead:
			if (c.tunnel || c.connectWait) && !h.inMsg && data[0] == 0x16 {
				// a TLS record where a message should start inside a
				// CONNECT tunnel: HTTPS, not for this parser
				c.done = true
				c.st.Upgrades++
				c.clearPend(h)
				return
			}
			if c.http09 > 0 && c.roleOf(h.dir) == roleServer && c.n > 0 && c.reqs[c.head].Proto == "HTTP/0.9" {
				c.begin09(h, ts)
				continue
			}
			n, ok := c.parseHead(h, data, ts)
			if !ok {
				if n < 0 { // incomplete: keep it
					if len(data) > c.lim.MaxHeaderBytes {
						c.st.ParseErrors[ErrHeaderTooLarge]++
						if c.cutHead(h, data[:c.lim.MaxHeaderBytes], ts, FlagHeadersTruncated) {
							c.startHunt(h) // the rest of the head, and a body of unknown length
							data = data[c.lim.MaxHeaderBytes:]
							continue
						}
						c.lostMessage(h, FlagParseError)
						c.startHunt(h)
						data = data[1:]
						continue
					}
					if !c.setPend(h, data) {
						c.lostMessage(h, FlagParseError)
						c.startHunt(h)
						data = data[1:]
						continue
					}
					return
				}
				data = data[n:] // broken start: skip and hunt
				continue
			}
			data = data[n:]
			if c.done && len(data) > 0 && !c.tunnel {
				c.tail, c.tailDir = data, h.dir
			}
		case stBody:
			n := int(min(h.left, int64(len(data))))
			c.keep(h, data[:n])
			h.left -= int64(n)
			data = data[n:]
			if h.left == 0 {
				c.finish(h, h.lastTS)
			}
		case stCloseBody:
			c.keep(h, data)
			data = nil
		case stChunkSize, stTrailer:
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				if len(data) > 4096 {
					c.broken(h, ErrBadChunk)
					continue
				}
				if !c.setPend(h, data) {
					c.broken(h, ErrBadChunk)
					continue
				}
				return
			}
			line := trimCR(data[:i])
			data = data[i+1:]
			if h.state == stTrailer {
				if len(line) == 0 {
					c.finish(h, h.lastTS)
				}
				continue
			}
			size, ok := parseChunkSize(line)
			if !ok {
				c.broken(h, ErrBadChunk)
				continue
			}
			if size == 0 {
				h.state = stTrailer
			} else {
				h.left, h.state = size, stChunkData
			}
		case stChunkData:
			n := int(min(h.left, int64(len(data))))
			c.keep(h, data[:n])
			h.left -= int64(n)
			data = data[n:]
			if h.left == 0 {
				h.state, h.left = stChunkCRLF, 2
			}
		case stChunkCRLF:
			switch {
			case data[0] == '\r' && h.left == 2:
				data, h.left = data[1:], 1
			case data[0] == '\n':
				data, h.state = data[1:], stChunkSize
			default:
				c.broken(h, ErrBadChunk)
			}
		case stDone:
			c.clearPend(h)
			return
		}
	}
	c.clearPend(h)
}

// charge takes n bytes from the budget for c.
func (c *Conn) charge(n int) bool {
	if !c.lim.Budget.take(n) {
		return false
	}
	c.held += int64(n)
	return true
}

// release gives n bytes back.
func (c *Conn) release(n int) {
	if n > 0 && c.lim.Budget != nil {
		c.lim.Budget.Used -= int64(n)
		c.held -= int64(n)
	}
}

// setPend keeps data (an incomplete head or chunk line) for the next call.
// It reports false when the budget refuses the bytes; pend is then empty.
func (c *Conn) setPend(h *half, data []byte) bool {
	if need := len(data) - h.pendHeld; need > 0 && !c.charge(need) {
		c.clearPend(h)
		return false
	} else if need < 0 {
		c.release(-need)
	}
	h.pend = append(h.pend[:0], data...)
	h.pendHeld = len(data)
	return true
}

func (c *Conn) clearPend(h *half) {
	c.release(h.pendHeld)
	h.pendHeld = 0
	h.pend = h.pend[:0]
}

// keep counts body bytes and keeps the first MaxBodyBytes of them.
func (c *Conn) keep(h *half, b []byte) {
	h.wire += int64(len(b))
	n := min(c.lim.MaxBodyBytes-len(*h.raw), len(b))
	if n <= 0 {
		h.trunc = h.trunc || len(b) > 0
		return
	}
	if k := c.lim.Budget.avail(n); k < n {
		c.lim.Budget.Denied++
		n = k
	}
	if n > 0 && c.charge(n) {
		h.msgHeld += n
		*h.raw = append(*h.raw, b[:n]...)
	}
	if n < len(b) {
		h.trunc = true
	}
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

func parseChunkSize(line []byte) (int64, bool) {
	var n int64
	digits := 0
	for _, ch := range line {
		var v byte
		switch {
		case ch >= '0' && ch <= '9':
			v = ch - '0'
		case ch >= 'a' && ch <= 'f':
			v = ch - 'a' + 10
		case ch >= 'A' && ch <= 'F':
			v = ch - 'A' + 10
		case ch == ';' || ch == ' ' || ch == '\t':
			return n, digits > 0
		default:
			return 0, false
		}
		if digits >= 15 {
			return 0, false
		}
		n = n<<4 | int64(v)
		digits++
	}
	return n, digits > 0
}

// startHunt makes h look for the next message start.
func (c *Conn) startHunt(h *half) {
	h.state = stHunt
	h.hunted = false
}

// broken ends the message in progress as damaged and starts a hunt.
func (c *Conn) broken(h *half, e ParseError) {
	c.st.ParseErrors[e]++
	h.flags |= FlagParseError
	if h.inMsg {
		c.finish(h, h.lastTS)
	}
	c.startHunt(h)
}

// knownMethods are the tokens the hunt accepts as a request start.
var knownMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT", "PURGE"}

// begin09 starts the response to an HTTP/0.9 request: no status line and
// no headers, the body runs to the end of the connection.
func (c *Conn) begin09(h *half, ts time.Time) {
	c.http09--
	r := &c.resp
	*r = Response{Proto: "HTTP/0.9", Headers: r.Headers[:0], Start: ts, End: ts}
	h.isReq = false
	c.release(h.msgHeld)
	h.msgHeld = 0
	h.beginMessage(ts, &c.respRaw)
	h.flags |= FlagHTTP09
	h.enc = ""
	h.state = stCloseBody
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// hunt returns the offset of the next plausible message start in data, or
// -1 and how many trailing bytes to keep for the next call.
func (c *Conn) hunt(h *half, data []byte) (int, int) {
	if !h.hunted {
		h.hunted = true
		c.st.Resyncs++
	}
	pos := 0
	for pos < len(data) {
		end := bytes.IndexByte(data[pos:], '\n')
		complete := end >= 0
		line := data[pos:]
		if complete {
			line = data[pos : pos+end]
		}
		switch k := startKind(line, complete); {
		case k > 0 && c.wantRole(h, k):
			c.st.SkippedBytes += uint64(pos)
			return pos, 0
		case k < 0:
			c.st.SkippedBytes += uint64(pos)
			return -1, len(data) - pos
		}
		if !complete {
			break
		}
		pos += end + 1
	}
	c.st.SkippedBytes += uint64(len(data))
	return -1, 0
}

// wantRole says whether a start of kind k (1 request, 2 response) fits h.
func (c *Conn) wantRole(h *half, k int) bool {
	switch c.roleOf(h.dir) {
	case roleClient:
		return k == 1
	case roleServer:
		return k == 2
	}
	return true
}
