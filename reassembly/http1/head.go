package http1

import (
	"bytes"
	"strings"
	"time"
)

// findHeadEnd returns the length of the message head in data (through the
// empty line), or -1 when the empty line has not arrived yet. odd says the
// empty line was made of CRs only ("\r\r\n", seen in evasion captures and
// accepted by servers); fold that a line of the head starts with white
// space (obs-fold, RFC 9112 section 5.2). The offsets of the head's LFs are
// left in c.nl, so that parsing the head does not search for them again.
func (c *Conn) findHeadEnd(data []byte) (end int, odd, fold bool) {
	c.nl = c.nl[:0]
	pos := 0
	for {
		i := bytes.IndexByte(data[pos:], '\n')
		if i < 0 {
			return -1, false, false
		}
		line := data[pos : pos+i]
		if len(c.nl) < maxHeadLines {
			c.nl = append(c.nl, int32(pos+i))
		}
		pos += i + 1
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			if pos > 2 || len(data) == pos { // a head needs at least a start line
				return pos, false, fold
			}
		} else if pos > i+1 && line[0] == '\r' && allCR(line) {
			return pos, true, fold
		}
		if pos < len(data) && (data[pos] == ' ' || data[pos] == '\t') {
			fold = true
		}
	}
}

// maxHeadLines bounds the LF offsets findHeadEnd records (Conn.nl); the
// lines of a longer head are found by searching.
const maxHeadLines = 128

func allCR(b []byte) bool {
	for _, c := range b {
		if c != '\r' {
			return false
		}
	}
	return true
}

// firstLineKind tells from the bytes of a complete first line whether it
// may start a request (1), a response (2) or an HTTP/0.9 request (3); 0 if
// it can not start a message. It is cheap (no allocation); the parsers
// decide.
func firstLineKind(l []byte) int {
	l = trimCR(l)
	if len(l) >= 5 && (l[0]|0x20) == 'h' && (l[1]|0x20) == 't' && (l[2]|0x20) == 't' && (l[3]|0x20) == 'p' && l[4] == '/' {
		return 2
	}
	if n := len(l); n > 9 && l[n-9] == ' ' && string(l[n-8:n-1]) == "HTTP/1." {
		return 1 // the common request line
	}
	if len(l) == 0 || !isTokenChar(l[0]) {
		return 0
	}
	for i := 1; i+5 <= len(l); i++ {
		if isWS(l[i-1]) && (l[i]|0x20) == 'h' && (l[i+1]|0x20) == 't' && (l[i+2]|0x20) == 't' && (l[i+3]|0x20) == 'p' && l[i+4] == '/' {
			return 1
		}
	}
	if len(l) > 5 && string(l[:5]) == "GET /" && bytes.IndexAny(l[5:], " \t") < 0 {
		return 3
	}
	return 0
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
	kind := 0
	if i := bytes.IndexByte(body, '\n'); i >= 0 {
		if kind = firstLineKind(body[:i]); kind == 0 {
			c.st.ParseErrors[ErrBadStart]++
			c.startHunt(h)
			return skip + 1, false
		}
		if kind == 3 { // HTTP/0.9: the request is its line
			if c.known && c.roleOf(h.dir) == roleServer {
				c.st.ParseErrors[ErrBadStart]++
				c.startHunt(h)
				return skip + 1, false
			}
			if !c.parseRequestHead(h, string(body[:i+1]), ts, 0) {
				c.lostMessage(h, FlagParseError)
				c.startHunt(h)
				return skip + 1, false
			}
			c.setKnown(h.dir, false)
			return skip + i + 1, true
		}
	}
	end, oddEnd, fold := c.findHeadEnd(body)
	if end < 0 {
		return -1, false
	}
	if end > c.lim.MaxHeaderBytes {
		c.st.ParseErrors[ErrHeaderTooLarge]++
		if c.cutHead(h, body[:c.lim.MaxHeaderBytes], ts, FlagHeadersTruncated) {
			c.startHunt(h) // the rest of the head, and a body of unknown length
			return skip + end, true
		}
		c.lostMessage(h, FlagParseError)
		c.startHunt(h)
		return skip + 1, false
	}
	raw := body[:end]
	isResp := kind == 2 || kind == 0 && firstLineKind(raw) == 2
	if c.known && (c.roleOf(h.dir) == roleServer) != isResp {
		c.st.ParseErrors[ErrBadStart]++
		c.startHunt(h)
		return skip + 1, false
	}
	var extra Flags
	if oddEnd {
		extra |= FlagLenientHeaders
	}
	// obs-fold: replace the CRLF of folded lines with spaces before the
	// string is made, so values stay substrings of it.
	if fold {
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
				extra |= FlagLenientHeaders
			}
		}
	}
	s := string(raw) // the one allocation of this message
	// the LFs findHeadEnd found are those of s, unless folded lines were
	// joined
	c.nlOn, c.nlK = !fold, 0
	var ok bool
	if isResp {
		ok = c.parseResponseHead(h, s, ts, extra)
	} else {
		ok = c.parseRequestHead(h, s, ts, extra)
	}
	c.nlOn = false
	if !ok {
		c.lostMessage(h, FlagParseError)
		c.startHunt(h)
		return skip + 1, false
	}
	c.setKnown(h.dir, isResp)
	return skip + end, true
}

// setKnown records the roles once a message of direction d was parsed.
func (c *Conn) setKnown(d Dir, isResp bool) {
	if c.known {
		return
	}
	c.known = true
	if isResp {
		c.client = d ^ 1
	} else {
		c.client = d
	}
}

// cutHead reports a head that can not be read whole: one longer than
// Limits.MaxHeaderBytes (flag headers_truncated), or one that the end of
// the connection or a gap cut short (flag truncated). Its start line and
// the header lines complete in b are parsed, and the message ends there
// (its body, of unknown framing, is skipped by the hunt that follows). It
// reports false when b holds no complete start line.
func (c *Conn) cutHead(h *half, b []byte, ts time.Time, f Flags) bool {
	i := bytes.LastIndexByte(b, '\n')
	if i < 0 {
		return false
	}
	for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
		b, i = b[1:], i-1
	}
	if i < 0 {
		return false
	}
	k := firstLineKind(b[:bytes.IndexByte(b, '\n')+1])
	if k == 0 || c.known && (c.roleOf(h.dir) == roleServer) != (k == 2) {
		return false
	}
	s := string(b[:i+1])
	var ok bool
	if k == 2 {
		ok = c.parseResponseHead(h, s, ts, f)
	} else {
		ok = c.parseRequestHead(h, s, ts, f)
	}
	if ok {
		c.setKnown(h.dir, k == 2)
	}
	return ok
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

// headLine is nextLine on the head being parsed: s starts at offset pos of
// the head, and the LF ending the line is taken from c.nl when findHeadEnd
// recorded them (c.nlOn; the lines of a head are read in order), searched
// for otherwise. It returns the line and the offset of the next one.
func (c *Conn) headLine(s string, pos int) (line, rest string, next int) {
	if c.nlOn && c.nlK < len(c.nl) {
		i := int(c.nl[c.nlK]) - pos
		c.nlK++
		if i >= 0 && i < len(s) && s[i] == '\n' {
			line, rest = s[:i], s[i+1:]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			return line, rest, pos + i + 1
		}
		c.nlOn = false // not the head findHeadEnd saw
	}
	line, rest = nextLine(s)
	return line, rest, pos + len(s) - len(rest)
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
	cl         int64
	clSeen     bool
	clBad      bool
	clConflict bool  // Content-Length values that differ
	teExact    bool  // Transfer-Encoding is exactly "chunked"
	flags      Flags // lenient readings and ambiguities found
	te         bool  // Transfer-Encoding present
	chunked    bool  // final transfer coding is chunked
	enc        string
	host       string
	upgrade    bool
	tooMany    bool
	badField   bool
}

// parseHeaders fills hdrs from the header block and reports framing.
// pos is block's offset in the head (see headLine).
func (c *Conn) parseHeaders(block string, pos int, hdrs []Header) ([]Header, framing) {
	var f framing
	for block != "" {
		var line string
		i := -1
		if c.nlOn && c.nlK < len(c.nl) {
			i = int(c.nl[c.nlK]) - pos
		}
		if i >= 0 && i < len(block) && block[i] == '\n' {
			// headLine, inlined for the common case
			c.nlK++
			line, block, pos = block[:i], block[i+1:], pos+i+1
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
		} else {
			line, block, pos = c.headLine(block, pos)
		}
		if line == "" || line[0] == '\r' && strings.Trim(line, "\r") == "" {
			break
		}
		// the name is the token before the colon
		colon := strings.IndexByte(line, ':')
		var id HeaderID
		ok := colon > 0
		if ok {
			id, ok = lookupField(line[:colon])
		}
		if !ok {
			c.st.ParseErrors[ErrBadHeader]++
			f.badField = true
			f.flags |= FlagLenientHeaders
			if colon > 0 { // "Transfer-Encoding : chunked": some servers take it, most refuse
				if id := LookupHeader(trimOWS(line[:colon])); id == IDContentLength || id == IDTransferEncoding {
					f.flags |= FlagRequestSmuggling
				}
			}
			continue
		}
		name := line[:colon]
		value := trimOWS(line[colon+1:])
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
			// RFC 9110 section 8.6: a list of equal values, or the same
			// header repeated, may be read as one value; leading zeros are
			// digits like others (nginx, Go and Node agree)
			v := value
			for {
				item := v
				i := strings.IndexByte(v, ',')
				if i >= 0 {
					item, v = v[:i], v[i+1:]
					f.flags |= FlagLenientFraming
				}
				n, ok, zeros := parseDecimal(trimOWS(item))
				switch {
				case !ok:
					f.clBad = true
				case f.clSeen && n != f.cl:
					f.clBad, f.clConflict = true, true
				case f.clSeen:
					f.flags |= FlagLenientFraming
				}
				if zeros {
					f.flags |= FlagLenientFraming
				}
				if ok && !f.clBad {
					f.cl = n
				}
				f.clSeen = true
				if i < 0 {
					break
				}
			}
		case IDContentEncoding:
			f.enc = normEncoding(lastListItem(value))
		case IDTransferEncoding:
			f.teExact = !f.te && value == "chunked"
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

// parseDecimal reads a Content-Length value. zeros says it had leading
// zeros (valid, but unusual); values past 18 digits are refused (they would
// overflow, and no server takes them).
func parseDecimal(s string) (n int64, ok, zeros bool) {
	if s == "" {
		return 0, false, false
	}
	for len(s) > 1 && s[0] == '0' {
		s, zeros = s[1:], true
	}
	if len(s) > 18 {
		return 0, false, zeros
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false, zeros
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true, zeros
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

// cutFlags mark a head that was not read whole (cutHead): the message ends
// with its head.
const cutFlags = FlagHeadersTruncated | FlagTruncated

func (c *Conn) parseRequestHead(h *half, s string, ts time.Time, extra Flags) bool {
	line, rest, pos := c.headLine(s, 0)
	rl, ok := parseRequestLine(line)
	if !ok {
		c.st.ParseErrors[ErrBadRequestLine]++
		return false
	}
	if c.connectWait {
		c.connectWait = false // the tunnel carries clear HTTP (see Data)
	}
	slot := c.pushReq(ts)
	c.lostResps = 0 // a response lost before this request was sent was not its own
	r := &slot.Request
	hdrs := r.Headers[:0]
	r.Method, r.Target, r.Proto = rl.method, rl.target, rl.proto
	r.Host, r.Path, r.Query = "", "", ""
	r.Start, r.End, r.HeadSize = ts, ts, len(s)
	r.Body = Body{}
	var f framing
	if !rl.http09 {
		r.Headers, f = c.parseHeaders(rest, pos, hdrs)
	} else {
		r.Headers = hdrs
		c.http09++
	}
	splitTarget(r)
	if f.host != "" {
		r.Host = f.host
	}
	h.isReq, h.req = true, slot
	c.release(h.msgHeld)
	h.msgHeld = 0
	h.beginMessage(ts, &slot.raw)
	slot.fromMid = h.flags&FlagMidStreamStart != 0
	h.flags |= extra | f.flags
	if rl.odd {
		h.flags |= FlagLenientStartLine
	}
	if rl.http09 {
		h.flags |= FlagHTTP09
	}
	if f.tooMany {
		h.flags |= FlagHeadersTruncated
	}
	if f.badField {
		h.flags |= FlagParseError
	}
	if r.Method == "CONNECT" {
		c.connectWait = true
	}
	h.enc = f.enc
	switch {
	case extra&cutFlags != 0:
		c.finish(h, ts) // framing unknown: the hunt skips what follows
	case f.te:
		if f.clSeen {
			c.st.ParseErrors[ErrConflictingLength]++
			h.flags |= FlagParseError | FlagRequestSmuggling
		}
		if !f.chunked {
			c.st.ParseErrors[ErrBadTransferEncoding]++
			h.flags |= FlagParseError | FlagRequestSmuggling
			c.finish(h, ts)
			c.startHunt(h)
			return true
		}
		if !f.teExact {
			h.flags |= FlagRequestSmuggling
		}
		h.state = stChunkSize
	case f.clBad:
		c.st.ParseErrors[ErrBadContentLength]++
		h.flags |= FlagParseError
		if f.clConflict {
			h.flags |= FlagRequestSmuggling
		}
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

func (c *Conn) parseResponseHead(h *half, s string, ts time.Time, extra Flags) bool {
	line, rest, pos := c.headLine(s, 0)
	sl, ok := parseStatusLine(line)
	if !ok {
		c.st.ParseErrors[ErrBadStatusLine]++
		return false
	}
	status := sl.status
	r := &c.resp
	interim := 0
	if h.inMsg { // a final response after 1xx ones
		interim = r.Interim
	}
	r.Proto, r.Status, r.Reason = sl.proto, status, sl.reason
	r.Start, r.End, r.HeadSize = ts, ts, len(s)
	r.Body = Body{}
	var f framing
	r.Headers, f = c.parseHeaders(rest, pos, r.Headers[:0])
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
	h.flags |= extra | f.flags&^FlagRequestSmuggling
	if sl.odd {
		h.flags |= FlagLenientStartLine
	}
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
	case extra&cutFlags != 0:
		c.finish(h, ts)
		return true
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
		c.tunnel = true // what follows is the tunnel's: clear HTTP is parsed (see Data)
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
