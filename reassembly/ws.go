package reassembly

import (
	"strings"
	"time"

	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/reassembly/http2"
	"github.com/apitap/apitap/reassembly/websocket"
)

// WebSocket connections: after an exchange upgrades a connection to
// WebSocket (101 with Upgrade: websocket) its further bytes go to a
// websocket.Conn, and each message reaches Worker.OnMessage as a Transaction
// whose Message is set (see Transaction.Message). A connection joined in
// the middle (mid-stream, HTTP found nothing yet) whose first bytes in a
// direction are WebSocket frames is parsed as WebSocket from there.

// maxSniffChunks is how many chunks of each direction of a mid-stream
// connection are looked at for WebSocket frames before HTTP keeps it.
const maxSniffChunks = 4

// wsState is a stream's WebSocket state (allocated with its first use and
// kept when the stream is recycled).
type wsState struct {
	on      bool
	conn    websocket.Conn
	client  http1.Dir
	joined  bool
	upgrade int // Seq of the upgrading transaction (-1: joined)
	method  string
	host    string
	path    string
	sniffed [2]uint8     // chunks looked at, by direction
	held    [2][]byte    // a first frame being confirmed, by direction
	heldAt  [2]time.Time // capture time of its first byte
	req     http1.Request
	resp    http1.Response
}

// wsLimits are the WebSocket bounds (reassembly.websocket; the inflation
// ratio is the HTTP one).
func (w *Worker) wsLimits() websocket.Limits {
	return websocket.Limits{MaxMessageBytes: w.cfg.WebSocket.MaxMessageBytes, MaxMessages: w.cfg.WebSocket.MaxMessagesPerConnection, MaxDecodedRatio: w.lim.MaxDecodedRatio}
}

// wsReset forgets the WebSocket state of a recycled stream.
func (s *stream) wsReset() {
	if s.ws != nil {
		s.ws.on, s.ws.sniffed = false, [2]uint8{}
		s.ws.dropHeld()
	}
}

// wsUpgrade starts WebSocket parsing when ex upgraded the connection.
func (s *stream) wsUpgrade(ex *http1.Exchange, seq int) {
	req, resp := ex.Request, ex.Response
	if req == nil || resp == nil || resp.Status != 101 || !strings.EqualFold(strings.TrimSpace(http1.Get(resp.Headers, http1.IDUpgrade)), "websocket") {
		return
	}
	ext := websocket.ParseExtensions(headerValue(resp.Headers, "Sec-WebSocket-Extensions"))
	ws := s.wsGet()
	ws.on, ws.client, ws.joined, ws.upgrade = true, ex.ClientDir, false, seq
	ws.method, ws.host, ws.path = req.Method, req.Host, req.Path
	ws.conn.Reset(s.w.wsLimits(), &s.w.Stats.WebSocket, s.onMessage, uint8(ex.ClientDir), ext, false)
}

func (s *stream) wsGet() *wsState {
	if s.ws == nil {
		s.ws = &wsState{}
	}
	return s.ws
}

// maxSniffHold bounds the bytes held per direction while the first frame
// of a mid-stream connection is confirmed.
const maxSniffHold = 64 << 10

// wsSniff looks at the first chunks of a direction of a mid-stream
// connection on which HTTP found nothing yet: WebSocket frames make it a
// WebSocket connection (the data is then parsed as such). A first frame
// that goes on past the chunk is held (up to maxSniffHold) until the
// frame after it confirms it. It says whether the data was taken; data
// not taken goes to the HTTP parser as usual.
func (s *stream) wsSniff(d http1.Dir, data []byte, first, last time.Time) bool {
	ws := s.ws
	i := d & 1
	if ws != nil && ws.sniffed[i] >= maxSniffChunks && len(ws.held[i]) == 0 || s.seq > 0 || !s.conn.Quiet() || s.h2.state == h2On {
		if ws != nil {
			ws.dropHeld()
		}
		return false
	}
	ws = s.wsGet()
	b := data
	if len(ws.held[i]) > 0 {
		b = append(ws.held[i], data...)
		ws.held[i] = b
	} else {
		ws.sniffed[i]++
		ws.heldAt[i] = first
	}
	v, client := websocket.Sniff(b)
	if off, ok, more := http2.Detect(b, nil); off == 0 && (ok || more) {
		v = -1 // HTTP/2 frames (or their start) from the first byte: HTTP/2 detection decides
	}
	switch {
	case v < 0 || v == 0 && len(b) > maxSniffHold:
		ws.held[i] = ws.held[i][:0]
		return false
	case v == 0:
		if len(ws.held[i]) == 0 {
			ws.held[i] = append(ws.held[i], data...)
		}
		return false
	}
	cd := d
	if !client {
		cd = 1 - d
	}
	ws.on, ws.client, ws.joined, ws.upgrade = true, cd, true, -1
	s.h2Release() // not HTTP/2 either: its detection ends
	s.h2.state = h2Off
	ws.method, ws.host, ws.path = "", "", ""
	ws.conn.Reset(s.w.wsLimits(), &s.w.Stats.WebSocket, s.onMessage, uint8(cd), websocket.Extensions{}, true)
	ws.conn.Data(uint8(d), b, ws.heldAt[i], last)
	if o := ws.held[1-i]; len(o) > 0 { // the other side's first frame, held
		ws.conn.Data(uint8(1-i), o, ws.heldAt[1-i], last)
	}
	ws.dropHeld()
	return true
}

// dropHeld forgets the bytes held by wsSniff.
func (ws *wsState) dropHeld() {
	for i := range ws.held {
		ws.held[i] = ws.held[i][:0]
		if cap(ws.held[i]) > maxSniffHold {
			ws.held[i] = nil
		}
	}
}

// wsGap tells an upgraded connection's WebSocket parser that bytes of
// direction d were lost.
func (s *stream) wsGap(d http1.Dir) {
	if s.ws != nil && s.ws.on {
		s.ws.conn.Gap(uint8(d))
	}
}

// headerValue is the first header named name (case-insensitive).
func headerValue(hs []http1.Header, name string) string {
	for i := range hs {
		if strings.EqualFold(hs[i].Name, name) {
			return hs[i].Value
		}
	}
	return ""
}

// onMessage hands a WebSocket message to Worker.OnMessage as a transaction: a
// client message is the request's body, a server message the response's
// (with a request naming the upgraded endpoint and no body). Method, host
// and path are the upgrade request's (empty when the connection was
// joined in the middle); the request has no headers or query, so that
// analyzers do not read the handshake again with every message.
func (s *stream) onMessage(m *websocket.Message) {
	w, ws := s.w, s.ws
	tx := &w.tx
	s.txFlow(tx, ws.client)
	tx.Protocol = ProtoWebSocket
	tx.Seq = s.seq
	s.seq++
	req := &ws.req
	*req = http1.Request{Method: ws.method, Path: ws.path, Host: ws.host, Proto: "websocket", Start: m.Start, End: m.End}
	body := http1.Body{Data: m.Data, WireBytes: m.WireBytes, Truncated: m.Truncated}
	if m.Compressed {
		body.Encoding = "permessage-deflate"
	}
	var flags http1.Flags
	if m.Truncated {
		flags |= http1.FlagTruncated
	}
	if m.DecodeError {
		flags |= http1.FlagDecodeError
	}
	if ws.joined {
		flags |= http1.FlagMidStreamStart
	}
	tx.Exchange = http1.Exchange{Request: req, Flags: flags, ClientDir: ws.client}
	if m.FromClient {
		req.Body = body
	} else {
		ws.resp = http1.Response{Status: 101, Proto: "websocket", Body: body, Start: m.Start, End: m.End}
		tx.Response = &ws.resp
	}
	tx.Message = &Message{Message: m, Upgrade: ws.upgrade}
	if w.OnMessage != nil {
		w.OnMessage(tx)
	}
	tx.Message, tx.Protocol = nil, ProtoHTTP1
}

// Message is a WebSocket message carried by a Transaction.
type Message struct {
	*websocket.Message
	// Upgrade is the Seq of the transaction that upgraded the connection
	// (-1 when the connection was joined after its handshake).
	Upgrade int
}
