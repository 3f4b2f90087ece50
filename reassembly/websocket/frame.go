package websocket

import (
	"encoding/binary"
	"strings"
	"time"
)

// Opcode is a frame's opcode (RFC 6455, 5.2).
type Opcode uint8

// Opcodes.
const (
	OpContinuation Opcode = 0
	OpText         Opcode = 1
	OpBinary       Opcode = 2
	OpClose        Opcode = 8
	OpPing         Opcode = 9
	OpPong         Opcode = 10
)

// String is the opcode's name as events write it.
func (o Opcode) String() string {
	switch o {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "unknown"
}

// Message is one complete message (text, binary or close) of one
// direction. It and its Data are valid only during the Handler call.
type Message struct {
	// FromClient says the client sent it (its frames were masked).
	FromClient bool
	Opcode     Opcode
	// Data is the payload, unmasked and inflated, at most
	// Limits.MaxMessageBytes long (see Truncated). For a close message it
	// is empty: see CloseCode and CloseReason.
	Data []byte
	// WireBytes is the payload length on the wire (compressed when
	// Compressed), Size the payload length after inflation (at least
	// len(Data); only what was inflated is counted).
	WireBytes, Size int64
	// Fragments is the number of frames the message came in.
	Fragments int
	// Compressed: permessage-deflate (RSV1 on its first frame).
	Compressed bool
	// Truncated: Data is shorter than the message (a bound was hit).
	Truncated bool
	// DecodeError: a compressed message could not be inflated (a window
	// from before the capture, lost bytes, corrupt data); Data is empty.
	DecodeError bool
	// CloseCode and CloseReason of a close message (0 and "" when the
	// close frame carried no status).
	CloseCode   uint16
	CloseReason string
	// Start and End are the capture times of its first and last byte.
	Start, End time.Time
}

// Extensions is what the handshake negotiated (the server's
// Sec-WebSocket-Extensions).
type Extensions struct {
	// Deflate: permessage-deflate (RFC 7692). ServerNoContext and
	// ClientNoContext: each message of that side is compressed on its own
	// (no context takeover).
	Deflate                          bool
	ServerNoContext, ClientNoContext bool
}

// ParseExtensions reads the value of a Sec-WebSocket-Extensions response
// header: the server accepts at most one permessage-deflate offer.
func ParseExtensions(v string) Extensions {
	var e Extensions
	for ext := range strings.SplitSeq(v, ",") {
		params := strings.Split(ext, ";")
		if !strings.EqualFold(strings.TrimSpace(params[0]), "permessage-deflate") {
			continue
		}
		e.Deflate = true
		for _, p := range params[1:] {
			name, _, _ := strings.Cut(strings.TrimSpace(p), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "server_no_context_takeover":
				e.ServerNoContext = true
			case "client_no_context_takeover":
				e.ClientNoContext = true
			}
		}
		break
	}
	return e
}

// header is a parsed frame header.
type header struct {
	fin, rsv1, masked bool
	op                Opcode
	mask              [4]byte
	length            int64
	size              int // header bytes
}

// maxFrameLen bounds a frame's declared length (larger ones are taken for
// damage): 1 TiB.
const maxFrameLen = 1 << 40

// parseHeader reads a frame header from b. It returns the header and
// 0 when b is too short, -1 when the header is not valid for a frame of
// that direction (client: masked). strict also asks for the shortest
// length encoding, as every implementation sends (used when hunting).
// deflate says RSV1 may be set on a message's first frame.
func parseHeader(b []byte, client, deflate, strict bool) (header, int) {
	var h header
	if len(b) < 2 {
		return h, 0
	}
	b0, b1 := b[0], b[1]
	h.fin, h.rsv1, h.op = b0&0x80 != 0, b0&0x40 != 0, Opcode(b0&0x0f)
	h.masked = b1&0x80 != 0
	if b0&0x30 != 0 || h.masked != client {
		return h, -1
	}
	switch h.op {
	case OpContinuation, OpText, OpBinary:
		if h.rsv1 && (!deflate || h.op == OpContinuation) {
			return h, -1
		}
	case OpClose, OpPing, OpPong:
		if !h.fin || h.rsv1 || b1&0x7f > 125 {
			return h, -1
		}
	default:
		return h, -1
	}
	n := 2
	switch l := b1 & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return h, 0
		}
		h.length = int64(binary.BigEndian.Uint16(b[2:]))
		n = 4
		if strict && h.length < 126 {
			return h, -1
		}
	case 127:
		if len(b) < 10 {
			return h, 0
		}
		u := binary.BigEndian.Uint64(b[2:])
		if u > maxFrameLen || strict && u < 1<<16 {
			return h, -1
		}
		h.length = int64(u)
		n = 10
	default:
		h.length = int64(l)
	}
	if h.masked {
		if len(b) < n+4 {
			return h, 0
		}
		copy(h.mask[:], b[n:n+4])
		n += 4
	}
	h.size = n
	return h, n
}

// chain says whether a frame boundary at b[pos] is confirmed: valid
// headers follow each other up to exactly the end of b, or up to a frame
// (after at least one complete one) that goes on past b.
func chain(b []byte, pos int, client, deflate bool) bool {
	return chainState(b, pos, client, deflate) > 0
}

// chainState is chain with a third answer: 0 when the headers are valid
// but the first frame (or its header) goes on past b, so that only more
// bytes can tell; -1 when b[pos] is not a frame boundary.
func chainState(b []byte, pos int, client, deflate bool) int {
	for depth := 0; ; depth++ {
		h, n := parseHeader(b[pos:], client, deflate, true)
		if n < 0 {
			return -1
		}
		if n == 0 {
			return min(depth, 1) // a header cut by the end
		}
		end := int64(pos) + int64(n) + h.length
		switch {
		case end == int64(len(b)):
			return 1
		case end > int64(len(b)):
			return min(depth, 1)
		}
		pos = int(end)
	}
}

// hunt returns the offset of the first confirmed frame boundary in b, or
// -1.
func hunt(b []byte, client, deflate bool) int {
	for i := 0; i+2 <= len(b); i++ {
		if chain(b, i, client, deflate) {
			return i
		}
	}
	return -1
}

// Sniff says whether b, the first bytes seen in one direction of a
// connection joined in the middle, are WebSocket frames: 1 when valid
// frames fill it exactly, or follow each other up to one that goes on past
// it; 0 when its first frame goes on past it (more bytes will tell); -1
// when it does not start with a frame. client says which side sent them
// (masked frames: the client).
func Sniff(b []byte) (verdict int, client bool) {
	if len(b) < 2 {
		return 0, false
	}
	client = b[1]&0x80 != 0
	return chainState(b, 0, client, true), client
}
