package reassembly_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
	. "github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/sensor/decode"
)

// lossExchange is one generated exchange: its id and the packets (indices
// into the capture) that carry its request and its response.
type lossExchange struct {
	id   int
	pkts []int
}

// lossCapture generates keep-alive connections whose every request carries
// a unique id that its response echoes (X-Id), with bodies of assorted
// sizes (one segment, several, chunked), and the index of the packets that
// carry each exchange's bytes.
func lossCapture(conns, perConn int, seed uint64) ([]pcapgen.Packet, []lossExchange) {
	r := rand.New(rand.NewPCG(seed, 7))
	var pkts []pcapgen.Packet
	var exs []lossExchange
	ts := pcapgen.Base
	id := 0
	for c := 0; c < conns; c++ {
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(c >> 8), byte(c)}), uint16(30000+c))
		srv := netip.MustParseAddrPort("10.9.0.1:80")
		k := pcapgen.NewConn(cli, srv, ts)
		pkts = append(pkts, k.Handshake()...)
		for i := 0; i < perConn; i++ {
			id++
			var req string
			switch r.IntN(4) {
			case 0:
				body := strings.Repeat("p", 200+r.IntN(4000))
				req = fmt.Sprintf("POST /v1/items/%d HTTP/1.1\r\nHost: api.test\r\nX-Id: %d\r\nContent-Length: %d\r\n\r\n%s", id, id, len(body), body)
			default:
				req = fmt.Sprintf("GET /v1/items/%d?q=%d HTTP/1.1\r\nHost: api.test\r\nX-Id: %d\r\nAccept: */*\r\n\r\n", id, r.IntN(1000), id)
			}
			var resp string
			switch r.IntN(3) {
			case 0:
				resp = fmt.Sprintf("HTTP/1.1 200 OK\r\nX-Id: %d\r\nContent-Length: 2\r\n\r\n{}", id)
			case 1:
				body := strings.Repeat("r", 100+r.IntN(6000))
				resp = fmt.Sprintf("HTTP/1.1 200 OK\r\nX-Id: %d\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", id, len(body), body)
			default:
				body := strings.Repeat("c", 50+r.IntN(3000))
				resp = fmt.Sprintf("HTTP/1.1 201 Created\r\nX-Id: %d\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", id, len(body), body)
			}
			ex := lossExchange{id: id}
			first := len(pkts)
			pkts = append(pkts, k.Send(true, []byte(req))...)
			pkts = pkts[:len(pkts)-1] // the ACK is sent by the server with its response
			pkts = append(pkts, k.Send(false, []byte(resp))...)
			for j := first; j < len(pkts); j++ {
				if len(pkts[j].Seg.Payload) > 0 {
					ex.pkts = append(ex.pkts, j)
				}
			}
			exs = append(exs, ex)
			k.TS = k.TS.Add(time.Duration(1+r.IntN(20)) * time.Millisecond)
		}
		pkts = append(pkts, k.Close()...)
		ts = ts.Add(3 * time.Millisecond)
	}
	// interleave the connections by time, as a capture would, and
	// renumber the exchanges' packets
	idx := make([]int, len(pkts))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return pkts[idx[a]].TS.Before(pkts[idx[b]].TS) })
	pos := make([]int, len(pkts))
	out := make([]pcapgen.Packet, len(pkts))
	for i, j := range idx {
		out[i], pos[j] = pkts[j], i
	}
	for _, e := range exs {
		for k, i := range e.pkts {
			e.pkts[k] = pos[i]
		}
	}
	return out, exs
}

func xid(hs []http1.Header) string {
	for _, h := range hs {
		if h.Name == "X-Id" {
			return h.Value
		}
	}
	return ""
}

// replay frames, decodes and feeds the packets not in drop to a Worker as
// the sensor does (pure ACKs through Ack), and returns the transactions.
func replay(t testing.TB, pkts []pcapgen.Packet, drop map[int]bool, cfg Config) []txRec {
	var out []txRec
	w := NewWorker(cfg, func(tx *Transaction) {
		r := txRec{flags: tx.Flags}
		if tx.Request != nil {
			r.req, _ = strconv.Atoi(xid(tx.Request.Headers))
			r.path = tx.Request.Path
		}
		if tx.Response != nil {
			r.resp, _ = strconv.Atoi(xid(tx.Response.Headers))
			r.status = tx.Response.Status
		}
		out = append(out, r)
	})
	dec := decode.New(decode.Options{})
	enc := &pcapgen.Encap{}
	var buf []byte
	var dp decode.Packet
	var p Packet
	for i := range pkts {
		if drop[i] {
			continue
		}
		buf = enc.AppendFrame(buf[:0], &pkts[i].Seg)
		if res := dec.Decode(buf, layers.LinkTypeEthernet, &dp); res != decode.OK {
			t.Fatalf("packet %d: decode %v", i, res)
		}
		tcp := &dp.TCP
		p = Packet{NetFlow: dp.NetFlow, TCP: tcp, CI: gopacket.CaptureInfo{Timestamp: pkts[i].TS, CaptureLength: len(buf), Length: len(buf)},
			Src: dp.Src, Dst: dp.Dst, SrcPort: dp.SrcPort, DstPort: dp.DstPort}
		if len(tcp.Payload) == 0 && !tcp.SYN && !tcp.FIN && !tcp.RST {
			if w.HasHoles() {
				w.Ack(&p)
			}
			continue
		}
		w.Packet(&p)
	}
	w.Close()
	return out
}

type txRec struct {
	req, resp int
	path      string
	status    int
	flags     http1.Flags
}

// TestLossPairing drops 1% of the segments (both directions, handshakes
// and ACKs included) of generated keep-alive captures and checks that the
// exchanges whose own segments all survived are reported correctly paired
// (at least 99%), and that no request is ever paired with another
// request's response.
func TestLossPairing(t *testing.T) {
	for _, tc := range []struct {
		rate  float64
		seeds uint64
	}{{0.01, 10}, {0.03, 4}} {
		for seed := uint64(1); seed <= tc.seeds; seed++ {
			lossRun(t, tc.rate, seed)
		}
	}
}

func lossRun(t *testing.T, rate float64, seed uint64) {
	{
		t.Run(fmt.Sprintf("loss%g/seed%d", rate, seed), func(t *testing.T) {
			pkts, exs := lossCapture(40, 60, seed)
			r := rand.New(rand.NewPCG(seed, 99))
			drop := map[int]bool{}
			for i := range pkts {
				if r.Float64() < rate {
					drop[i] = true
				}
			}
			got := replay(t, pkts, drop, Config{})
			paired := map[int]bool{}
			wrong := 0
			for _, x := range got {
				if x.req != 0 && x.resp != 0 {
					if x.req != x.resp {
						wrong++
						if wrong < 5 {
							t.Errorf("request %d paired with response %d (flags %b)", x.req, x.resp, x.flags)
						}
						continue
					}
					paired[x.req] = true
				}
			}
			survived, ok := 0, 0
			for _, e := range exs {
				lost := false
				for _, i := range e.pkts {
					lost = lost || drop[i]
				}
				if lost {
					continue
				}
				survived++
				if paired[e.id] {
					ok++
				}
			}
			rate := float64(ok) / float64(survived)
			t.Logf("segments %d dropped %d; exchanges %d, survived %d, correctly paired %d (%.2f%%), wrong pairs %d",
				len(pkts), len(drop), len(exs), survived, ok, 100*rate, wrong)
			if wrong > 0 {
				t.Errorf("%d wrong pairs", wrong)
			}
			if rate < 0.99 {
				t.Errorf("correctly paired %.2f%% of surviving exchanges, want >= 99%%", 100*rate)
			}
		})
	}
}

// TestLossOneResponseHead is the case: a keep-alive connection of
// 1000 exchanges whose one response head is lost (and acknowledged).
func TestLossOneResponseHead(t *testing.T) {
	pkts, exs := lossCapture(1, 1000, 11)
	e := exs[500]
	var drop = map[int]bool{}
	for _, i := range e.pkts {
		if pkts[i].Seg.Src.Port() == 80 {
			drop[i] = true // the whole response
			break
		}
	}
	got := replay(t, pkts, drop, Config{})
	pairs, unmatched := 0, 0
	for _, x := range got {
		switch {
		case x.req != 0 && x.resp != 0 && x.req != x.resp:
			t.Errorf("request %d paired with response %d", x.req, x.resp)
		case x.req != 0 && x.resp != 0:
			pairs++
		default:
			unmatched++
		}
	}
	if pairs != 999 || unmatched != 1 {
		t.Errorf("pairs %d unmatched %d, want 999 and 1", pairs, unmatched)
	}
}

// FuzzWorkerLoss replays a generated keep-alive capture through a Worker
// with the segments the input selects dropped, swapped with the next one,
// or followed by a RST in their sender's name: the acknowledged-hole and
// held-RST paths must never panic, and every connection must be closed at
// the end.
func FuzzWorkerLoss(f *testing.F) {
	pkts, _ := lossCapture(2, 12, 5)
	f.Add([]byte{0, 0, 1, 0, 0, 0, 2, 0, 0, 4})
	f.Add([]byte{1})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1})
	f.Fuzz(func(t *testing.T, mask []byte) {
		if len(mask) == 0 {
			return
		}
		var ps []pcapgen.Packet
		for i := 0; i < len(pkts); i++ {
			m := mask[i%len(mask)]
			switch {
			case m&1 != 0:
				continue
			case m&2 != 0 && i+1 < len(pkts):
				ps = append(ps, pkts[i+1], pkts[i])
				i++
				continue
			}
			ps = append(ps, pkts[i])
			if m&4 != 0 {
				r := pkts[i]
				r.Seg.Flags, r.Seg.Payload = pcapgen.RST|pcapgen.ACK, nil
				r.Seg.Seq += uint32(len(pkts[i].Seg.Payload))
				ps = append(ps, r)
			}
		}
		replayCheck(t, ps)
	})
}

// replayCheck replays packets and checks the worker's end state.
func replayCheck(t *testing.T, pkts []pcapgen.Packet) {
	w := NewWorker(Config{}, func(tx *Transaction) {
		if tx.Request == nil && tx.Response == nil {
			t.Fatal("empty transaction")
		}
	})
	dec := decode.New(decode.Options{})
	enc := &pcapgen.Encap{}
	var buf []byte
	var dp decode.Packet
	for i := range pkts {
		buf = enc.AppendFrame(buf[:0], &pkts[i].Seg)
		if dec.Decode(buf, layers.LinkTypeEthernet, &dp) != decode.OK {
			t.Fatal("decode")
		}
		tcp := &dp.TCP
		p := Packet{NetFlow: dp.NetFlow, TCP: tcp, CI: gopacket.CaptureInfo{Timestamp: pkts[i].TS}, Src: dp.Src, Dst: dp.Dst, SrcPort: dp.SrcPort, DstPort: dp.DstPort}
		if len(tcp.Payload) == 0 && !tcp.SYN && !tcp.FIN && !tcp.RST {
			if w.HasHoles() {
				w.Ack(&p)
			}
			continue
		}
		w.Packet(&p)
	}
	w.Close()
	if w.Stats.FlowsOpen != 0 || w.HasHoles() || w.Budget.Used != 0 {
		t.Fatalf("after Close: flows open %d, holes %v, budget %d", w.Stats.FlowsOpen, w.HasHoles(), w.Budget.Used)
	}
}
