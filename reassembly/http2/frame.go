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

// maxCandidates bounds the open candidates a Scanner rechecks.
const maxCandidates = 8

// Scanner looks for the first frame boundary in bytes that grow between
// calls (the bytes held by a hunt): three plausible headers in a row, or
// two whose frames end exactly at the end of the bytes. Each offset is
// examined once; offsets whose chain ran past the bytes (open candidates)
// are rechecked as more arrive. The zero Scanner is ready.
type Scanner struct {
	next int // offsets below it were examined
	cand [maxCandidates]int
	n    int
}

// Reset forgets what was examined (the bytes start anew).
func (s *Scanner) Reset() { s.next, s.n = 0, 0 }

// Find returns where frames start in b (huntFound), or the first open
// candidate (huntMore), or from where bytes are worth keeping (huntNone).
// b must hold the bytes of the previous calls (after Trim) and more.
func (s *Scanner) Find(b []byte) (int, huntResult) {
	k := 0
	for i := 0; i < s.n; i++ { // open candidates, in order
		c := s.cand[i]
		n, how := chainAt(b, c, 3)
		if n >= 3 || n == 2 && how == chainEnd {
			return c, huntFound
		}
		if how != chainBroken {
			s.cand[k] = c
			k++
		}
	}
	s.n = k
	for off := s.next; off+frameHeaderLen <= len(b); off++ {
		s.next = off + 1
		if b[off] > maxPlausibleFrame>>16 { // the length's top byte: fast rejection
			continue
		}
		n, how := chainAt(b, off, 3)
		switch {
		case n >= 3, n == 2 && how == chainEnd:
			return off, huntFound
		case n >= 1 && how != chainBroken && s.n < maxCandidates:
			s.cand[s.n] = off // frames up to the end of the bytes: more may confirm them
			s.n++
		}
	}
	s.next = max(s.next, len(b)-frameHeaderLen+1, 0)
	if s.n > 0 {
		return s.cand[0], huntMore
	}
	return s.next, huntNone
}

// Trim tells the Scanner that the first k bytes were dropped.
func (s *Scanner) Trim(k int) {
	s.next = max(0, s.next-k)
	j := 0
	for i := 0; i < s.n; i++ {
		if c := s.cand[i] - k; c >= 0 {
			s.cand[j] = c
			j++
		}
	}
	s.n = j
}

// findFrames is a one-off Scanner.Find.
func findFrames(b []byte) (int, huntResult) {
	var s Scanner
	return s.Find(b)
}

// Detect reports whether b, the first bytes seen of one direction of a
// connection joined mid-stream, are HTTP/2 frames: it returns the offset
// of the first frame boundary when they are, and more when more bytes are
// needed to tell. Bytes that start like the connection preface count too.
// s carries the search across calls on growing bytes (nil: none).
func Detect(b []byte, s *Scanner) (off int, ok, more bool) {
	if i := bytes.Index(b, []byte(Preface)); i >= 0 {
		return i, true, false
	}
	if s == nil {
		s = &Scanner{}
	}
	off, r := s.Find(b)
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
