package http1

import "time"

// Dir is the direction of a byte stream inside one TCP connection, as the
// reassembler numbers it: DirA is the side that sent the first packet seen
// (the SYN sender when the handshake was captured), DirB the other side.
type Dir uint8

const (
	DirA Dir = 0
	DirB Dir = 1
)

// Flags describe what happened to one transaction. They are a bit set so
// that the hot path never allocates for them.
type Flags uint32

const (
	FlagTruncated         Flags = 1 << iota // a body was longer than max_body_bytes and was cut (or a decoded body hit the bomb bound)
	FlagGap                                 // bytes were lost in this transaction or just before it; the parser resynchronised
	FlagMidStreamStart                      // the connection's start was not captured; parsing began at a message start found by search
	FlagUnmatchedRequest                    // a request without a response (connection ended, or a gap swallowed it)
	FlagUnmatchedResponse                   // a response without a request
	FlagParseError                          // the message broke RFC 9112 in a way the parser could not recover from inside the message
	FlagUpgrade                             // 101 Switching Protocols (e.g. WebSocket): HTTP parsing stopped for this connection
	FlagConnect                             // a CONNECT tunnel was established: clear HTTP inside is parsed (flag tunnelled), TLS inside ends parsing
	FlagDecodeError                         // Content-Encoding could not be decoded; Body holds the raw (encoded) bytes
	FlagHeadersTruncated                    // more headers or header bytes than the limits allow; the extra ones were dropped
	FlagLenientStartLine                    // the request or status line departs from RFC 9112 in a way servers accept (lenient.go)
	FlagLenientHeaders                      // header lines servers skip or accept: no colon or a bad name (dropped), obs-fold, a head ending in CR-only lines
	FlagLenientFraming                      // Content-Length with leading zeros, repeated with the same value, or a list of equal values
	FlagHTTP09                              // an HTTP/0.9 request (no version, no headers) and its bare, close-delimited response
	FlagRequestSmuggling                    // request framing servers read differently: Content-Length with Transfer-Encoding, differing Content-Lengths, a Transfer-Encoding that is not exactly chunked, a framing header with white space before the colon
	FlagTunnelled                           // an exchange inside a CONNECT tunnel
)

// FlagNames lists the flag names in bit order, as they appear in events.
var FlagNames = [...]string{
	"truncated", "gap", "mid_stream_start", "unmatched_request", "unmatched_response",
	"parse_error", "upgrade", "connect", "decode_error", "headers_truncated",
	"lenient_start_line", "lenient_headers", "lenient_framing", "http09", "request_smuggling", "tunnelled",
}

// Header is one header field as it appeared on the wire (name casing kept).
// Name and Value are substrings of a string owned by the message, so keeping
// them after the callback is safe; keeping the Header slice is not.
type Header struct {
	Name  string
	Value string
	// ID numbers a well-known name (set by the parser; use Known, which
	// also looks up headers built by hand).
	ID HeaderID
}

// Body is a message body after transfer decoding (chunked) and content
// decoding (gzip, deflate, br, zstd), cut at the configured bound.
//
// Content decoding is lazy: a parsed body with a Content-Encoding is
// decoded the first time someone calls Bytes, so that bodies nobody reads
// (responses outside every analyzer's sample) cost no decompression.
// Until then the body is pending and Data is nil.
type Body struct {
	// Data is the decoded body, at most Limits.MaxBodyBytes long: set by
	// whoever builds a Body by hand (other parsers, tests); for parsed
	// bodies read it with Bytes. It points into a buffer that the Conn
	// reuses after the callback returns: copy what you keep.
	Data []byte
	// WireBytes is the length of the body on the wire (after de-chunking,
	// before content decoding), even when Data was cut.
	WireBytes int64
	// Encoding is the Content-Encoding of the body ("" for identity).
	Encoding string
	// Truncated says Data is shorter than the full (decoded) body. For a
	// pending body it says only whether the wire bytes were cut.
	Truncated bool

	raw    []byte // content-coded bytes waiting to be decoded (lz != nil)
	lz     *lazy  // how to decode raw; nil once decoded or for identity
	dflags Flags  // what decoding found (FlagTruncated, FlagDecodeError)
}

// lazy is where a pending body decodes: the output buffer it reuses, the
// bounds, the counters, and the budget its output is charged to (c and
// held; nil c for a Decoder's bodies).
type lazy struct {
	lim  *Limits
	st   *Stats
	buf  *[]byte
	c    *Conn
	held *int
}

// Bytes returns the decoded body, decoding it first if it is pending.
func (b *Body) Bytes() []byte {
	if b.lz != nil {
		b.decode()
	}
	return b.Data
}

// Pending says the body still waits for content decoding (see Bytes).
func (b *Body) Pending() bool { return b.lz != nil }

// Empty says the body has no bytes, without decoding it.
func (b *Body) Empty() bool { return len(b.Data) == 0 && len(b.raw) == 0 }

// AllFlags returns the exchange's flags with what lazy decoding of its
// bodies found since it was reported.
func (ex *Exchange) AllFlags() Flags {
	f := ex.Flags
	if ex.Request != nil {
		f |= ex.Request.Body.dflags
	}
	if ex.Response != nil {
		f |= ex.Response.Body.dflags
	}
	return f
}

// decode runs the pending content decoding.
func (b *Body) decode() {
	lz, raw := b.lz, b.raw
	b.lz, b.raw = nil, nil
	out, res := decompress(*lz.buf, raw, b.Encoding, lz.lim.MaxBodyBytes, lz.lim.MaxDecodedRatio, b.Truncated)
	*lz.buf = out
	if lz.c != nil {
		if !lz.c.charge(len(out)) {
			b.Data, b.Truncated = nil, true
			b.dflags |= FlagTruncated
			return
		}
		*lz.held += len(out)
	}
	switch res {
	case decodeOK:
		b.Data = out
	case decodeTruncated:
		if !b.Truncated {
			lz.st.BodyTruncated++
		}
		b.Data, b.Truncated = out, true
		b.dflags |= FlagTruncated
	case decodeBomb:
		b.Data, b.Truncated = out, true
		lz.st.BombsStopped++
		b.dflags |= FlagTruncated
	default: // the body stays as it came (still coded)
		b.Data = raw
		lz.st.DecodeErrors++
		b.dflags |= FlagDecodeError
	}
}

// Decoder decodes bodies handed over by a Conn after its callback
// returned (Detach): its owner (one goroutine) keeps the buffers and the
// counters.
type Decoder struct {
	lim   Limits
	Stats Stats // BodyTruncated, BombsStopped, DecodeErrors of what it decoded
	buf   [2][]byte
	lz    [2]lazy
}

// NewDecoder returns a Decoder with the bounds of lim (defaults applied).
func NewDecoder(lim Limits) *Decoder {
	d := &Decoder{lim: lim.WithDefaults()}
	for i := range d.lz {
		d.lz[i] = lazy{lim: &d.lim, st: &d.Stats, buf: &d.buf[i]}
	}
	return d
}

// Detach copies b into dst so that dst stays valid after the Conn's
// callback: keep copies byte slices (it returns a copy of its argument
// that lives as long as dst must). A pending body stays pending, with its
// still-coded bytes copied, and decodes with d into d's buffer slot (0 or
// 1: one for a request, one for a response; a slot is reused by the next
// body detached to it, so decode a slot's bodies one transaction at a
// time).
func (b *Body) Detach(dst *Body, keep func([]byte) []byte, d *Decoder, slot int) {
	*dst = Body{WireBytes: b.WireBytes, Encoding: b.Encoding, Truncated: b.Truncated, dflags: b.dflags}
	if b.lz != nil {
		dst.raw = keep(b.raw)
		dst.lz = &d.lz[slot]
		return
	}
	dst.Data = keep(b.Data)
}

// Rebind makes a pending body (see Detach) decode with d into d's buffer
// slot instead: a body handed from one goroutine's decoder to another's.
// A body already decoded is left alone.
func (b *Body) Rebind(d *Decoder, slot int) {
	if b.lz != nil {
		b.lz = &d.lz[slot]
	}
}

// Request is one parsed HTTP/1.x request.
type Request struct {
	Method   string
	Target   string // request-target as sent (origin-form, absolute-form, authority-form or "*")
	Path     string // path part of Target (absolute-form: the path of the URL), not unescaped
	Query    string // raw query without '?'
	Host     string // Host header (or authority of an absolute-form target)
	Proto    string // as sent: "HTTP/1.1", "HTTP/1.0", "HTTP/0.9" for HTTP/0.9, or a leniently read version
	Headers  []Header
	Body     Body
	Start    time.Time // capture time of the first byte of the request line
	End      time.Time // capture time of the last byte of the message
	HeadSize int       // bytes of request line + headers + CRLF
}

// Response is one parsed HTTP/1.x response (final, not 1xx).
type Response struct {
	Status   int
	Reason   string
	Proto    string
	Headers  []Header
	Body     Body
	Start    time.Time
	End      time.Time
	HeadSize int
	// Interim counts 1xx responses (100 Continue, 103 Early Hints) that
	// preceded this final response; they are not reported otherwise.
	Interim int
}

// Exchange is one request paired with its response. Request or Response is
// nil for unmatched ones (see Flags). An Exchange and everything it points
// to are valid only during the callback that receives it: the Conn reuses
// them. Strings inside stay valid; byte slices do not.
type Exchange struct {
	Request  *Request
	Response *Response
	Flags    Flags
	// ClientDir is the direction that carried the request(s) on this connection.
	ClientDir Dir
}

// Limits bound what one connection may hold. Zero values take the defaults.
type Limits struct {
	MaxHeaderBytes  int   // request/status line plus header block; default 64 KiB
	MaxHeaders      int   // header fields kept per message; default 128
	MaxBodyBytes    int   // body bytes kept per message (after decoding); default 64 KiB
	MaxDecodedRatio int   // stop decompressing past this ratio of decoded to wire bytes; default 100 (bomb bound)
	MaxPipelined    int   // requests waiting for responses on one connection; default 64
	MaxWireBody     int64 // not a hard limit: bodies longer than this are skipped, not buffered; default 1<<40
	// Budget, when set, bounds the bytes held by all the Conns sharing it
	// (incomplete heads, kept bodies, pending requests). Beyond it bodies
	// are not kept (flag truncated) and incomplete heads are dropped.
	Budget *Budget
}

// Budget is a byte allowance shared by the Conns of one worker (not safe
// for concurrent use).
type Budget struct {
	Max    int64  // bytes; 0 means unbounded
	Used   int64  // bytes held now
	Denied uint64 // requests for bytes refused
}

// avail is how many of n bytes the budget can still give.
func (b *Budget) avail(n int) int {
	if b == nil || b.Max <= 0 {
		return n
	}
	return int(max(0, min(int64(n), b.Max-b.Used)))
}

func (b *Budget) take(n int) bool {
	if b == nil || n <= 0 {
		return true
	}
	if b.Max > 0 && b.Used+int64(n) > b.Max {
		b.Denied++
		return false
	}
	b.Used += int64(n)
	return true
}
