package http2

import (
	"strings"
	"time"

	xh2 "golang.org/x/net/http2"

	"github.com/apitap/apitap/reassembly/grpc"
	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/reassembly/protomsg"
)

// Message roles inside a stream.
const (
	roleReq  = 0
	roleResp = 1
)

// msg is one side of a stream.
type msg struct {
	seen     bool // a (final, for responses) header block arrived
	end      bool // END_STREAM (or the stream was reset)
	headers  []http1.Header
	trailers []http1.Header
	raw      []byte // kept body bytes
	dec      []byte // decoded body (content coding, gRPC rendering)
	wire     int64
	trunc    bool
	gap      bool
	trHead   bool // header fields dropped (MaxHeaders)
	start    time.Time
	endTS    time.Time
	headSize int
	fr       grpc.Framer
	// pseudo-headers
	method, path, authority string
	status, interim         int
	pathLost, methodLost    bool // the pseudo-header referred to an entry from before the join
	scheme                  bool
}

func (m *msg) clear() {
	*m = msg{headers: m.headers[:0], trailers: m.trailers[:0], raw: m.raw[:0], dec: m.dec[:0]}
}

// stream is one HTTP/2 stream being followed.
type stream struct {
	id         uint32
	m          [2]msg
	info       Flags
	code       xh2.ErrCode
	byClient   bool
	unresolved int
	held       int // body bytes charged to the budget
	req        http1.Request
	resp       http1.Response
	call       grpc.Call
}

// find returns the open stream id, or nil.
func (c *Conn) find(id uint32) *stream {
	for i := len(c.streams) - 1; i >= 0; i-- { // the newest are the busiest
		if c.streams[i].id == id {
			return c.streams[i]
		}
	}
	return nil
}

// open returns stream id, creating it (and reporting the oldest open
// stream when MaxStreams are open).
func (c *Conn) open(id uint32) *stream {
	if s := c.find(id); s != nil {
		return s
	}
	if len(c.streams) >= MaxStreams {
		old := c.streams[0]
		c.env.Stats.StreamsEvicted++
		for r := range old.m {
			if !old.m[r].end {
				old.m[r].trunc = true
			}
		}
		c.emit(old)
	}
	var s *stream
	if n := len(c.env.free); n > 0 {
		s = c.env.free[n-1]
		c.env.free = c.env.free[:n-1]
	} else {
		s = &stream{}
	}
	s.id, s.info, s.code, s.byClient, s.unresolved, s.held = id, 0, 0, false, 0, 0
	s.m[0].clear()
	s.m[1].clear()
	c.streams = append(c.streams, s)
	return s
}

// roleOf is the role of h's messages: the client sends requests, the
// server responses (a pushed stream's request comes from the server's
// PUSH_PROMISE, handled apart).
func (c *Conn) roleOf(h *half) int {
	if h.d == c.clientDir() {
		return roleReq
	}
	return roleResp
}

// clientDir is the client direction, or the guess while it is not known.
func (c *Conn) clientDir() http1.Dir {
	if c.known {
		return c.client
	}
	return c.hint
}

// dataStream returns the stream of a DATA frame (creating one for a stream
// whose headers were missed).
func (c *Conn) dataStream(h *half, id uint32, ts time.Time) *stream {
	if id == 0 {
		c.env.Stats.FrameErrors++
		return nil
	}
	s := c.find(id)
	if s == nil {
		s = c.open(id)
		s.m[c.roleOf(h)].start = ts
	}
	return s
}

// body takes DATA payload bytes for s from h.
func (c *Conn) body(s *stream, h *half, b []byte) {
	m := &s.m[c.roleOf(h)]
	m.wire += int64(len(b))
	m.fr.Feed(b)
	lim := c.env.Limits
	n := min(lim.MaxBodyBytes-len(m.raw), len(b))
	if n < len(b) {
		m.trunc = true
	}
	if n > 0 {
		if !c.grow(&s.held, &m.raw, b[:n]) {
			m.trunc = true
		}
	}
}

// onFields takes a decoded header block (lost: it could not be decoded;
// fields holds what was).
func (c *Conn) onFields(h *half, fields []Field, lost bool, ts time.Time) {
	id := h.blockID
	push := h.blockPush
	if push {
		id = h.promised
	}
	if id == 0 {
		c.env.Stats.FrameErrors++
		return
	}
	if !c.known {
		if push { // only servers promise
			c.setClient(h.d ^ 1)
		} else {
			c.learnRoles(h, fields)
		}
	}
	s := c.open(id)
	role := c.roleOf(h)
	if push {
		role = roleReq
		s.info |= FlagPush
	}
	m := &s.m[role]
	unresolved := 0
	for i := range fields {
		if fields[i].Known != bothKnown {
			unresolved++
		}
	}
	if lost || unresolved > 0 {
		s.info |= FlagHeadersUnresolved
		s.unresolved += unresolved
	}
	if m.seen {
		// a second block on the same side: trailers
		m.trailers = c.regular(m.trailers[:0], fields, m)
		if h.blockEnd || push {
			m.end, m.endTS = true, h.lastTS
		}
		c.maybeDone(s)
		return
	}
	if m.start.IsZero() || m.wire == 0 {
		m.start = h.blockStart
	}
	m.headSize += h.blockWire
	m.headers = c.regular(m.headers[:0], fields, m)
	for i := range fields {
		if f := &fields[i]; f.Known&NameKnown != 0 && len(f.Name) > 0 && f.Name[0] == ':' {
			c.pseudo(m, f)
		}
	}
	if lost {
		m.pathLost, m.methodLost = role == roleReq, role == roleReq
	}
	if role == roleResp && m.status >= 100 && m.status < 200 && !h.blockEnd {
		m.interim++
		m.status = 0
		m.headers = m.headers[:0]
		return // the final response follows
	}
	m.seen = true
	if role == roleReq {
		// a request always has :method and :path (but CONNECT): a missing
		// one was among the fields whose name did not resolve
		m.methodLost = m.methodLost || m.method == ""
		m.pathLost = m.pathLost || m.path == "" && m.method != "CONNECT"
	}
	if push || h.blockEnd {
		m.end, m.endTS = true, h.lastTS
		if push {
			m.endTS = ts
		}
	}
	c.maybeDone(s)
}

// learnRoles sets the client direction from a block's pseudo-headers.
// Streams that waited for it (see maybeDone) had their sides assigned by the
// guess: when the guess was wrong they are swapped, then reported when
// complete.
func (c *Conn) learnRoles(h *half, fields []Field) {
	for i := range fields {
		switch fields[i].Name {
		case ":method", ":path", ":scheme", ":authority":
			c.setClient(h.d)
			return
		case ":status":
			c.setClient(h.d ^ 1)
			return
		}
	}
}

// setClient fixes the client direction of a connection whose roles were
// a guess, and settles the streams that waited for it.
func (c *Conn) setClient(d http1.Dir) {
	c.client, c.known = d, true
	if c.client != c.hint {
		for _, s := range c.streams {
			s.m[0], s.m[1] = s.m[1], s.m[0]
			s.byClient = !s.byClient
		}
	}
	for i := 0; i < len(c.streams); {
		if s := c.streams[i]; c.complete(s) {
			c.emit(s)
			continue
		}
		i++
	}
}

// pseudo takes a pseudo-header whose name resolved (its value may not
// have).
func (c *Conn) pseudo(m *msg, f *Field) {
	known := f.Known&ValueKnown != 0
	switch f.Name {
	case ":method":
		m.method, m.methodLost = f.Value, !known
	case ":path":
		m.path, m.pathLost = f.Value, !known
	case ":authority":
		m.authority = f.Value
	case ":scheme":
		m.scheme = true
	case ":status":
		if v := f.Value; known && len(v) == 3 && isDigit(v[0]) && isDigit(v[1]) && isDigit(v[2]) {
			m.status = int(v[0]-'0')*100 + int(v[1]-'0')*10 + int(v[2]-'0')
		}
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// regular appends the regular (not pseudo) fields whose name and value
// resolved, as headers, within MaxHeaders.
func (c *Conn) regular(dst []http1.Header, fields []Field, m *msg) []http1.Header {
	for i := range fields {
		f := &fields[i]
		if f.Known != bothKnown || len(f.Name) > 0 && f.Name[0] == ':' {
			continue
		}
		if len(dst) >= c.env.Limits.MaxHeaders {
			m.trHead = true
			break
		}
		id := f.id
		if id == 0 {
			id = lookupName(f.Name)
		}
		dst = append(dst, http1.Header{Name: f.Name, Value: f.Value, ID: id})
	}
	return dst
}

// lookupName finds the ID of a header name as HTTP/2 sends it (lower
// case; http1.LookupHeader takes tokens only).
func lookupName(name string) http1.HeaderID {
	for i := 0; i < len(name); i++ {
		if !tokenChar[name[i]] {
			return http1.IDOther
		}
	}
	return http1.LookupHeader(name)
}

// tokenChar marks the bytes of a token (RFC 9110 5.6.2).
var tokenChar = func() (t [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] = !strings.ContainsRune("\"(),/:;<=>?@[\\]{}", rune(c))
	}
	return t
}()

// reset ends a stream on RST_STREAM.
func (c *Conn) reset(h *half, id uint32, code xh2.ErrCode, ts time.Time) {
	s := c.find(id)
	if s == nil {
		return // a stream we never saw: nothing to report
	}
	byClient := h.d == c.clientDir()
	// RFC 9113 section 8.1: after a complete response a server may ask
	// the client to stop sending the request, without error (nginx does
	// when it turns a large upload away). The exchange is complete, not
	// reset; the request is cut below.
	if !(code == xh2.ErrCodeNo && !byClient && s.m[roleResp].end) {
		s.info |= FlagReset
		s.code = code
		s.byClient = byClient
	}
	if code == xh2.ErrCodeRefusedStream && !byClient {
		s.info |= FlagRefused
	}
	for r := range s.m {
		if !s.m[r].end {
			s.m[r].end, s.m[r].endTS = true, ts
			if s.m[r].seen && s.m[r].wire > 0 {
				s.m[r].trunc = true
			}
		}
	}
	c.maybeDone(s)
}

// goAway refuses the streams above last that the sender of the GOAWAY
// would have had to process (initiated by the other side).
func (c *Conn) goAway(h *half, last uint32, ts time.Time) {
	fromServer := h.d != c.clientDir()
	for i := 0; i < len(c.streams); {
		s := c.streams[i]
		clientInitiated := s.id&1 == 1
		if s.id > last && clientInitiated == fromServer && !(s.m[roleResp].seen) {
			s.info |= FlagRefused
			for r := range s.m {
				if !s.m[r].end {
					s.m[r].end, s.m[r].endTS = true, ts
				}
			}
			if c.known {
				c.emit(s)
				continue
			}
		}
		i++
	}
}

// maybeDone reports s when it is complete, once the client direction is
// known (until then the sides of a stream are a guess: see learnRoles).
func (c *Conn) maybeDone(s *stream) {
	if c.known && c.complete(s) {
		c.emit(s)
	}
}

// complete reports whether s is over: reset or refused, both sides ended,
// or its response ended and its request was never seen (unless the
// client's direction is still hunting for frames: the request may be in
// the bytes it holds).
func (c *Conn) complete(s *stream) bool {
	q, r := &s.m[roleReq], &s.m[roleResp]
	return s.info&(FlagReset|FlagRefused) != 0 || q.end && r.end || r.end && !q.seen && c.half[c.clientDir()].st != hHunt
}

// synced reports the streams that waited for the client's direction to
// find its frames (see maybeDone).
func (c *Conn) synced() {
	for i := 0; i < len(c.streams); {
		s := c.streams[i]
		if c.known && s.m[roleResp].end && !s.m[roleReq].seen {
			c.emit(s)
			continue
		}
		i++
	}
}

// drop removes s from the open streams and recycles it.
func (c *Conn) drop(s *stream) {
	for i, x := range c.streams {
		if x == s {
			copy(c.streams[i:], c.streams[i+1:])
			c.streams[len(c.streams)-1] = nil
			c.streams = c.streams[:len(c.streams)-1]
			break
		}
	}
	c.release(s.held)
	s.held = 0
	c.recycle(s)
}

// recycle keeps s for another stream of the worker, with small buffers.
func (c *Conn) recycle(s *stream) {
	if len(c.env.free) >= maxFreeStreams {
		return
	}
	for r := range s.m {
		m := &s.m[r]
		m.raw, m.dec = trim(m.raw, keepBody), trim(m.dec, keepBody)
		m.headers, m.trailers = trim(m.headers, 64), trim(m.trailers, 16)
	}
	s.req, s.resp, s.call = http1.Request{}, http1.Response{}, grpc.Call{}
	c.env.free = append(c.env.free, s)
}

// emit reports s and forgets it.
func (c *Conn) emit(s *stream) {
	defer c.drop(s)
	q, r := &s.m[roleReq], &s.m[roleResp]
	st := c.env.Stats
	if !q.seen && !r.seen {
		st.StreamsHeadless++
		return
	}
	ex := &c.ex
	ex.Exchange = http1.Exchange{ClientDir: c.clientDir()}
	ex.Stream = StreamInfo{ID: s.id, Flags: s.info, ResetCode: s.code, ResetByClient: s.byClient, Unresolved: s.unresolved}
	var flags http1.Flags
	grpcCall := c.isGRPC(s)
	md := c.beginGRPC(s, grpcCall)
	if q.seen {
		req := &s.req
		*req = http1.Request{Method: q.method, Target: q.path, Host: q.authority, Proto: "HTTP/2", Headers: q.headers,
			Start: q.start, End: q.endTS, HeadSize: q.headSize}
		if req.End.IsZero() {
			req.End = q.start
		}
		splitTarget(req)
		if req.Host == "" {
			req.Host = http1.Get(q.headers, http1.IDHost)
		}
		flags |= c.finishBody(s, q, &req.Body, grpcCall, md, true)
		ex.Request = req
		ex.Stream.RequestTrailers = q.trailers
		if c.late || q.pathLost {
			st.LatePaths++
			if q.pathLost {
				st.LatePathsUnresolved++
			}
		}
	}
	if r.seen {
		resp := &s.resp
		*resp = http1.Response{Status: r.status, Proto: "HTTP/2", Headers: r.headers, Start: r.start, End: r.endTS,
			HeadSize: r.headSize, Interim: r.interim}
		if resp.End.IsZero() {
			resp.End = r.start
		}
		flags |= c.finishBody(s, r, &resp.Body, grpcCall, md, false)
		ex.Response = resp
		ex.Stream.ResponseTrailers = r.trailers
	}
	if grpcCall {
		c.env.GRPC.Finish(&s.call, &q.fr, &r.fr, r.headers, r.trailers)
		ex.Stream.GRPC = &s.call
	}
	switch {
	case !q.seen:
		flags |= http1.FlagUnmatchedResponse
	case !r.seen:
		flags |= http1.FlagUnmatchedRequest
	}
	if !q.seen && c.start == StartMidStream {
		flags |= http1.FlagMidStreamStart // the request went before the capture joined
	}
	if q.gap || r.gap {
		flags |= http1.FlagGap
	}
	if q.trHead || r.trHead {
		flags |= http1.FlagHeadersTruncated
	}
	ex.Flags = flags
	st.Streams++
	for f, i := s.info, 0; f != 0; f, i = f>>1, i+1 {
		if f&1 != 0 {
			st.Flags[i]++
		}
	}
	if c.h != nil {
		c.h(ex)
	}
}

// isGRPC reports whether s carries a gRPC call: its content type says so,
// or (after a late join, when the content type did not resolve) its
// bodies are whole gRPC messages.
func (c *Conn) isGRPC(s *stream) bool {
	q, r := &s.m[roleReq], &s.m[roleResp]
	qct, rct := http1.Get(q.headers, http1.IDContentType), http1.Get(r.headers, http1.IDContentType)
	if grpc.IsGRPC(qct) || grpc.IsGRPC(rct) {
		return true
	}
	return s.info&FlagHeadersUnresolved != 0 && qct == "" && rct == "" && q.fr.Clean() && (r.wire == 0 || r.fr.Clean())
}

// beginGRPC starts the gRPC view of s and returns its method from the
// descriptor set (nil when unknown).
func (c *Conn) beginGRPC(s *stream, isGRPC bool) *protomsg.Method {
	if !isGRPC || c.env.GRPC == nil {
		return nil
	}
	path := s.m[roleReq].path
	if s.m[roleReq].pathLost {
		path = ""
	}
	return c.env.GRPC.Begin(&s.call, path)
}

// finishBody fills b from m's kept bytes: gRPC messages rendered as JSON,
// other bodies decoded from their Content-Encoding.
func (c *Conn) finishBody(s *stream, m *msg, b *http1.Body, isGRPC bool, md *protomsg.Method, request bool) http1.Flags {
	var f http1.Flags
	*b = http1.Body{Data: m.raw, WireBytes: m.wire, Truncated: m.trunc}
	if m.trunc {
		f |= http1.FlagTruncated
	}
	if len(m.raw) == 0 {
		return f
	}
	lim := c.env.Limits
	if isGRPC && c.env.GRPC != nil {
		in := grpc.Message{Raw: m.raw, Truncated: m.trunc, Headers: m.headers}
		out, _ := c.env.GRPC.Render(m.dec, &s.call, &in, md, request, lim)
		if !c.charge(&s.held, len(out)) {
			b.Data, b.Truncated = nil, true
			return f | http1.FlagTruncated
		}
		m.dec = out
		b.Data = out
		b.Encoding = s.call.Encoding
		return f
	}
	enc := http1.NormEncoding(http1.Get(m.headers, http1.IDContentEncoding))
	if enc == "" {
		return f
	}
	out, res := http1.DecodeContent(m.dec, m.raw, enc, lim, m.trunc)
	m.dec = out
	if !c.charge(&s.held, len(out)) {
		b.Data, b.Truncated = nil, true
		return f | http1.FlagTruncated
	}
	b.Encoding = enc
	switch res {
	case http1.ContentOK:
		b.Data = out
	case http1.ContentTruncated, http1.ContentBomb:
		b.Data, b.Truncated = out, true
		f |= http1.FlagTruncated
	default:
		f |= http1.FlagDecodeError
	}
	return f
}

// splitTarget sets Path and Query from r.Target.
func splitTarget(r *http1.Request) {
	t := r.Target
	if q := strings.IndexByte(t, '?'); q >= 0 {
		r.Path, r.Query = t[:q], t[q+1:]
	} else {
		r.Path = t
	}
	if i := strings.IndexByte(r.Path, '#'); i >= 0 {
		r.Path = r.Path[:i]
	}
}
