package http1

import (
	"bytes"
	"strings"
	"time"
)

// findHeadEnd returns the length of the message head in data (through the
// empty line), or -1 when the empty line has not arrived yet.
func findHeadEnd(data []byte) int {
	pos := 0
	for {
		i := bytes.IndexByte(data[pos:], '\n')
		if i < 0 {
			return -1
		}
		line := data[pos : pos+i]
		pos += i + 1
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			if pos > 2 || len(data) == pos { // a head needs at least a start line
				return pos
			}
		}
	}
}

// head parses a message head at the start of data. It returns the bytes
// consumed and true when a head was parsed; (-1, false) when more bytes are
// needed; (n, false) when the bytes are not a message start (skip n and hunt).
func (c *Conn) parseHead(h *half, data []byte, ts time.Time) (int, bool) {
	// Empty lines before a message are ignored (RFC 9112 section 2.2).
	skip := 0
	for skip < len(data) && (data[skip] == '\r' || data[skip] == '\n') {
		skip++
	}
	if skip == len(data) {
		return len(data), false
	}
	body := data[skip:]
	// Reject early a complete first line that can not start a message.
	if i := bytes.IndexByte(body, '\n'); i >= 0 {
		l := body[:i]
		if !bytes.HasPrefix(l, []byte("HTTP/")) && !bytes.Contains(l, []byte(" HTTP/1.")) {
			c.st.ParseErrors[ErrBadStart]++
			c.startHunt(h)
			return skip + 1, false
		}
	}
	end := findHeadEnd(body)
	if end < 0 {
		return -1, false
	}
	if end > c.lim.MaxHeaderBytes {
		c.st.ParseErrors[ErrHeaderTooLarge]++
		c.lostMessage(h, FlagParseError)
		c.startHunt(h)
		return skip + 1, false
	}
	raw := body[:end]
	isResp := bytes.HasPrefix(raw, []byte("HTTP/"))
	if c.known && (c.roleOf(h.dir) == roleServer) != isResp {
		c.st.ParseErrors[ErrBadStart]++
		c.startHunt(h)
		return skip + 1, false
	}
	// obs-fold: replace the CRLF of folded lines with spaces before the
	// string is made, so values stay substrings of it.
	if bytes.Contains(raw, []byte("\n ")) || bytes.Contains(raw, []byte("\n\t")) {
		c.scratch = append(c.scratch[:0], raw...)
		raw = c.scratch
		for i := 1; i < len(raw)-2; i++ {
			if raw[i] == '\n' && (raw[i+1] == ' ' || raw[i+1] == '\t') {
				raw[i] = ' '
				if raw[i-1] == '\r' {
					raw[i-1] = ' '
				}
				c.st.ParseErrors[ErrObsFold]++
				h.flags |= FlagParseError
			}
		}
	}
	s := string(raw) // the one allocation of this message
	var ok bool
	if isResp {
		ok = c.parseResponseHead(h, s, ts)
	} else {
		ok = c.parseRequestHead(h, s, ts)
	}
	if !ok {
		c.lostMessage(h, FlagParseError)
		c.startHunt(h)
		return skip + 1, false
	}
	if !c.known {
		c.known = true
		if isResp {
			c.client = h.dir ^ 1
		} else {
			c.client = h.dir
		}
	}
	return skip + end, true
}

// nextLine splits s at the first LF, dropping a CR before it.
func nextLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, rest
}

// tokenChars marks the bytes allowed in a token (RFC 9110 section 5.6.2).
var tokenChars = func() (t [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] = !strings.ContainsRune("\"(),/:;<=>?@[\\]{}", rune(c))
	}
	return t
}()

func isTokenChar(c byte) bool { return tokenChars[c] }

// trimOWS removes optional white space (SP, HTAB) around a field value.
func trimOWS(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[i:j]
}

// fields of a head that decide framing.
type framing struct {
	cl       int64
	clSeen   bool
	clBad    bool
	te       bool // Transfer-Encoding present
	chunked  bool // final transfer coding is chunked
	enc      string
	host     string
	upgrade  bool
	tooMany  bool
	badField bool
}

// parseHeaders fills hdrs from the header block and reports framing.
func (c *Conn) parseHeaders(block string, hdrs []Header) ([]Header, framing) {
	var f framing
	for block != "" {
		var line string
		line, block = nextLine(block)
		if line == "" {
			break
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || !validName(line[:colon]) {
			c.st.ParseErrors[ErrBadHeader]++
			f.badField = true
			continue
		}
		name := line[:colon]
		value := trimOWS(line[colon+1:])
		id := LookupHeader(name)
		if len(hdrs) < c.lim.MaxHeaders {
			hdrs = append(hdrs, Header{Name: name, Value: value, ID: id})
		} else {
			f.tooMany = true
		}
		switch id {
		case IDHost:
			if f.host == "" {
				f.host = value
			}
		case IDUpgrade:
			f.upgrade = true
		case IDContentLength:
			for _, v := range strings.Split(value, ",") { // rare: lists are invalid but seen
				n, ok := parseDecimal(trimOWS(v))
				if !ok || (f.clSeen && n != f.cl) {
					f.clBad = true
				}
				f.cl, f.clSeen = n, true
			}
		case IDContentEncoding:
			f.enc = normEncoding(lastListItem(value))
		case IDTransferEncoding:
			f.te = true
			f.chunked = strings.EqualFold(lastListItem(value), "chunked")
		}
	}
	if f.tooMany {
		c.st.ParseErrors[ErrTooManyHeaders]++
	}
	return hdrs, f
}

func validName(n string) bool {
	for i := 0; i < len(n); i++ {
		if !isTokenChar(n[i]) {
			return false
		}
	}
	return true
}

func lastListItem(v string) string {
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return trimOWS(v)
}

func parseDecimal(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// beginMessage resets the per-message state of h.
func (h *half) beginMessage(ts time.Time, raw *[]byte) {
	h.inMsg, h.wire, h.trunc, h.left = true, 0, false, 0
	h.start = ts
	*raw = (*raw)[:0]
	h.raw = raw
	h.flags &^= ^(FlagParseError) // keep a parse error found before the head
	if h.mid {
		h.flags |= FlagMidStreamStart
		h.mid = false
	}
}

func (c *Conn) parseRequestHead(h *half, s string, ts time.Time) bool {
	line, rest := nextLine(s)
	sp1 := strings.IndexByte(line, ' ')
	sp2 := strings.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 || !strings.HasPrefix(line[sp2+1:], "HTTP/1.") || len(line)-sp2-1 != 8 || !validName(line[:sp1]) {
		c.st.ParseErrors[ErrBadRequestLine]++
		return false
	}
	slot := c.pushReq(ts)
	c.lostResps = 0 // a response lost before this request was sent was not its own
	r := &slot.Request
	hdrs := r.Headers[:0]
	r.Method, r.Target, r.Proto = line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	r.Host, r.Path, r.Query = "", "", ""
	r.Start, r.End, r.HeadSize = ts, ts, len(s)
	r.Body = Body{}
	var f framing
	r.Headers, f = c.parseHeaders(rest, hdrs)
	splitTarget(r)
	if f.host != "" {
		r.Host = f.host
	}
	h.isReq, h.req = true, slot
	c.release(h.msgHeld)
	h.msgHeld = 0
	h.beginMessage(ts, &slot.raw)
	slot.fromMid = h.flags&FlagMidStreamStart != 0
	if f.tooMany {
		h.flags |= FlagHeadersTruncated
	}
	if f.badField {
		h.flags |= FlagParseError
	}
	h.enc = f.enc
	switch {
	case f.te:
		if f.clSeen {
			c.st.ParseErrors[ErrConflictingLength]++
			h.flags |= FlagParseError
		}
		if !f.chunked {
			c.st.ParseErrors[ErrBadTransferEncoding]++
			h.flags |= FlagParseError
			c.finish(h, ts)
			c.startHunt(h)
			return true
		}
		h.state = stChunkSize
	case f.clBad:
		c.st.ParseErrors[ErrBadContentLength]++
		h.flags |= FlagParseError
		c.finish(h, ts)
		c.startHunt(h)
		return true
	case f.clSeen && f.cl > 0:
		h.state, h.left = stBody, f.cl
	default:
		c.finish(h, ts)
	}
	return true
}

// splitTarget sets Path, Query and (absolute-form) Host from r.Target.
func splitTarget(r *Request) {
	t := r.Target
	switch {
	case strings.HasPrefix(t, "/"):
	case t == "*":
		r.Path = t
		return
	case strings.Contains(t, "://"):
		rest := t[strings.Index(t, "://")+3:]
		slash := strings.IndexAny(rest, "/?")
		if slash < 0 {
			r.Host, t = rest, "/"
		} else {
			r.Host, t = rest[:slash], rest[slash:]
			if t[0] == '?' {
				r.Path, r.Query = "/", t[1:]
				return
			}
		}
	default: // authority-form (CONNECT host:port)
		r.Host = t
		return
	}
	if q := strings.IndexByte(t, '?'); q >= 0 {
		r.Path, r.Query = t[:q], t[q+1:]
	} else {
		r.Path = t
	}
	if i := strings.IndexByte(r.Path, '#'); i >= 0 {
		r.Path = r.Path[:i]
	}
}

func (c *Conn) parseResponseHead(h *half, s string, ts time.Time) bool {
	line, rest := nextLine(s)
	if len(line) < 12 || !strings.HasPrefix(line, "HTTP/1.") || line[8] != ' ' || !isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) || (len(line) > 12 && line[12] != ' ') {
		c.st.ParseErrors[ErrBadStatusLine]++
		return false
	}
	r := &c.resp
	status := int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	interim := 0
	if h.inMsg { // a final response after 1xx ones
		interim = r.Interim
	}
	r.Proto, r.Status, r.Reason = line[:8], status, ""
	if len(line) > 13 {
		r.Reason = line[13:]
	}
	r.Start, r.End, r.HeadSize = ts, ts, len(s)
	r.Body = Body{}
	var f framing
	r.Headers, f = c.parseHeaders(rest, r.Headers[:0])
	h.isReq = false
	c.release(h.msgHeld)
	h.msgHeld = 0
	if !h.inMsg {
		h.beginMessage(ts, &c.respRaw)
	} else {
		h.wire, h.trunc, h.left = 0, false, 0
		c.respRaw = c.respRaw[:0]
	}
	r.Interim = interim
	if f.tooMany {
		h.flags |= FlagHeadersTruncated
	}
	if f.badField {
		h.flags |= FlagParseError
	}
	h.enc = f.enc
	method := ""
	if c.n > 0 {
		method = c.reqs[c.head].Method
	}
	switch {
	case status >= 100 && status < 200 && status != 101:
		r.Interim++
		h.state = stHead // still in the message: the final response follows
		return true
	case status == 101:
		h.flags |= FlagUpgrade
		c.finish(h, ts)
		return true
	case method == "CONNECT" && status >= 200 && status < 300:
		h.flags |= FlagConnect
		c.finish(h, ts)
		return true
	case method == "HEAD" || status == 204 || status == 304:
		c.finish(h, ts)
		return true
	case f.te:
		if f.clSeen {
			c.st.ParseErrors[ErrConflictingLength]++
			h.flags |= FlagParseError
		}
		if f.chunked {
			h.state = stChunkSize
		} else {
			h.state = stCloseBody
		}
	case f.clBad:
		c.st.ParseErrors[ErrBadContentLength]++
		h.flags |= FlagParseError
		h.state = stCloseBody
	case f.clSeen:
		if f.cl == 0 {
			c.finish(h, ts)
			return true
		}
		h.state, h.left = stBody, f.cl
	default:
		h.state = stCloseBody
	}
	return true
}
