package reassembly

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/apitap/apitap/reassembly/http1"
)

var t0 = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

// conn builds segments of one TCP connection for tests.
type conn struct {
	cli, srv netip.AddrPort
	cseq     uint32
	sseq     uint32
	ts       time.Time
}

func newConn(n int) *conn {
	return &conn{
		cli:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(n)}), uint16(40000+n)),
		srv:  netip.MustParseAddrPort("10.1.0.1:80"),
		cseq: 1000, sseq: 5000, ts: t0,
	}
}

type seg struct {
	fromClient bool
	seq        uint32
	flags      string // S, A, F, R
	data       []byte
	ts         time.Time
	ack        uint32 // 0: none (the A flag then only matters on a SYN)
}

func (c *conn) tick() time.Time { c.ts = c.ts.Add(time.Millisecond); return c.ts }

func (c *conn) handshake() []seg {
	s := []seg{
		{true, c.cseq, "S", nil, c.tick(), 0},
		{false, c.sseq, "SA", nil, c.tick(), c.cseq + 1},
	}
	c.cseq++
	c.sseq++
	return s
}

// send splits data into segments of at most mss bytes.
func (c *conn) send(fromClient bool, data string, mss int) []seg {
	var out []seg
	for len(data) > 0 {
		n := min(mss, len(data))
		seq := &c.sseq
		if fromClient {
			seq = &c.cseq
		}
		out = append(out, seg{fromClient, *seq, "A", []byte(data[:n]), c.tick(), 0})
		*seq += uint32(n)
		data = data[n:]
	}
	return out
}

func (c *conn) fin(fromClient bool) seg {
	seq := &c.sseq
	if fromClient {
		seq = &c.cseq
	}
	s := seg{fromClient, *seq, "FA", nil, c.tick(), 0}
	*seq++
	return s
}

func (c *conn) rst(fromClient bool) seg {
	seq := c.sseq
	if fromClient {
		seq = c.cseq
	}
	return seg{fromClient, seq, "R", nil, c.tick(), 0}
}

// feed hands segments to w as the sensor would.
func (c *conn) feed(w *Worker, segs ...seg) {
	for _, s := range segs {
		var p Packet
		src, dst := c.cli, c.srv
		if !s.fromClient {
			src, dst = dst, src
		}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: s.seq}
		tcp.SYN = strings.Contains(s.flags, "S")
		tcp.ACK = strings.Contains(s.flags, "A") && (tcp.SYN || s.ack != 0)
		tcp.Ack = s.ack
		tcp.FIN = strings.Contains(s.flags, "F")
		tcp.RST = strings.Contains(s.flags, "R")
		tcp.Payload = s.data
		a4, b4 := src.Addr().As4(), dst.Addr().As4()
		p.NetFlow = gopacket.NewFlow(layers.EndpointIPv4, a4[:], b4[:])
		p.TCP = tcp
		p.CI = gopacket.CaptureInfo{Timestamp: s.ts, CaptureLength: 60 + len(s.data), Length: 60 + len(s.data)}
		p.Src, p.Dst, p.SrcPort, p.DstPort = src.Addr(), dst.Addr(), src.Port(), dst.Port()
		w.Packet(&p)
	}
}

const (
	req1  = "GET /v1/users/1 HTTP/1.1\r\nHost: api.example\r\n\r\n"
	resp1 = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: application/json\r\n\r\n{\"id\":1,\"a\":2}"
	req2  = "GET /v1/users/2 HTTP/1.1\r\nHost: api.example\r\n\r\n"
	resp2 = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}"
)

type rec struct {
	method, path string
	status       int
	flags        http1.Flags
	client       string
	seq          int
	body         string
}

func collect(out *[]rec) Handler {
	return func(tx *Transaction) {
		r := rec{flags: tx.Flags, client: tx.Flow.Client.String(), seq: tx.Seq}
		if tx.Request != nil {
			r.method, r.path = tx.Request.Method, tx.Request.Path
		}
		if tx.Response != nil {
			r.status = tx.Response.Status
			r.body = string(tx.Response.Body.Bytes())
		}
		*out = append(*out, r)
	}
}

func TestWorkerScenarios(t *testing.T) {
	type scenario struct {
		name  string
		segs  func(c *conn) []seg
		want  []string // "METHOD PATH STATUS flags"
		stats func(t *testing.T, s *Stats)
	}
	fmtRec := func(r rec) string {
		var fl []string
		for i, n := range http1.FlagNames {
			if r.flags&(1<<i) != 0 {
				fl = append(fl, n)
			}
		}
		return fmt.Sprintf("%s %s %d %s", r.method, r.path, r.status, strings.Join(fl, ","))
	}
	scenarios := []scenario{
		{
			name: "keepalive",
			segs: func(c *conn) []seg {
				s := c.handshake()
				s = append(s, c.send(true, req1, 1448)...)
				s = append(s, c.send(false, resp1, 20)...)
				s = append(s, c.send(true, req2, 1448)...)
				s = append(s, c.send(false, resp2, 1448)...)
				return append(s, c.fin(true), c.fin(false))
			},
			want: []string{"GET /v1/users/1 200 ", "GET /v1/users/2 404 "},
		},
		{
			name: "out of order and retransmitted",
			segs: func(c *conn) []seg {
				s := c.handshake()
				s = append(s, c.send(true, req1, 1448)...)
				r := c.send(false, resp1, 16)
				// deliver 2,0,1,1(retransmit),3...
				r = append([]seg{r[2], r[0], r[1], r[1]}, r[3:]...)
				s = append(s, r...)
				s = append(s, c.send(true, req2, 10)...)
				s = append(s, c.send(false, resp2, 1448)...)
				return s
			},
			want: []string{"GET /v1/users/1 200 ", "GET /v1/users/2 404 "},
		},
		{
			name: "mid-stream start",
			segs: func(c *conn) []seg {
				c.send(true, req1, 1448) // not captured
				r := c.send(false, resp1, 30)
				s := r[1:] // starts inside the first response
				s = append(s, c.send(true, req2, 1448)...)
				return append(s, c.send(false, resp2, 1448)...)
			},
			want: []string{"GET /v1/users/2 404 mid_stream_start"},
			stats: func(t *testing.T, s *Stats) {
				if s.MidStream == 0 {
					t.Error("MidStream not counted")
				}
			},
		},
		{
			name: "gap then recovery",
			segs: func(c *conn) []seg {
				s := c.handshake()
				s = append(s, c.send(true, req1, 1448)...)
				body := strings.Repeat("b", 200)
				r := c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n"+body, 40)
				s = append(s, r[0], r[1], r[2]) // r[3], inside the body, is lost
				s = append(s, r[4:]...)
				s = append(s, c.send(true, req2, 1448)...)
				resp := c.send(false, resp2, 1448)
				for i := range resp {
					resp[i].ts = resp[i].ts.Add(5 * time.Second) // beyond gap_timeout
				}
				return append(s, resp...)
			},
			stats: func(t *testing.T, s *Stats) {
				if s.Gaps == 0 {
					t.Error("gap not counted")
				}
			},
			want: []string{"GET /v1/users/1 200 truncated,gap", "GET /v1/users/2 404 "},
		},
		{
			name: "rst with request outstanding",
			segs: func(c *conn) []seg {
				s := c.handshake()
				s = append(s, c.send(true, req1, 1448)...)
				return append(s, c.rst(false))
			},
			want: []string{"GET /v1/users/1 0 unmatched_request"},
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var got []rec
			w := NewWorker(Config{}, collect(&got))
			c := newConn(1)
			c.feed(w, sc.segs(c)...)
			w.Close()
			var lines []string
			for _, r := range got {
				lines = append(lines, fmtRec(r))
			}
			if strings.Join(lines, "\n") != strings.Join(sc.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(sc.want, "\n"))
			}
			for _, r := range got {
				if r.client != c.cli.String() {
					t.Errorf("client %s, want %s", r.client, c.cli)
				}
			}
			if sc.stats != nil {
				sc.stats(t, &w.Stats)
			}
			if w.Stats.FlowsOpen != 0 {
				t.Errorf("FlowsOpen %d after Close", w.Stats.FlowsOpen)
			}
			if w.Budget.Used != 0 {
				t.Errorf("%d buffer bytes still charged after Close", w.Budget.Used)
			}
		})
	}
}

// TestWorkerOverlapConflicts feeds retransmissions that agree and overlaps
// that disagree with the original bytes (the evasion trick of sending two
// versions of one sequence range): only the latter are counted.
func TestWorkerOverlapConflicts(t *testing.T) {
	evil := strings.Replace(req1, "/v1/users/1", "/v1/admin/1", 1)
	for _, tc := range []struct {
		name string
		segs func(c *conn) []seg
		want uint64
		path string // what the parser saw
	}{
		{"identical retransmission", func(c *conn) []seg {
			r := c.send(true, req1, 1448)
			return append(r, r[0])
		}, 0, "/v1/users/1"},
		{"conflict after delivery", func(c *conn) []seg {
			r := c.send(true, req1, 1448)
			return append(r, seg{true, r[0].seq, "A", []byte(evil), c.tick(), 0})
		}, 1, "/v1/users/1"},
		{"conflict while queued", func(c *conn) []seg {
			r := c.send(true, req1, 10)
			alt := seg{true, r[1].seq, "A", []byte(evil[10:20]), c.tick(), 0}
			return append([]seg{r[1], alt, r[0]}, r[2:]...)
		}, 1, "/v1/usmin/1"}, // queued bytes: the later version wins
		{"coalesced retransmission", func(c *conn) []seg {
			r := c.send(true, req1, 10)
			all := seg{true, r[0].seq, "A", []byte(req1), c.tick(), 0}
			return append(r, all)
		}, 0, "/v1/users/1"},
		{"coalesced conflict", func(c *conn) []seg {
			r := c.send(true, req1, 20)
			all := seg{true, r[0].seq, "A", []byte(evil), c.tick(), 0}
			return append(r, all)
		}, 1, "/v1/users/1"},
		{"long segment, conflict in its tail", func(c *conn) []seg {
			long := strings.Replace(req1, "Host:", "X-Pad: "+strings.Repeat("a", 900)+"\r\nHost:", 1)
			alt := strings.Replace(long, "api.example", "api.exampl3", 1)
			r := c.send(true, long, 1448)
			return append(r, seg{true, r[0].seq, "A", []byte(alt), c.tick(), 0})
		}, 1, "/v1/users/1"},
		{"long segment, conflict in its middle (not hashed)", func(c *conn) []seg {
			long := strings.Replace(req1, "Host:", "X-Pad: "+strings.Repeat("a", 900)+"\r\nHost:", 1)
			alt := []byte(long)
			alt[500] = 'b'
			r := c.send(true, long, 1448)
			return append(r, seg{true, r[0].seq, "A", alt, c.tick(), 0})
		}, 0, "/v1/users/1"},
		{"shorter conflict (not compared)", func(c *conn) []seg {
			r := c.send(true, req1, 1448)
			return append(r, seg{true, r[0].seq, "A", []byte(evil[:12]), c.tick(), 0})
		}, 0, "/v1/users/1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []rec
			w := NewWorker(Config{}, collect(&got))
			c := newConn(1)
			s := c.handshake()
			s = append(s, tc.segs(c)...)
			// the response, sent again with a different body when the
			// case conflicts
			r := c.send(false, resp1, 1448)
			if tc.want > 0 {
				alt := []byte(strings.Replace(resp1, `"a":2`, `"a":3`, 1))
				r = append(r, seg{false, r[0].seq, "A", alt, c.tick(), 0})
			}
			c.feed(w, append(s, r...)...)
			w.Close()
			want := tc.want
			if want > 0 {
				want++ // the response conflict
			}
			if w.Stats.OverlapConflicts != want {
				t.Errorf("OverlapConflicts %d, want %d", w.Stats.OverlapConflicts, want)
			}
			if len(got) == 0 || got[0].path != tc.path || got[0].status != 200 {
				t.Errorf("got %+v, want %s answered 200", got, tc.path)
			}
		})
	}
}

func TestWorkerMaxFlows(t *testing.T) {
	var got []rec
	w := NewWorker(Config{MaxFlows: 2}, collect(&got))
	for i := 1; i <= 4; i++ {
		c := newConn(i)
		s := c.handshake()
		s = append(s, c.send(true, req1, 1448)...)
		c.feed(w, append(s, c.send(false, resp1, 1448)...)...)
	}
	w.Close()
	if len(got) != 2 || w.Stats.Flows != 2 || w.Stats.FlowsRejected == 0 {
		t.Fatalf("got %d transactions, %d flows, %d rejected; want 2, 2, >0", len(got), w.Stats.Flows, w.Stats.FlowsRejected)
	}
}

// TestWorkerSYNFlood: SYNs that nothing follows wait in the pending table,
// not in the flow table, so connections that go on are still tracked.
func TestWorkerSYNFlood(t *testing.T) {
	var got []rec
	w := NewWorker(Config{MaxFlows: 100}, collect(&got)) // 256 pending SYNs
	for i := 0; i < 1000; i++ {
		c := &conn{
			cli: netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), 1024),
			srv: netip.MustParseAddrPort("10.1.0.1:80"), cseq: uint32(i), ts: t0,
		}
		c.feed(w, c.handshake()[0])
	}
	c := newConn(1)
	s := c.handshake()
	s = append(s, c.send(true, req1, 1448)...)
	c.feed(w, append(s, c.send(false, resp1, 1448)...)...)
	// 1001 SYNs (the last one legitimate) went through 256 slots
	if w.Stats.Flows != 1 || w.Stats.FlowsRejected != 0 || w.Stats.HalfOpenDropped != 1001-256 {
		t.Errorf("flows %d, rejected %d, half-open dropped %d; want 1, 0, 745", w.Stats.Flows, w.Stats.FlowsRejected, w.Stats.HalfOpenDropped)
	}
	w.Close()
	if len(got) != 1 || got[0].flags != 0 || got[0].path != "/v1/users/1" {
		t.Errorf("got %+v, want one clean transaction", got)
	}
	// the pending SYNs are replayed at the end, within max_unanswered_flows
	// (max_flows/4: one-sided connections never take more)
	if w.Stats.Flows != 26 || w.Stats.FlowsRejected != 0 || w.Stats.UnansweredRejected != 255-25 { // 255 flood SYNs pending
		t.Errorf("after Close: flows %d, rejected %d, unanswered rejected %d; want 26, 0, 230", w.Stats.Flows, w.Stats.FlowsRejected, w.Stats.UnansweredRejected)
	}
}

// TestWorkerPendingSYN: how a held SYN reaches gopacket.
func TestWorkerPendingSYN(t *testing.T) {
	for _, tc := range []struct {
		name string
		segs func(c *conn) []seg
		want string // "PATH STATUS flags"
	}{
		{"client side only", func(c *conn) []seg {
			s := c.handshake()[:1]
			c.cseq++
			return append(s, c.send(true, req1, 1448)...)
		}, "/v1/users/1 0 unmatched_request"},
		{"syn retransmitted", func(c *conn) []seg {
			s := c.handshake()
			s = append(s[:1], s[0], s[1], s[0])
			s = append(s, c.send(true, req1, 1448)...)
			return append(s, c.send(false, resp1, 1448)...)
		}, "/v1/users/1 200 "},
		{"syn-ack before syn", func(c *conn) []seg {
			s := c.handshake()
			s = append(s[1:], s[0])
			s = append(s, c.send(true, req1, 1448)...)
			return append(s, c.send(false, resp1, 1448)...)
		}, "/v1/users/1 200 "},
		{"syn expired", func(c *conn) []seg {
			s := c.handshake()
			s[1].ts = s[1].ts.Add(5 * time.Minute) // the SYN is forgotten
			c.ts = s[1].ts
			s = append(s, c.send(true, req1, 1448)...)
			return append(s, c.send(false, resp1, 1448)...)
		}, "/v1/users/1 200 mid_stream_start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []rec
			w := NewWorker(Config{}, collect(&got))
			c := newConn(1)
			segs := tc.segs(c)
			for i, s := range segs { // a tick before each packet, as the sensor's clock would
				if i > 0 {
					w.Tick(s.ts)
				}
				c.feed(w, s)
			}
			w.Close()
			var lines []string
			for _, r := range got {
				var fl []string
				for i, n := range http1.FlagNames {
					if r.flags&(1<<i) != 0 {
						fl = append(fl, n)
					}
				}
				lines = append(lines, fmt.Sprintf("%s %d %s", r.path, r.status, strings.Join(fl, ",")))
			}
			if strings.Join(lines, "\n") != tc.want {
				t.Errorf("got %q, want %q", lines, tc.want)
			}
			if w.Stats.Flows != 1 {
				t.Errorf("flows %d, want 1", w.Stats.Flows)
			}
		})
	}
}

func TestWorkerIdleTimeout(t *testing.T) {
	var got []rec
	w := NewWorker(Config{IdleTimeout: 10 * time.Second}, collect(&got))
	c := newConn(1)
	s := c.handshake()
	c.feed(w, append(s, c.send(true, req1, 1448)...)...)
	if w.Stats.FlowsOpen != 1 {
		t.Fatalf("FlowsOpen %d, want 1", w.Stats.FlowsOpen)
	}
	w.Tick(t0.Add(time.Minute))
	w.Tick(t0.Add(2 * time.Minute))
	if w.Stats.FlowsOpen != 0 || len(got) != 1 || got[0].flags&http1.FlagUnmatchedRequest == 0 {
		t.Fatalf("after idle timeout: open %d, got %+v", w.Stats.FlowsOpen, got)
	}
}

func BenchmarkWorkerKeepAlive(b *testing.B) {
	body := strings.Repeat("x", 16<<10)
	resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	c := newConn(1)
	segs := c.handshake()
	const n = 64
	for i := 0; i < n; i++ {
		segs = append(segs, c.send(true, req1, 1448)...)
		segs = append(segs, c.send(false, resp, 1448)...)
	}
	var bytes int
	for _, s := range segs {
		bytes += len(s.data)
	}
	b.SetBytes(int64(bytes))
	b.ReportAllocs()
	var count int
	for i := 0; i < b.N; i++ {
		w := NewWorker(Config{}, func(*Transaction) { count++ })
		c.feed(w, segs...)
		w.Close()
	}
	if count != n*b.N {
		b.Fatalf("%d transactions, want %d", count, n*b.N)
	}
}
