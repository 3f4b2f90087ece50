package event

import (
	"hash/fnv"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/apitap/apitap/analyzer/redact"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// SchemaVersion is the "schema" field of every event.
const SchemaVersion = "apitap/v1"

// Encoder appends events as JSON lines.
type Encoder struct {
	// Sensor is the "sensor" field of every event.
	Sensor string
	// BodyBytes > 0 adds up to that many raw body bytes to transaction
	// events as "content". Raw bodies may hold sensitive data: this is for
	// debugging with test traffic only, and off by default.
	BodyBytes int
}

// Count is one named counter of a stats event.
type Count struct {
	Name string
	N    uint64
}

// Stats is the content of a stats event.
type Stats struct {
	Time          time.Time // capture time of the last packet seen
	Final         bool      // the end-of-run event
	Packets       uint64
	Bytes         uint64
	Flows         uint64 // TCP connections seen
	FlowsOpen     uint64 // open when the event was made
	Transactions  uint64
	Decode        []Count // decode results other than ok
	ParseErrors   []Count // HTTP parse errors by reason
	Drops         []Count // drops by pipeline stage
	Flags         []Count // transactions by flag
	CaptureErrors []Count // damaged captures by kind
	Detections    []Count // detections by class
	HTTP2         []Count // HTTP/2 and gRPC counters (reassembly/http2 Stats.Counts)
	// BlocklistWithheld counts blocklist entries not made, by reason
	// (written only when some were).
	BlocklistWithheld []Count
	TLS               []Count // TLS: hellos fingerprinted, decryption, key log (omitted when empty)
	// WebSocket counts frames and messages of WebSocket connections, by
	// name (written only when some were).
	WebSocket []Count
	// Reassembly counts how reassembly and HTTP parsing recovered from
	// damage and what decoding found, by name (written only when some
	// were): acked_holes, rst_ignored, lost_responses, heads_cut,
	// heads_unanswered, http_resyncs, http_skipped_bytes,
	// bodies_truncated, decode_errors, bombs_stopped.
	Reassembly []Count
	// Observations counts the observations published to
	// apitap.observations for apitap correlate (written only when some
	// were).
	Observations uint64
}

func (e *Encoder) envelope(dst []byte, typ string, t time.Time) []byte {
	dst = append(dst, `{"schema":"`+SchemaVersion+`","type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","time":"`...)
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","sensor":`...)
	return AppendString(dst, e.Sensor)
}

// AppendStats appends one stats event line.
func (e *Encoder) AppendStats(dst []byte, s *Stats) []byte {
	dst = e.envelope(dst, "stats", s.Time)
	dst = append(dst, `,"final":`...)
	dst = strconv.AppendBool(dst, s.Final)
	dst = appendUint(dst, "packets", s.Packets)
	dst = appendUint(dst, "bytes", s.Bytes)
	dst = appendUint(dst, "flows", s.Flows)
	dst = appendUint(dst, "flows_open", s.FlowsOpen)
	dst = appendUint(dst, "transactions", s.Transactions)
	dst = appendCounts(dst, "decode", s.Decode)
	dst = appendCounts(dst, "parse_errors", s.ParseErrors)
	dst = appendCounts(dst, "drops", s.Drops)
	dst = appendCounts(dst, "flags", s.Flags)
	dst = appendCounts(dst, "capture_errors", s.CaptureErrors)
	dst = appendCounts(dst, "detections", s.Detections)
	dst = appendCounts(dst, "http2", s.HTTP2)
	if len(s.WebSocket) > 0 {
		dst = appendCounts(dst, "websocket", s.WebSocket)
	}
	if len(s.BlocklistWithheld) > 0 {
		dst = appendCounts(dst, "blocklist_withheld", s.BlocklistWithheld)
	}
	if len(s.TLS) > 0 {
		dst = appendCounts(dst, "tls", s.TLS)
	}
	if len(s.Reassembly) > 0 {
		dst = appendCounts(dst, "reassembly", s.Reassembly)
	}
	if s.Observations > 0 {
		dst = appendUint(dst, "observations", s.Observations)
	}
	return append(dst, "}\n"...)
}

func appendUint(dst []byte, key string, v uint64) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return strconv.AppendUint(dst, v, 10)
}

// appendCounts writes an object of counters (given sorted by name).
func appendCounts(dst []byte, key string, c []Count) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, `":{`...)
	for i, x := range c {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, x.Name)
		dst = append(dst, ':')
		dst = strconv.AppendUint(dst, x.N, 10)
	}
	return append(dst, '}')
}

// TransactionID is the deterministic id of a transaction: a hash of its
// flow id and sequence number.
func TransactionID(dst []byte, tx *reassembly.Transaction) []byte {
	h := fnv.New64a()
	h.Write([]byte(tx.Flow.ID))
	var b [8]byte
	for i := range b {
		b[i] = byte(tx.Seq >> (8 * i))
	}
	h.Write(b[:])
	return appendHex64(dst, h.Sum64())
}

func appendHex64(dst []byte, v uint64) []byte {
	const hexd = "0123456789abcdef"
	for i := 60; i >= 0; i -= 4 {
		dst = append(dst, hexd[(v>>uint(i))&0xf])
	}
	return dst
}

// AppendTransaction appends one transaction event line.
func (e *Encoder) AppendTransaction(dst []byte, tx *reassembly.Transaction) []byte {
	req, resp := tx.Request, tx.Response
	t := time.Time{}
	switch {
	case req != nil:
		t = req.Start
	case resp != nil:
		t = resp.Start
	}
	dst = e.envelope(dst, "transaction", t)
	dst = append(dst, `,"id":"`...)
	dst = TransactionID(dst, tx)
	dst = append(dst, `","flow":{"id":`...)
	dst = AppendString(dst, tx.Flow.ID)
	dst = appendEndpoint(dst, "client", tx.Flow.Client)
	dst = appendEndpoint(dst, "server", tx.Flow.Server)
	if len(tx.Flow.VLAN) > 0 {
		dst = append(dst, `,"vlan":[`...)
		for i, v := range tx.Flow.VLAN {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendUint(dst, uint64(v), 10)
		}
		dst = append(dst, ']')
	}
	if tn := &tx.Flow.Tunnel; tn.Type != "" {
		dst = append(dst, `,"tunnel":{"type":`...)
		dst = AppendString(dst, tn.Type)
		dst = append(dst, `,"outer_src":"`...)
		dst = tn.OuterSrc.AppendTo(dst)
		dst = append(dst, `","outer_dst":"`...)
		dst = tn.OuterDst.AppendTo(dst)
		dst = append(dst, `","id":`...)
		dst = strconv.AppendUint(dst, uint64(tn.ID), 10)
		dst = append(dst, '}')
	}
	dst = append(dst, `,"confirmed":`...)
	dst = strconv.AppendBool(dst, tx.Flow.Confirmed)
	dst = append(dst, `},"client":"`...)
	dst = tx.ClientAddr().AppendTo(dst)
	if p := tx.PeerAddr(); p.IsValid() {
		dst = append(dst, `","peer":"`...)
		dst = p.AppendTo(dst)
	}
	dst = append(dst, `","seq":`...)
	dst = strconv.AppendInt(dst, int64(tx.Seq), 10)
	dst = append(dst, `,"protocol":"`...)
	dst = append(dst, tx.Protocol.String()...)
	dst = append(dst, '"')
	if req != nil {
		dst = append(dst, `,"method":`...)
		dst = AppendString(dst, req.Method)
		dst = append(dst, `,"host":`...)
		dst = AppendString(dst, req.Host)
		dst = append(dst, `,"path":`...)
		dst = AppendString(dst, redact.Path(req.Path))
		if req.Query != "" {
			dst = append(dst, `,"query":`...)
			dst = AppendString(dst, redact.Query(req.Query))
		}
	}
	dst = append(dst, `,"timings":{`...)
	first := true
	tf := func(key string, t time.Time) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, key...)
		dst = append(dst, `":"`...)
		dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	if req != nil {
		tf("request_start", req.Start)
		tf("request_end", req.End)
	}
	if resp != nil {
		tf("response_start", resp.Start)
		tf("response_end", resp.End)
		if req != nil {
			dst = append(dst, `,"duration_us":`...)
			dst = strconv.AppendInt(dst, resp.End.Sub(req.Start).Microseconds(), 10)
		}
	}
	dst = append(dst, '}')
	if req != nil {
		dst = append(dst, `,"request":{"proto":`...)
		dst = AppendString(dst, req.Proto)
		dst = e.appendHeaders(dst, req.Headers)
		dst = e.appendBody(dst, &req.Body, req.Headers)
		dst = append(dst, '}')
	}
	if resp != nil {
		if resp.Status > 0 { // (none in an HTTP/0.9 response, nor in an HTTP/2 one whose :status did not resolve)
			dst = append(dst, `,"status":`...)
			dst = strconv.AppendInt(dst, int64(resp.Status), 10)
		}
		dst = append(dst, `,"response":{"proto":`...)
		dst = AppendString(dst, resp.Proto)
		dst = append(dst, `,"reason":`...)
		dst = AppendString(dst, resp.Reason)
		if resp.Interim > 0 {
			dst = append(dst, `,"interim":`...)
			dst = strconv.AppendInt(dst, int64(resp.Interim), 10)
		}
		dst = e.appendHeaders(dst, resp.Headers)
		dst = e.appendBody(dst, &resp.Body, resp.Headers)
		dst = append(dst, '}')
	}
	if tx.Source != reassembly.SourceWire {
		dst = appendTLS(dst, tx)
	}
	if tx.H2 != nil {
		dst = e.appendH2(dst, tx.H2)
	}
	dst = e.appendFlags(dst, tx)
	return append(dst, "}\n"...)
}

func (e *Encoder) appendFlags(dst []byte, tx *reassembly.Transaction) []byte {
	flags := tx.AllFlags() // with what decoding the bodies (appendBody) found
	if flags != 0 || tx.H2 != nil && tx.H2.Flags != 0 {
		dst = append(dst, `,"flags":[`...)
		n := 0
		for i, name := range http1.FlagNames {
			if flags&(1<<i) != 0 {
				if n > 0 {
					dst = append(dst, ',')
				}
				n++
				dst = AppendString(dst, name)
			}
		}
		dst = appendH2Flags(dst, tx.H2, n)
		dst = append(dst, ']')
	}
	return dst
}

func appendEndpoint(dst []byte, key string, ap netip.AddrPort) []byte {
	dst = append(dst, `,"`...)
	dst = append(dst, key...)
	dst = append(dst, `":{"ip":"`...)
	dst = ap.Addr().AppendTo(dst)
	dst = append(dst, `","port":`...)
	dst = strconv.AppendUint(dst, uint64(ap.Port()), 10)
	return append(dst, '}')
}

func (e *Encoder) appendHeaders(dst []byte, hs []http1.Header) []byte {
	dst = append(dst, `,"headers":`...)
	return e.appendHeaderList(dst, hs)
}

// appendHeaderList appends headers as [name, value] pairs, sensitive
// values redacted.
func (e *Encoder) appendHeaderList(dst []byte, hs []http1.Header) []byte {
	dst = append(dst, '[')
	for i, h := range hs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		dst = AppendString(dst, h.Name)
		dst = append(dst, ',')
		switch {
		case redact.SensitiveHeader(h.Name):
			dst = AppendString(dst, redact.Header(h.Name, h.Value))
		case redact.SensitiveValue(h.Value):
			dst = AppendString(dst, redact.Mask(h.Value))
		default:
			dst = AppendString(dst, h.Value)
		}
		dst = append(dst, ']')
	}
	return append(dst, ']')
}

func (e *Encoder) appendBody(dst []byte, b *http1.Body, hs []http1.Header) []byte {
	dst = append(dst, `,"body":{"wire_bytes":`...)
	dst = strconv.AppendInt(dst, b.WireBytes, 10)
	dst = append(dst, `,"captured_bytes":`...)
	dst = strconv.AppendInt(dst, int64(len(b.Bytes())), 10)
	if b.Encoding != "" {
		dst = append(dst, `,"encoding":`...)
		dst = AppendString(dst, b.Encoding)
	}
	dst = append(dst, `,"truncated":`...)
	dst = strconv.AppendBool(dst, b.Truncated)
	if ct := http1.Get(hs, http1.IDContentType); ct != "" {
		dst = append(dst, `,"content_type":`...)
		dst = AppendString(dst, ct)
	}
	if e.BodyBytes > 0 && len(b.Data) > 0 {
		dst = append(dst, `,"content":`...)
		dst = appendStringBytes(dst, b.Data[:min(len(b.Data), e.BodyBytes)])
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD and
// control characters are escaped, so output is always valid JSON.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendStringBytes(dst []byte, b []byte) []byte {
	return AppendString(dst, unsafeString(b))
}

// appendTLS writes where a transaction was read in clear (source) and the
// TLS session it came from.
func appendTLS(dst []byte, tx *reassembly.Transaction) []byte {
	dst = append(dst, `,"source":"`...)
	dst = append(dst, tx.Source.String()...)
	dst = append(dst, '"')
	t := tx.TLS
	if t == nil {
		return dst
	}
	dst = append(dst, `,"tls":{`...)
	n := 0
	str := func(k, v string) {
		if v == "" {
			return
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, '"')
		dst = append(dst, k...)
		dst = append(dst, `":`...)
		dst = AppendString(dst, v)
	}
	switch t.Version {
	case 0x0303:
		str("version", "1.2")
	case 0x0304:
		str("version", "1.3")
	}
	str("cipher", t.Cipher)
	str("alpn", t.ALPN)
	str("sni", t.SNI)
	str("library", t.Library)
	if t.PID != 0 {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, `"pid":`...)
		dst = strconv.AppendUint(dst, uint64(t.PID), 10)
	}
	str("process", t.Process)
	return append(dst, '}')
}
