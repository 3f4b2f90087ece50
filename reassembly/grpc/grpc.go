package grpc

import (
	"strconv"
	"strings"

	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/reassembly/protomsg"
)

// Kind is how many messages each side of a call sends.
type Kind uint8

const (
	Unary Kind = iota
	ClientStreaming
	ServerStreaming
	BidiStreaming
)

// KindNames are the names of the kinds, as events write them.
var KindNames = [...]string{"unary", "client_streaming", "server_streaming", "bidi_streaming"}

func (k Kind) String() string { return KindNames[k&3] }

// Decoding says how a call's messages were rendered.
type Decoding uint8

const (
	DecodedNone       Decoding = iota // no message was rendered
	DecodedWire                       // without a schema: keys are field numbers
	DecodedDescriptor                 // with the descriptor set: keys are field names
)

// DecodingNames are the names of the decodings, as events write them.
var DecodingNames = [...]string{"none", "wire", "descriptor"}

// Call is one gRPC call.
type Call struct {
	Service, Method string // from the path; "" when it was not resolved
	Kind            Kind
	// KindFromSchema says Kind comes from the descriptor set; otherwise
	// it is inferred from the message counts, so a streaming call that
	// sent one message each way looks unary.
	KindFromSchema                    bool
	RequestMessages, ResponseMessages int
	// Status is grpc-status, -1 when neither trailers nor a
	// trailers-only response carried it.
	Status   int
	Message  string // grpc-message, percent-decoded
	Encoding string // grpc-encoding of compressed messages ("" when none was compressed)
	Decoded  Decoding
	// Undecoded counts messages that could not be rendered: compressed
	// with a coding apitap does not decode, malformed, or cut by the body
	// bound.
	Undecoded int
}

// statusNames are the status code names (grpc/doc/statuscodes.md).
var statusNames = [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

// StatusName is the name of a status code ("" for -1, the number as text
// beyond the known codes).
func StatusName(code int) string {
	switch {
	case code < 0:
		return ""
	case code < len(statusNames):
		return statusNames[code]
	}
	return strconv.Itoa(code)
}

// IsGRPC reports whether a content type is gRPC's (application/grpc and
// its +proto, +json... variants; not grpc-web, which frames differently).
func IsGRPC(ct string) bool {
	if len(ct) < 16 || !strings.EqualFold(ct[:16], "application/grpc") {
		return false
	}
	return len(ct) == 16 || ct[16] == '+' || ct[16] == ';'
}

// Framer counts the length-prefixed messages (a compressed flag byte and a
// 4-byte big-endian length, then the message) in the DATA bytes of one
// direction of a call, fed in order and in any pieces.
type Framer struct {
	hdr        [5]byte
	nh         uint8
	left       uint32 // message bytes still to come
	Messages   int    // messages whose prefix was read
	Compressed int    // of which flagged compressed
	// Broken says a prefix was not a gRPC one (flag other than 0 or 1):
	// the rest was not counted.
	Broken bool
}

// Feed counts the messages in b.
func (f *Framer) Feed(b []byte) {
	for len(b) > 0 && !f.Broken {
		if f.left > 0 {
			n := min(uint32(len(b)), f.left)
			f.left -= n
			b = b[n:]
			continue
		}
		n := copy(f.hdr[f.nh:], b)
		f.nh += uint8(n)
		b = b[n:]
		if f.nh < 5 {
			return
		}
		f.nh = 0
		if f.hdr[0] > 1 {
			f.Broken = true
			return
		}
		f.Messages++
		if f.hdr[0] == 1 {
			f.Compressed++
		}
		f.left = uint32(f.hdr[1])<<24 | uint32(f.hdr[2])<<16 | uint32(f.hdr[3])<<8 | uint32(f.hdr[4])
	}
}

// Clean reports whether the bytes fed so far are whole gRPC messages:
// at least one, well framed, none cut.
func (f *Framer) Clean() bool { return f.Messages > 0 && !f.Broken && f.left == 0 && f.nh == 0 }

// Skip accounts for n bytes lost inside the direction's bytes: counting
// goes on when they fell inside a message, and stops (Broken) otherwise.
func (f *Framer) Skip(n int) {
	if uint64(n) <= uint64(f.left) && f.nh == 0 {
		f.left -= uint32(n)
		return
	}
	f.Broken = true
}

// Reset readies f for another call.
func (f *Framer) Reset() { *f = Framer{} }

// Stats counts what a Decoder did.
type Stats struct {
	Calls        uint64 // calls seen
	Messages     uint64 // messages counted (both directions)
	Rendered     uint64 // messages rendered as JSON
	Undecoded    uint64 // messages not rendered (see Call.Undecoded)
	Compressed   uint64 // messages flagged compressed
	WithSchema   uint64 // calls whose method is in the descriptor set
	StatusErrors uint64 // calls that ended with a status other than OK
}

// Add adds o to s.
func (s *Stats) Add(o *Stats) {
	s.Calls += o.Calls
	s.Messages += o.Messages
	s.Rendered += o.Rendered
	s.Undecoded += o.Undecoded
	s.Compressed += o.Compressed
	s.WithSchema += o.WithSchema
	s.StatusErrors += o.StatusErrors
}

// Decoder renders calls' messages. Protos is the descriptor set (nil:
// decode on the wire format only); Stats, when set, is where it counts
// (else in a Stats of its own). Not safe for concurrent use.
type Decoder struct {
	Protos *protomsg.Registry
	Stats  *Stats
	own    Stats
	wire   protomsg.Wire
	plain  []byte // one decompressed message
}

func (d *Decoder) st() *Stats {
	if d.Stats == nil {
		d.Stats = &d.own
	}
	return d.Stats
}

// Message is one side of a call as the HTTP/2 parser kept it.
type Message struct {
	Raw       []byte // the kept DATA bytes (a prefix when Truncated)
	Truncated bool
	Headers   []http1.Header // for grpc-encoding
}

// Begin fills the parts of call known from the request path and counts it.
func (d *Decoder) Begin(call *Call, path string) *protomsg.Method {
	*call = Call{Status: -1}
	d.st().Calls++
	svc, m, ok := protomsg.SplitPath(path)
	if ok {
		call.Service, call.Method = svc, m
	}
	md := d.Protos.Method(path)
	if md != nil {
		d.st().WithSchema++
		call.KindFromSchema = true
		switch {
		case md.ClientStreaming && md.ServerStreaming:
			call.Kind = BidiStreaming
		case md.ClientStreaming:
			call.Kind = ClientStreaming
		case md.ServerStreaming:
			call.Kind = ServerStreaming
		}
	}
	return md
}

// Finish completes call from the message counts and the response's
// headers and trailers (either may hold grpc-status: a trailers-only
// response has it in its headers).
func (d *Decoder) Finish(call *Call, req, resp *Framer, respHeaders, trailers []http1.Header) {
	if req != nil {
		call.RequestMessages = req.Messages
		d.st().Compressed += uint64(req.Compressed)
	}
	if resp != nil {
		call.ResponseMessages = resp.Messages
		d.st().Compressed += uint64(resp.Compressed)
	}
	d.st().Messages += uint64(call.RequestMessages + call.ResponseMessages)
	if !call.KindFromSchema {
		switch {
		case call.RequestMessages > 1 && call.ResponseMessages > 1:
			call.Kind = BidiStreaming
		case call.RequestMessages > 1:
			call.Kind = ClientStreaming
		case call.ResponseMessages > 1:
			call.Kind = ServerStreaming
		}
	}
	for _, hs := range [2][]http1.Header{trailers, respHeaders} {
		if v := get(hs, "grpc-status"); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < 1<<16 {
				call.Status = n
			}
			call.Message = percentDecode(get(hs, "grpc-message"))
			break
		}
	}
	if call.Status > 0 {
		d.st().StatusErrors++
	}
}

// Render renders the messages of m as JSON into dst[:0] (md: the method
// from the descriptor set, nil without one): one message as an object,
// several as an array, at most lim.MaxBodyBytes bytes. It reports whether
// every message was rendered. lim must have its defaults.
func (d *Decoder) Render(dst []byte, call *Call, m *Message, md *protomsg.Method, request bool, lim *http1.Limits) ([]byte, bool) {
	out := append(dst[:0], '[')
	enc := http1.NormEncoding(get(m.Headers, "grpc-encoding"))
	n, bad, complete := 0, 0, !m.Truncated
	for b := m.Raw; len(b) > 0; {
		if len(b) < 5 || b[0] > 1 {
			complete = false // cut inside a prefix, or not gRPC framing
			break
		}
		size := uint32(b[1])<<24 | uint32(b[2])<<16 | uint32(b[3])<<8 | uint32(b[4])
		if uint64(len(b)-5) < uint64(size) {
			complete = false // cut by the body bound
			break
		}
		msg := b[5 : 5+size]
		compressed := b[0] == 1
		b = b[5+size:]
		if compressed {
			if call.Encoding == "" {
				call.Encoding = enc
			}
			var res http1.ContentResult
			d.plain, res = http1.DecodeContent(d.plain, msg, enc, lim, false)
			if res != http1.ContentOK {
				bad++
				complete = false
				continue
			}
			msg = d.plain
		}
		mark := len(out)
		if n > 0 {
			out = append(out, ',')
		}
		ok, cut := false, false
		if md != nil {
			typ := md.Output
			if request {
				typ = md.Input
			}
			if out, ok = protomsg.AppendJSON(out, msg, typ); ok {
				call.Decoded = DecodedDescriptor
				if len(out) > lim.MaxBodyBytes-1 {
					out, ok, cut = out[:mark], false, true
				}
			}
		}
		if room := lim.MaxBodyBytes - len(out) - 1; !ok && !cut && room < 2 {
			cut = true
		} else if !ok && !cut {
			out, ok, cut = d.wire.AppendWire(out, msg, room)
			if ok && call.Decoded == DecodedNone {
				call.Decoded = DecodedWire
			}
		}
		if !ok {
			bad++
			complete = false
			out = out[:mark]
			if cut {
				break
			}
			continue
		}
		d.st().Rendered++
		n++
		if cut {
			complete = false
			break
		}
	}
	switch n {
	case 0:
		out = out[:0]
	case 1:
		out = append(out[:0], out[1:]...)
	default:
		out = append(out, ']')
	}
	call.Undecoded += bad
	d.st().Undecoded += uint64(bad)
	return out, complete
}

// get returns the first header named name (lower case, as HTTP/2 sends).
func get(hs []http1.Header, name string) string {
	for i := range hs {
		if hs[i].Name == name {
			return hs[i].Value
		}
	}
	return ""
}

// percentDecode decodes grpc-message's percent-encoding.
func percentDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b = append(b, byte(v))
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}
