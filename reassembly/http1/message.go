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
type Body struct {
	// Data is the (decoded) body, at most Limits.MaxBodyBytes long. It points
	// into a buffer that the Conn reuses after the callback returns: copy
	// what you keep.
	Data []byte
	// WireBytes is the length of the body on the wire (after de-chunking,
	// before content decoding), even when Data was cut.
	WireBytes int64
	// Encoding is the Content-Encoding that was decoded ("" for identity).
	Encoding string
	// Truncated says Data is shorter than the full (decoded) body.
	Truncated bool
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
