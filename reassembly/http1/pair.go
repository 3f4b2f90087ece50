package http1

import "time"

// pushReq returns a free request slot at the tail of the pending ring. When
// the ring is full the oldest request is reported unmatched.
func (c *Conn) pushReq(ts time.Time) *reqSlot {
	if c.n >= c.lim.MaxPipelined {
		c.st.ParseErrors[ErrPipelineOverflow]++
		if old := c.popReq(); !old.lost {
			c.emit(old, nil, FlagUnmatchedRequest)
		}
	}
	if c.n == len(c.reqs) && len(c.reqs) < c.lim.MaxPipelined {
		// grow the ring, keeping order
		grown := make([]*reqSlot, 0, min(max(2*len(c.reqs), 2), c.lim.MaxPipelined))
		for i := 0; i < c.n; i++ {
			grown = append(grown, c.reqs[(c.head+i)%len(c.reqs)])
		}
		for len(grown) < cap(grown) {
			grown = append(grown, &reqSlot{})
		}
		c.reqs, c.head = grown, 0
	}
	if c.n > 0 && !c.pipelined {
		// a request while the previous one waits for its response, with
		// no byte of the server's lost since: the client pipelines
		if prev := c.reqs[(c.head+c.n-1)%len(c.reqs)]; !prev.lost && prev.gapsAt == c.srvGaps {
			c.pipelined = true
		}
	}
	s := c.reqs[(c.head+c.n)%len(c.reqs)]
	s.gapsAt = c.srvGaps
	c.n++
	s.flags = 0
	s.fromMid, s.emitted, s.lost = false, false, false
	return s
}

// pushLost keeps the place in line of a request that was lost before its
// head could be parsed: the response that answers it is reported unmatched
// instead of being paired with the next request.
func (c *Conn) pushLost(ts time.Time, f Flags) {
	if c.lostResps > 0 { // its response was lost already
		c.lostResps--
		return
	}
	s := c.pushReq(ts)
	s.lost, s.flags = true, f
	s.Request = Request{Headers: s.Headers[:0], Start: ts, End: ts}
	s.raw = s.raw[:0]
}

func (c *Conn) popReq() *reqSlot {
	if c.n == 0 {
		return nil
	}
	s := c.reqs[c.head]
	c.head = (c.head + 1) % len(c.reqs)
	c.n--
	return s
}

// finish completes the message in progress on h.
func (c *Conn) finish(h *half, ts time.Time) {
	if !h.inMsg {
		h.state = stHead
		return
	}
	h.inMsg = false
	flags := h.flags
	h.flags = 0
	if h.state != stDone {
		h.state = stHead
	}
	if h.isReq {
		s := h.req
		h.req = nil
		s.End = ts
		s.lz = lazy{lim: c.lim, st: c.st, buf: &s.dec, c: c, held: &s.held}
		s.flags |= flags | c.body(h, &s.Body, s.raw, &s.lz)
		s.held, h.msgHeld = h.msgHeld, 0
		// Requests are decoded at once: every request is checked for
		// attacks, and a body that fails to decode is evidence of evasion
		// that belongs on the transaction (responses decode lazily).
		if s.Body.Pending() {
			s.Body.Bytes()
			s.flags |= s.Body.dflags
		}
		if s.emitted { // its response came first: nothing holds it now
			c.release(s.held)
			s.held = 0
		}
		c.st.Requests++
		return
	}
	r := &c.resp
	r.End = ts
	c.respLz = lazy{lim: c.lim, st: c.st, buf: &c.respDec, c: c, held: &c.respHeld}
	flags |= c.body(h, &r.Body, c.respRaw, &c.respLz)
	c.respHeld, h.msgHeld = h.msgHeld, 0
	c.st.Responses++
	if flags&(FlagUpgrade|FlagConnect) != 0 {
		c.st.Upgrades++
	}
	if flags&FlagUpgrade != 0 {
		c.done = true
		h.state = stDone
	}
	c.skipAnswered(r)
	req := c.popReq()
	if req != nil && req.lost {
		c.emit(nil, r, flags|req.flags&FlagGap|FlagUnmatchedResponse)
		return
	}
	if req == nil {
		flags |= FlagUnmatchedResponse
	} else if c.n > 0 && flags&FlagGap == 0 && req.flags&FlagGap == 0 && c.reqs[c.head].Start.Before(r.End) {
		c.pipelined = true // the next request was sent before this response ended
	}
	c.emit(req, r, flags)
}

// skipAnswered keeps a lost response from shifting the pairing: a client
// that does not pipeline sends a request only after the previous response
// ended, so when the request after the oldest pending one started before
// response r did, r does not answer the oldest one, whose own response was
// lost; it is reported unmatched (flag gap). Once a connection is seen
// pipelining (a request sent before the previous response ended), pairing
// is by position only.
func (c *Conn) skipAnswered(r *Response) {
	for !c.pipelined && c.n >= 2 {
		next := c.reqs[(c.head+1)%len(c.reqs)]
		if !next.Start.Before(r.Start) {
			return
		}
		c.st.LostResponses++
		if old := c.popReq(); !old.lost {
			c.emit(old, nil, FlagGap)
		}
	}
}

// body fills b from the kept bytes; a content-coded body is left pending,
// to be decoded (into dec, charged to held) if someone reads it.
func (c *Conn) body(h *half, b *Body, raw []byte, lz *lazy) Flags {
	var f Flags
	*b = Body{WireBytes: h.wire, Encoding: h.enc, Truncated: h.trunc, Data: raw}
	if h.trunc {
		c.st.BodyTruncated++
		f |= FlagTruncated
	}
	if h.enc == "" || len(raw) == 0 {
		return f
	}
	b.Data, b.raw, b.lz = nil, raw, lz
	return f
}

// emit reports one exchange.
func (c *Conn) emit(req *reqSlot, resp *Response, flags Flags) {
	defer func() {
		if req != nil {
			c.release(req.held)
			req.held, req.emitted = 0, true
		}
		if resp != nil {
			c.release(c.respHeld)
			c.respHeld = 0
		}
	}()
	ex := &c.ex
	*ex = Exchange{Response: resp, Flags: flags, ClientDir: c.client}
	if c.tunnel {
		ex.Flags |= FlagTunnelled
	}
	if req != nil {
		ex.Request = &req.Request
		ex.Flags |= req.flags
		if req.fromMid {
			ex.Flags |= FlagMidStreamStart
		}
	}
	switch {
	case req != nil && resp != nil:
		c.st.Exchanges++
	case req != nil:
		ex.Flags |= FlagUnmatchedRequest
		c.st.UnmatchedRequests++
	case resp != nil:
		ex.Flags |= FlagUnmatchedResponse
		c.st.UnmatchedResponses++
	default:
		return
	}
	if c.h != nil {
		c.h(ex)
	}
}

// Gap reports n bytes lost in direction d (n < 0: unknown). A gap inside a
// body of known length is skipped and the message kept (flagged gap and
// truncated); anything else ends the message in progress and the direction
// hunts for the next message start.
func (c *Conn) Gap(d Dir, n int, ts time.Time) { c.GapAt(d, n, ts, false) }

// GapAt is Gap when the caller knows more: boundary says the lost bytes
// began with a message (the other side had received everything before them
// when it last sent a message), so a direction hunting after an earlier gap
// lost one more message with them.
func (c *Conn) GapAt(d Dir, n int, ts time.Time, boundary bool) {
	h := &c.half[d&1]
	if c.done || h.closed || h.state == stDone {
		return
	}
	if c.roleOf(d) != roleClient {
		c.srvGaps++
	}
	if h.state == stHead && !h.inMsg && len(h.pend) > 0 && c.cutHead(h, h.pend, h.lastTS, FlagTruncated|FlagGap) {
		c.st.HeadsCut++
		// a head cut short by the gap was reported; the rest of it went
		// with the lost bytes
		c.clearPend(h)
		c.startHunt(h)
		return
	}
	c.clearPend(h)
	switch {
	case (h.state == stBody || h.state == stChunkData) && n > 0 && int64(n) <= h.left:
		h.flags |= FlagGap
		h.wire += int64(n)
		h.trunc = true
		h.left -= int64(n)
		if h.left == 0 {
			if h.state == stBody {
				c.finish(h, ts)
			} else {
				h.state, h.left = stChunkCRLF, 2
			}
		}
		return
	case h.state == stCloseBody:
		h.flags |= FlagGap
		h.trunc = true
		if n > 0 {
			h.wire += int64(n)
		}
		return
	case h.inMsg:
		h.flags |= FlagGap
		h.trunc = true
		c.finish(h, ts)
	case h.state == stHead || boundary && h.state == stHunt:
		c.lostMessage(h, FlagGap) // a message start was lost with the bytes
	}
	c.startHunt(h)
}

// lostMessage accounts for a message that h could not parse at all: a lost
// response leaves its request unanswered; a lost request will get a response
// that must not be paired with the next request.
func (c *Conn) lostMessage(h *half, f Flags) {
	switch c.roleOf(h.dir) {
	case roleServer:
		switch req := c.popReq(); {
		case req == nil:
			c.lostResps++
		case !req.lost:
			c.emit(req, nil, f)
		}
	case roleClient:
		c.pushLost(c.half[h.dir].lastTS, f)
	}
}

// CloseDir reports the end (FIN) of direction d: it completes a
// close-delimited body; a message cut short is flagged truncated.
func (c *Conn) CloseDir(d Dir, ts time.Time) {
	h := &c.half[d&1]
	if h.closed {
		return
	}
	switch {
	case h.state == stCloseBody:
		c.finish(h, ts)
	case h.inMsg:
		h.trunc = true
		c.finish(h, ts)
	case h.state == stHead && len(h.pend) > 0:
		// a head that never ended is reported, unless it is a request on
		// a connection the server never sent a byte on: floods of
		// unfinished heads (slowloris, connection exhaustion) would
		// otherwise turn into as many transactions at the end
		if c.roleOf(d) == roleClient && !c.seen[d^1] {
			c.st.HeadsUnanswered++
		} else if c.cutHead(h, h.pend, ts, FlagTruncated) {
			c.st.HeadsCut++
		}
	}
	h.closed = true
	c.clearPend(h)
}

// Close ends the connection: messages in progress are completed (flagged
// truncated), requests without a response are reported unmatched.
func (c *Conn) Close(ts time.Time) {
	// Responses first: a close-delimited response completes before the
	// requests left over are reported.
	c.CloseDir(c.client^1, ts)
	c.CloseDir(c.client, ts)
	for c.n > 0 {
		if r := c.popReq(); !r.lost {
			c.emit(r, nil, 0)
		}
	}
	// the connection gives back all it still holds of the shared budget
	// (its own total of what it charged): a lenient path that parked
	// bytes in a half that is never finished may not leak them
	if c.held > 0 {
		c.release(int(c.held))
	}
}
