package reassembly_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
	"github.com/apitap/apitap/internal/testutil/wstest"
	. "github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/sensor/decode"
)

// wsSession records a real server and browser-like client (package
// wstest) in two phases of ten messages each (the fourth of each in three
// frames), every reply larger than the last.
func wsSession(t *testing.T, mode websocket.CompressionMode, phases int) ([]pcapgen.Packet, []int, []string) {
	t.Helper()
	s := wstest.Session{Mode: mode, Path: "/v1/live?room=7", Fragment: func(i int) bool { return i%10 == 3 },
		Reply: func(i int, msg string) string {
			return fmt.Sprintf(`{"ack":%d,"echo":%q,"pad":%q}`, i, msg, strings.Repeat("ok ", i*40))
		}}
	n := 0
	for p := 0; p < phases; p++ {
		var msgs []string
		for i := 0; i < 10; i++ {
			msgs = append(msgs, fmt.Sprintf(`{"op":"subscribe","n":%d,"filter":%q}`, n, strings.Repeat("price>10 ", n*20)))
			n++
		}
		s.Phases = append(s.Phases, msgs)
	}
	r := wstest.Record(t, s, pcapgen.Base)
	return r.Packets, r.Marks, r.Sent
}

type wsRec struct {
	fromClient bool
	op         string
	data       string
	code       uint16
	flags      http1.Flags
	upgrade    int
	path       string
}

// replayWS feeds packets to a Worker and collects the WebSocket messages.
func replayWS(t *testing.T, pkts []pcapgen.Packet) ([]wsRec, *Stats) {
	t.Helper()
	return replayWSWith(t, Config{}, pkts)
}

func replayWSWith(t *testing.T, cfg Config, pkts []pcapgen.Packet) ([]wsRec, *Stats) {
	t.Helper()
	var out []wsRec
	w := NewWorker(cfg, nil)
	w.OnMessage = func(tx *Transaction) {
		m := tx.Message
		r := wsRec{fromClient: m.FromClient, op: m.Opcode.String(), data: string(m.Data), code: m.CloseCode, flags: tx.Flags, upgrade: m.Upgrade, path: tx.Request.Path}
		out = append(out, r)
	}
	dec := decode.New(decode.Options{})
	enc := &pcapgen.Encap{}
	var buf []byte
	var dp decode.Packet
	for i := range pkts {
		buf = enc.AppendFrame(buf[:0], &pkts[i].Seg)
		if res := dec.Decode(buf, layers.LinkTypeEthernet, &dp); res != decode.OK {
			t.Fatalf("packet %d: decode %v", i, res)
		}
		tcp := &dp.TCP
		if len(tcp.Payload) == 0 && !tcp.SYN && !tcp.FIN && !tcp.RST {
			continue
		}
		p := Packet{NetFlow: dp.NetFlow, TCP: tcp, CI: gopacket.CaptureInfo{Timestamp: pkts[i].TS, CaptureLength: len(buf), Length: len(buf)},
			Src: dp.Src, Dst: dp.Dst, SrcPort: dp.SrcPort, DstPort: dp.DstPort}
		w.Packet(&p)
	}
	w.Close()
	return out, &w.Stats
}

// TestWebSocketRealCaptures: captures of a real server and client, without
// compression and with permessage-deflate (with and without context
// takeover), whole and joined in the middle: every message is reported
// once, in order, with its content.
func TestWebSocketRealCaptures(t *testing.T) {
	modes := []struct {
		name string
		mode websocket.CompressionMode
	}{{"plain", websocket.CompressionDisabled}, {"deflate_no_context_takeover", websocket.CompressionNoContextTakeover}, {"deflate_context_takeover", websocket.CompressionContextTakeover}}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			pkts, marks, sent := wsSession(t, m.mode, 2)
			out, st := replayWS(t, pkts)
			var data []string
			closes := 0
			for _, r := range out {
				switch r.op {
				case "close":
					closes++
					if r.code != 1000 {
						t.Errorf("close code %d", r.code)
					}
				default:
					data = append(data, r.data)
					if r.upgrade != 0 || r.path != "/v1/live" || r.flags != 0 {
						t.Errorf("message %+v", r)
					}
				}
			}
			if len(data) != len(sent) || closes != 2 {
				t.Fatalf("%d data messages (want %d), %d closes (want 2): %+v %+v", len(data), len(sent), closes, st.WebSocket, st.HTTP)
			}
			for i := range sent {
				if data[i] != sent[i] {
					t.Fatalf("message %d: %q, want %q", i, data[i], sent[i])
				}
			}
			if m.mode != websocket.CompressionDisabled && st.WebSocket.Compressed == 0 {
				t.Error("no compressed message")
			}
			if st.WebSocket.DecodeErrors+st.WebSocket.ProtocolErrors+st.WebSocket.LostMessages != 0 {
				t.Errorf("errors: %+v", st.WebSocket)
			}
			// joined in the middle: the second phase only (cut at a
			// message boundary), each message exactly once
			cut, _ := replayWS(t, pkts[marks[1]:])
			var cutData []string
			closes = 0
			decodeErrs := 0
			for _, r := range cut {
				if r.op == "close" {
					closes++
					continue
				}
				if r.flags&http1.FlagMidStreamStart == 0 || r.upgrade != -1 {
					t.Errorf("joined message %+v", r)
				}
				if r.flags&http1.FlagDecodeError != 0 {
					decodeErrs++
				}
				cutData = append(cutData, r.data)
			}
			want := sent[len(sent)/2:]
			if len(cutData) != len(want) || closes != 2 {
				t.Fatalf("joined: %d data messages (want %d), %d closes", len(cutData), len(want), closes)
			}
			for i := range want {
				if cutData[i] != want[i] && !(m.mode == websocket.CompressionContextTakeover && cutData[i] == "") {
					t.Fatalf("joined message %d: %q, want %q", i, cutData[i], want[i])
				}
			}
			t.Logf("websocket %s: %d packets, %d messages (%d data, 2 close), %d compressed; joined at packet %d: %d messages, %d not inflatable (history before the capture)",
				m.name, len(pkts), len(out), len(sent), st.WebSocket.Compressed, marks[1], len(cut), decodeErrs)
			fmt.Printf("websocket %s: messages=%d expected=%d joined=%d joined_expected=%d not_inflatable=%d\n", m.name, len(out), len(sent)+2, len(cut), len(want)+2, decodeErrs)
		})
	}
}
