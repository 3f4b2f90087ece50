package event

import (
	"strconv"

	"github.com/apitap/apitap/analyzer/redact"
	"github.com/apitap/apitap/reassembly"
)

// AppendMessage appends one message event line: a WebSocket message (a
// transaction whose Message is set), tied to its connection (flow) and to
// the transaction that upgraded it (upgrade: its seq; absent when the
// connection was joined after its handshake).
func (e *Encoder) AppendMessage(dst []byte, tx *reassembly.Transaction) []byte {
	m := tx.Message
	dst = e.envelope(dst, "message", m.Start)
	dst = append(dst, `,"id":"`...)
	dst = TransactionID(dst, tx)
	dst = append(dst, `","flow":{"id":`...)
	dst = AppendString(dst, tx.Flow.ID)
	dst = appendEndpoint(dst, "client", tx.Flow.Client)
	dst = appendEndpoint(dst, "server", tx.Flow.Server)
	dst = append(dst, `,"confirmed":`...)
	dst = strconv.AppendBool(dst, tx.Flow.Confirmed)
	dst = append(dst, `},"client":"`...)
	dst = tx.ClientAddr().AppendTo(dst)
	dst = append(dst, `","protocol":"`...)
	dst = append(dst, tx.Protocol.String()...)
	dst = append(dst, `","seq":`...)
	dst = strconv.AppendInt(dst, int64(tx.Seq), 10)
	if m.Upgrade >= 0 {
		dst = append(dst, `,"upgrade_seq":`...)
		dst = strconv.AppendInt(dst, int64(m.Upgrade), 10)
	}
	if req := tx.Request; req != nil && req.Path != "" {
		dst = append(dst, `,"host":`...)
		dst = AppendString(dst, req.Host)
		dst = append(dst, `,"path":`...)
		dst = AppendString(dst, redact.Path(req.Path))
	}
	dst = append(dst, `,"direction":"`...)
	if m.FromClient {
		dst = append(dst, "client"...)
	} else {
		dst = append(dst, "server"...)
	}
	dst = append(dst, `","opcode":"`...)
	dst = append(dst, m.Opcode.String()...)
	dst = append(dst, `","fragments":`...)
	dst = strconv.AppendInt(dst, int64(m.Fragments), 10)
	dst = append(dst, `,"compressed":`...)
	dst = strconv.AppendBool(dst, m.Compressed)
	if m.CloseCode != 0 {
		dst = append(dst, `,"close_code":`...)
		dst = strconv.AppendUint(dst, uint64(m.CloseCode), 10)
	}
	if m.CloseReason != "" {
		dst = append(dst, `,"close_reason":`...)
		dst = AppendString(dst, m.CloseReason)
	}
	dst = append(dst, `,"body":{"wire_bytes":`...)
	dst = strconv.AppendInt(dst, m.WireBytes, 10)
	dst = append(dst, `,"size":`...)
	dst = strconv.AppendInt(dst, m.Size, 10)
	dst = append(dst, `,"captured_bytes":`...)
	dst = strconv.AppendInt(dst, int64(len(m.Data)), 10)
	dst = append(dst, `,"truncated":`...)
	dst = strconv.AppendBool(dst, m.Truncated)
	if e.BodyBytes > 0 && len(m.Data) > 0 && m.Opcode == 1 {
		dst = append(dst, `,"content":`...)
		dst = appendStringBytes(dst, m.Data[:min(len(m.Data), e.BodyBytes)])
	}
	dst = append(dst, '}')
	dst = e.appendFlags(dst, tx)
	return append(dst, "}\n"...)
}
