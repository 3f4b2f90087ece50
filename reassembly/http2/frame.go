package http2

import (
	"bytes"

	xh2 "golang.org/x/net/http2"
)

// Frame layout (RFC 9113 section 4.1): a 9-byte header, then the payload.
// The frame types, flags and error codes are x/net/http2's; the parsing is
// incremental (a frame may arrive in many TCP segments) and tolerant, so it
// is done here rather than with x/net's Framer, which reads whole frames
// from an io.Reader and stops a connection at its first violation.

const frameHeaderLen = 9

// Preface is the client connection preface (RFC 9113 section 3.4).
const Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// frameHeader is a parsed frame header.
type frameHeader struct {
	length uint32
	typ    xh2.FrameType
	flags  xh2.Flags
	stream uint32 // the reserved bit is cleared
	rbit   bool   // the reserved bit was set
}

func parseFrameHeader(b []byte) frameHeader {
	_ = b[8]
	return frameHeader{
		length: uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		typ:    xh2.FrameType(b[3]),
		flags:  xh2.Flags(b[4]),
		stream: (uint32(b[5])<<24 | uint32(b[6])<<16 | uint32(b[7])<<8 | uint32(b[8])) & (1<<31 - 1),
		rbit:   b[5]&0x80 != 0,
	}
}

// maxPlausibleFrame is the largest frame length a hunt accepts: peers may
// raise SETTINGS_MAX_FRAME_SIZE (Go's server allows 1 MiB), but frames of
// several MiB are not what real clients send.
const maxPlausibleFrame = 1 << 20

// allowedFlags are the flags each frame type defines (RFC 9113 section 6).
var allowedFlags = [...]xh2.Flags{
	xh2.FrameData:         xh2.FlagDataEndStream | xh2.FlagDataPadded,
	xh2.FrameHeaders:      xh2.FlagHeadersEndStream | xh2.FlagHeadersEndHeaders | xh2.FlagHeadersPadded | xh2.FlagHeadersPriority,
	xh2.FramePriority:     0,
	xh2.FrameRSTStream:    0,
	xh2.FrameSettings:     xh2.FlagSettingsAck,
	xh2.FramePushPromise:  xh2.FlagPushPromiseEndHeaders | xh2.FlagPushPromisePadded,
	xh2.FramePing:         xh2.FlagPingAck,
	xh2.FrameGoAway:       0,
	xh2.FrameWindowUpdate: 0,
	xh2.FrameContinuation: xh2.FlagContinuationEndHeaders,
}

// plausible reports whether h is a frame header a real peer would send:
// a known type, only its defined flags, the reserved bit clear, a stream id
// where the type needs one (and none where it must not), and a length the
// type allows. A hunt for frame boundaries needs this strictness: a random
// byte offset passes with a probability of about 1e-4, a chain of three
// with 1e-12.
func plausible(h frameHeader) bool {
	if int(h.typ) >= len(allowedFlags) || h.rbit || h.flags&^allowedFlags[h.typ] != 0 || h.length > maxPlausibleFrame {
		return false
	}
	switch h.typ {
	case xh2.FrameData, xh2.FrameHeaders, xh2.FrameContinuation, xh2.FramePushPromise:
		return h.stream != 0 && (h.typ != xh2.FramePushPromise || h.length >= 4)
	case xh2.FramePriority:
		return h.stream != 0 && h.length == 5
	case xh2.FrameRSTStream:
		return h.stream != 0 && h.length == 4
	case xh2.FrameSettings:
		return h.stream == 0 && h.length%6 == 0 && h.length <= 6*32 && (h.flags == 0 || h.length == 0)
	case xh2.FramePing:
		return h.stream == 0 && h.length == 8
	case xh2.FrameGoAway:
		return h.stream == 0 && h.length >= 8 && h.length <= 1<<14
	case xh2.FrameWindowUpdate:
		return h.length == 4
	}
	return false
}

// How a chain of frame headers ended.
const (
	chainBroken = iota // an implausible header
	chainEnd           // the last frame ends exactly at the end of the bytes (a TCP segment boundary, where senders usually cut)
	chainOpen          // the bytes end inside a frame or header: more may confirm it
)

// chainAt counts the plausible frame headers chained from off in b (each
// one's payload ends where the next header starts), up to want.
func chainAt(b []byte, off, want int) (n, how int) {
	for n < want {
		if off+frameHeaderLen > len(b) {
			return n, chainOpen
		}
		h := parseFrameHeader(b[off:])
		if !plausible(h) {
			return n, chainBroken
		}
		n++
		off += frameHeaderLen + int(h.length)
		if off == len(b) {
			return n, chainEnd
		}
	}
	return n, chainOpen
}

// huntResult is what a search for a frame boundary found.
type huntResult uint8

const (
	huntNone  huntResult = iota // no boundary in the bytes
	huntMore                    // a candidate needs more bytes to be confirmed
	huntFound                   // frames start at the offset
)

// findFrames looks for the first offset in b where frames start: three
// plausible headers in a row, or two whose frames fill b exactly. Without
// one, it returns the first candidate that more bytes could confirm
// (huntMore), or where the bytes worth keeping start (huntNone).
func findFrames(b []byte) (int, huntResult) {
	cand := -1
	for off := 0; off+frameHeaderLen <= len(b); off++ {
		if b[off] > maxPlausibleFrame>>16 { // the length's top byte: fast rejection
			continue
		}
		n, how := chainAt(b, off, 3)
		switch {
		case n >= 3, n == 2 && how == chainEnd:
			return off, huntFound
		case n >= 1 && how != chainBroken && cand < 0:
			cand = off // frames up to the end of the bytes: more may confirm them
		}
	}
	if cand >= 0 {
		return cand, huntMore
	}
	return max(0, len(b)-frameHeaderLen+1), huntNone
}

// Detect reports whether b, the first bytes seen of one direction of a
// connection joined mid-stream, are HTTP/2 frames: it returns the offset
// of the first frame boundary when they are, and more when more bytes are
// needed to tell. Bytes that start like the connection preface count too.
func Detect(b []byte) (off int, ok, more bool) {
	if i := bytes.Index(b, []byte(Preface)); i >= 0 {
		return i, true, false
	}
	off, r := findFrames(b)
	return off, r == huntFound, r == huntMore
}

// LooksLikeSettings reports whether b begins with a SETTINGS frame (not an
// acknowledgement): what an HTTP/2 server sends first, possibly before the
// client's preface reached the capture. It needs frameHeaderLen bytes.
func LooksLikeSettings(b []byte) bool {
	if len(b) < frameHeaderLen {
		return false
	}
	h := parseFrameHeader(b)
	return h.typ == xh2.FrameSettings && h.flags == 0 && plausible(h)
}
