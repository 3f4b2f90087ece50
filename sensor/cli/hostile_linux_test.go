package cli

// Hostile traffic: the real binary reads generated captures (streamed into
// its standard input, never held in memory) that mix an attack on the sensor
// itself with 1000 ordinary HTTP exchanges. Each case checks that the
// ordinary exchanges are all parsed, that what a bound shed is counted in the
// stats event, that the process did not crash, and that its peak RSS (VmHWM,
// polled from /proc) stays under a bound derived from the configuration
// below. The measured peaks are logged as
//
//	hostile: case=NAME ... peak_rss_mb=N bound_mb=N transactions=N legit=N drops=... parse_errors=...
//
// and documented in docs/architecture.md ("Hostile traffic").

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
)

// The configuration every case runs with, and the bound derived from it.
const (
	hostileWorkers      = 2
	hostileQueueBatches = 16
	hostileMaxFlows     = 60000    // reassembly.max_flows, per worker: 120000 in all
	hostileBuffered     = 16 << 20 // reassembly.max_buffered_bytes, per worker
	hostileFlowBuffered = 1 << 20  // reassembly.max_flow_buffered_bytes
	hostileHTTPBuffered = 16 << 20 // reassembly.http.max_buffered_bytes, per worker
	hostileIdleTimeout  = "30s"
	hostileLegit        = 1000 // ordinary exchanges mixed into every case

	// hostileFlowCost is what one tracked connection costs, live (stream
	// and parser state, about 1.1 KiB; gopacket's connection; map entries);
	// hostileSYNCost one slot of the pending-SYN table (384 bytes and its
	// index entry; max_flows/8 slots per worker, at most 16384).
	hostileFlowCost = 1536
	hostileSYNCost  = 512
	// hostileBase is the runtime, the binary, the analyzers' tables and the
	// output buffers (about 25 MiB on benign traffic).
	hostileBase = 48 << 20
)

var hostileConfig = fmt.Sprintf(`sensor:
  workers: %d
  queue_batches: %d
reassembly:
  max_flows: %d
  max_buffered_bytes: %d
  max_flow_buffered_bytes: %d
  idle_timeout: %s
  http:
    max_buffered_bytes: %d
`, hostileWorkers, hostileQueueBatches, hostileMaxFlows, hostileBuffered, hostileFlowBuffered, hostileIdleTimeout, hostileHTTPBuffered)

// hostileBound is the peak RSS the configuration allows for a run that
// created flows connections: what the bounds let the workers hold (the
// connections tracked, at most max_flows per worker; the pending SYNs;
// out-of-order bytes; parser buffers), twice (the garbage collector lets
// the heap grow to twice the live bytes at GOGC=100), plus the worker
// queues and the base.
func hostileBound(flows uint64) int64 {
	tracked := min(int64(flows), int64(hostileWorkers)*hostileMaxFlows)
	synSlots := int64(min(max(hostileMaxFlows/8, 256), 16384))
	live := tracked*hostileFlowCost + int64(hostileWorkers)*(synSlots*hostileSYNCost+hostileBuffered+hostileHTTPBuffered)
	queues := int64(hostileWorkers) * hostileQueueBatches * (256 << 10)
	return 2*live + queues + hostileBase
}

// hostileGen writes the frames of one case to a pcap stream, on one clock.
type hostileGen struct {
	w    *pcapgen.Writer
	enc  pcapgen.Encap
	buf  []byte
	ts   time.Time
	step time.Duration
	err  error
	srv  netip.AddrPort
	r    *rand.Rand

	legitSent int
}

func (g *hostileGen) write(s *pcapgen.Segment) {
	if g.err != nil {
		return
	}
	g.ts = g.ts.Add(g.step)
	g.buf = g.enc.AppendFrame(g.buf[:0], s)
	g.err = g.w.Write(g.ts, g.buf)
}

// raw writes a frame as it is (garbage).
func (g *hostileGen) raw(frame []byte) {
	if g.err != nil {
		return
	}
	g.ts = g.ts.Add(g.step)
	g.err = g.w.Write(g.ts, frame)
}

// packets writes a connection's packets on the generator's clock.
func (g *hostileGen) packets(pkts []pcapgen.Packet) {
	for i := range pkts {
		g.write(&pkts[i].Seg)
	}
}

// hostileClient is a distinct client address for index i of a space.
func hostileClient(space byte, i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{space, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i%60000))
}

// legit writes one ordinary connection: handshake, a GET answered 200,
// close. Every 10th one also retransmits its request unchanged, which must
// not count as an overlap conflict.
func (g *hostileGen) legit() {
	i := g.legitSent
	g.legitSent++
	c := pcapgen.NewConn(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(40000+i%20000)), g.srv, g.ts)
	req := []byte(fmt.Sprintf("GET /api/v1/items/%d HTTP/1.1\r\nHost: legit.example\r\nUser-Agent: hostile-test\r\nAccept: application/json\r\n\r\n", i))
	body := fmt.Sprintf(`{"id":%d,"name":"item %d"}`, i, i)
	resp := []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	g.packets(c.Handshake())
	r := c.Send(true, req)
	g.packets(r)
	if i%10 == 0 {
		g.packets(r[:1])
	}
	g.packets(c.Send(false, resp))
	g.packets(c.Close())
}

// interleave calls unit n times and writes the legit connections evenly
// between the units.
func (g *hostileGen) interleave(n int, unit func(i int)) {
	every := max(1, n/hostileLegit)
	for i := 0; i < n; i++ {
		if i%every == 0 && g.legitSent < hostileLegit {
			g.legit()
		}
		unit(i)
	}
	for g.legitSent < hostileLegit {
		g.legit()
	}
}

// hostileStats is the final stats event.
type hostileStats struct {
	Packets      uint64            `json:"packets"`
	Flows        uint64            `json:"flows"`
	Transactions uint64            `json:"transactions"`
	Decode       map[string]uint64 `json:"decode"`
	ParseErrors  map[string]uint64 `json:"parse_errors"`
	Drops        map[string]uint64 `json:"drops"`
	Flags        map[string]uint64 `json:"flags"`
}

type hostileResult struct {
	stats   hostileStats
	legit   int   // 200 answers to legit.example
	peakRSS int64 // bytes
}

// runHostile runs `apitap read` on the capture gen writes, polling the
// process's peak RSS until it exits.
func runHostile(t *testing.T, bin string, gen func(g *hostileGen)) hostileResult {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "hostile.yaml")
	if err := os.WriteFile(conf, []byte(hostileConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "read", "--config", conf, "--emit", "transaction,stats", "--progress", "never", "--quiet", "--sensor-id", "hostile", "-")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// the bound assumes the default garbage collector settings
	cmd.Env = append(os.Environ(), "GOGC=100", "GOMEMLIMIT=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	var res hostileResult
	var statsLine []byte
	done := make(chan struct{})
	go func() { // read the events: count the legit exchanges, keep the stats
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			l := sc.Bytes()
			switch {
			case bytes.Contains(l, []byte(`"type":"transaction"`)):
				if bytes.Contains(l, []byte(`"host":"legit.example"`)) && bytes.Contains(l, []byte(`"status":200,`)) {
					res.legit++
				}
			case bytes.Contains(l, []byte(`"type":"stats"`)):
				statsLine = append(statsLine[:0], l...)
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	peak := make(chan int64)
	stop := make(chan struct{})
	go func() { // VmHWM is the peak; poll it until the process is gone
		var max int64
		path := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		for {
			if v := vmHWM(path); v > max {
				max = v
			}
			select {
			case <-stop:
				peak <- max
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	w, err := pcapgen.NewWriter(stdin, pcapgen.Ethernet)
	if err != nil {
		t.Fatal(err)
	}
	g := &hostileGen{w: w, ts: pcapgen.Base, step: 10 * time.Microsecond, srv: netip.MustParseAddrPort("10.0.0.1:80"), r: rand.New(rand.NewPCG(1, 2))}
	gen(g)
	if g.err == nil {
		g.err = w.Flush()
	}
	stdin.Close()
	<-done
	werr := cmd.Wait()
	close(stop)
	res.peakRSS = <-peak
	if g.err != nil {
		t.Fatalf("writing the capture: %v\n%s", g.err, stderr.String())
	}
	if werr != nil {
		t.Fatalf("apitap: %v\n%s", werr, stderr.String())
	}
	if strings.Contains(stderr.String(), "panic") {
		t.Fatalf("apitap panicked:\n%s", stderr.String())
	}
	if statsLine == nil {
		t.Fatalf("no stats event\n%s", stderr.String())
	}
	if err := json.Unmarshal(statsLine, &res.stats); err != nil {
		t.Fatalf("stats event: %v\n%s", err, statsLine)
	}
	if res.stats.Packets != uint64(w.Packets) {
		t.Errorf("apitap read %d packets, %d written", res.stats.Packets, w.Packets)
	}
	return res
}

// vmHWM returns the VmHWM of a /proc/PID/status file in bytes (0 when the
// process is gone).
func vmHWM(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	i := bytes.Index(b, []byte("VmHWM:"))
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+len("VmHWM:"):]))
	if len(f) < 1 {
		return 0
	}
	kb, _ := strconv.ParseInt(f[0], 10, 64)
	return kb << 10
}

func counts(m map[string]uint64) string {
	keys := slices.Sorted(maps.Keys(m))
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s:%d", k, m[k])
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// TestHostileTraffic runs every hostile case through the binary.
func TestHostileTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("hostile traffic: about 10 s and a build; make test runs it")
	}
	bin := buildApitap(t, t.TempDir())
	cases := []struct {
		name string
		what string // size of the attack, for the log line
		gen  func(g *hostileGen)
		// check asserts the counters of what had to be shed or noticed
		check func(t *testing.T, st *hostileStats)
	}{
		{
			name: "syn_flood", what: "flows=1000000",
			gen: func(g *hostileGen) {
				g.step = 2 * time.Microsecond
				s := pcapgen.Segment{Dst: g.srv, Flags: pcapgen.SYN}
				g.interleave(1000000, func(i int) {
					s.Src, s.Seq = hostileClient(100, i), uint32(i)*7919
					g.write(&s)
				})
			},
			check: func(t *testing.T, st *hostileStats) {
				if st.Drops["reassembly_half_open"] == 0 {
					t.Error("a million half-open flows, and no drops.reassembly_half_open")
				}
				if st.Drops["reassembly_flows"] != 0 {
					t.Errorf("half-open flows filled the flow table: drops.reassembly_flows %d", st.Drops["reassembly_flows"])
				}
			},
		},
		{
			name: "concurrent_streams", what: "flows=100000",
			gen: func(g *hostileGen) {
				partial := []byte("POST /api/v1/upload HTTP/1.1\r\nHost: victim.example\r\nContent-Type: application/json\r\nX-Pad: " + strings.Repeat("p", 300))
				g.interleave(100000, func(i int) {
					c := pcapgen.NewConn(hostileClient(101, i), g.srv, g.ts)
					g.packets(c.Handshake())
					g.packets(c.Send(true, partial)[:1])
				})
			},
			check: func(t *testing.T, st *hostileStats) {},
		},
		{
			name: "huge_headers", what: "header_bytes=1048576 conns=64",
			gen: func(g *hostileGen) {
				// 64 connections send 1 MiB of header fields each, their
				// segments interleaved so all of them are open at once
				const conns = 64
				head := "GET /api/v1/items HTTP/1.1\r\nHost: victim.example\r\n"
				var hdrs bytes.Buffer
				hdrs.WriteString(head)
				for i := 0; hdrs.Len() < 1<<20; i++ {
					fmt.Fprintf(&hdrs, "X-Filler-%d: %s\r\n", i, strings.Repeat("h", 100))
				}
				hdrs.WriteString("\r\n")
				cs := make([]*pcapgen.Conn, conns)
				segs := make([][]pcapgen.Packet, conns)
				for i := range cs {
					cs[i] = pcapgen.NewConn(hostileClient(102, i), g.srv, g.ts)
					g.packets(cs[i].Handshake())
					segs[i] = cs[i].Send(true, hdrs.Bytes())
					segs[i] = segs[i][:len(segs[i])-1] // without the pure ACK
				}
				n := len(segs[0])
				g.interleave(n, func(j int) {
					for i := range cs {
						g.write(&segs[i][j].Seg)
					}
				})
				for i := range cs {
					g.packets(cs[i].Send(false, []byte("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n")))
					g.packets(cs[i].Close())
				}
			},
			check: func(t *testing.T, st *hostileStats) {
				if st.ParseErrors["header_too_large"] == 0 {
					t.Error("1 MiB heads, and no parse_errors.header_too_large")
				}
			},
		},
		{
			name: "endless_chunked", what: "body_bytes=268435456",
			gen: func(g *hostileGen) {
				// a chunked upload that never ends: 256 MiB of 4 KiB
				// chunks (more than the bound: a leak would show)
				c := pcapgen.NewConn(hostileClient(103, 1), g.srv, g.ts)
				g.packets(c.Handshake())
				g.packets(c.Send(true, []byte("POST /api/v1/stream HTTP/1.1\r\nHost: victim.example\r\nTransfer-Encoding: chunked\r\n\r\n")))
				chunk := []byte("1000\r\n" + strings.Repeat("c", 4096) + "\r\n")
				var data []byte
				for len(data) < 256<<10 {
					data = append(data, chunk...)
				}
				const total = 256 << 20
				g.interleave(total/len(data), func(int) {
					p := c.Send(true, data)
					g.packets(p[:len(p)-1])
				})
			},
			check: func(t *testing.T, st *hostileStats) {
				if st.Flags["truncated"] == 0 {
					t.Error("an endless body, and no flags.truncated")
				}
			},
		},
		{
			name: "decompression_bomb", what: "bombs=2000 ratio=1000",
			gen: func(g *hostileGen) {
				// gzip bodies that expand about 1000 times: 10 MiB and
				// 256 KiB of zeros
				bomb := func(n int) []byte {
					var b bytes.Buffer
					zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
					zw.Write(make([]byte, n))
					zw.Close()
					return []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", b.Len(), b.Bytes()))
				}
				big, small := bomb(10<<20), bomb(256<<10)
				g.interleave(2000, func(i int) {
					c := pcapgen.NewConn(hostileClient(104, i), g.srv, g.ts)
					g.packets(c.Handshake())
					resp := small
					if i%2 == 0 {
						resp = big
					}
					g.packets(c.Exchange([]byte("GET /api/v1/export HTTP/1.1\r\nHost: victim.example\r\nAccept-Encoding: gzip\r\n\r\n"), resp))
					g.packets(c.Close())
				})
			},
			check: func(t *testing.T, st *hostileStats) {
				if st.Flags["truncated"] < 2000 {
					t.Errorf("flags.truncated %d, want every bomb (2000) cut", st.Flags["truncated"])
				}
			},
		},
		{
			name: "overlap_conflicts", what: "conns=2000",
			gen: func(g *hostileGen) {
				// the request goes out twice at the same sequence
				// numbers, with different bytes
				g.interleave(2000, func(i int) {
					c := pcapgen.NewConn(hostileClient(105, i), g.srv, g.ts)
					g.packets(c.Handshake())
					safe := []byte("GET /api/v1/items/1 HTTP/1.1\r\nHost: victim.example\r\n\r\n")
					evil := []byte("GET /api/v1/admin/1 HTTP/1.1\r\nHost: victim.example\r\n\r\n")
					r := c.Send(true, safe)
					alt := r[0]
					alt.Seg.Payload = evil
					g.packets(append(r[:1:1], alt))
					g.packets(c.Send(false, []byte("HTTP/1.1 204 No Content\r\n\r\n")))
					g.packets(c.Close())
				})
			},
			check: func(t *testing.T, st *hostileStats) {
				if n := st.Drops["reassembly_overlap_conflict"]; n != 2000 {
					t.Errorf("drops.reassembly_overlap_conflict %d, want 2000 (and none for the retransmissions of the legit flows)", n)
				}
			},
		},
		{
			name: "garbage", what: "frames=300000",
			gen: func(g *hostileGen) {
				// random bytes as frames, and well-formed TCP segments to
				// the server carrying random bytes
				frame := make([]byte, 1514)
				s := pcapgen.Segment{Dst: g.srv, Flags: pcapgen.PSH | pcapgen.ACK}
				g.interleave(300000, func(i int) {
					n := 1 + g.r.IntN(len(frame))
					for j := 0; j < n; j += 8 {
						v := g.r.Uint64()
						for k := j; k < min(j+8, n); k++ {
							frame[k] = byte(v >> (8 * (k - j)))
						}
					}
					if i%2 == 0 {
						g.raw(frame[:n])
						return
					}
					s.Src, s.Seq, s.Payload = hostileClient(106, i%5000), g.r.Uint32(), frame[:min(n, 1460)]
					g.write(&s)
				})
			},
			check: func(t *testing.T, st *hostileStats) {
				if len(st.Decode) == 0 {
					t.Error("random frames, and no decode errors counted")
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := runHostile(t, bin, tc.gen)
			st := &res.stats
			bound := hostileBound(st.Flows)
			line := fmt.Sprintf("hostile: case=%s %s peak_rss_mb=%d bound_mb=%d packets=%d flows=%d transactions=%d legit=%d drops=%s parse_errors=%s decode=%s flags=%s",
				tc.name, tc.what, res.peakRSS>>20, bound>>20, st.Packets, st.Flows, st.Transactions, res.legit,
				counts(st.Drops), counts(st.ParseErrors), counts(st.Decode), counts(st.Flags))
			t.Log(line)
			fmt.Fprintln(os.Stderr, line)
			if res.legit != hostileLegit {
				t.Errorf("%d ordinary exchanges parsed, want %d", res.legit, hostileLegit)
			}
			if res.peakRSS == 0 {
				t.Error("peak RSS not measured")
			} else if res.peakRSS > bound {
				t.Errorf("peak RSS %d MiB, over the bound of %d MiB the configuration allows", res.peakRSS>>20, bound>>20)
			}
			tc.check(t, st)
		})
	}
}
