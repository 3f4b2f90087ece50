package http2

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/apitap/apitap/reassembly/grpc"
	"github.com/apitap/apitap/reassembly/http1"
)

// The recorded captures of real clients (testdata/h2, see
// sensor/cli/h2record_linux_test.go), cut so that they start in the
// middle of their connections.

// tcpConv is one TCP connection of a capture: the payload of each segment
// in capture order (retransmitted bytes dropped), the client first.
type tcpConv struct {
	parts []part
	times []time.Time
}

// readConvs returns the connections of a pcap with a handshake, by client.
func readConvs(t *testing.T, file string) []*tcpConv {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ a, b netip.AddrPort }
	convs := map[key]*tcpConv{}
	next := map[netip.AddrPort]uint32{} // next sequence number by sender
	var order []key
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		ip4, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if ip4 == nil || tcp == nil {
			continue
		}
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip4.SrcIP.To4())), uint16(tcp.SrcPort))
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip4.DstIP.To4())), uint16(tcp.DstPort))
		if tcp.SYN {
			next[src] = tcp.Seq + 1
			if !tcp.ACK {
				k := key{src, dst}
				convs[k] = &tcpConv{}
				order = append(order, k)
			}
			continue
		}
		k, fromClient := key{src, dst}, true
		if convs[k] == nil {
			k, fromClient = key{dst, src}, false
		}
		c := convs[k]
		if c == nil || len(tcp.Payload) == 0 {
			continue
		}
		pl := tcp.Payload
		if d := int32(next[src] - tcp.Seq); d > 0 { // bytes seen already
			if int(d) >= len(pl) {
				continue
			}
			pl = pl[d:]
		}
		next[src] = tcp.Seq + uint32(len(tcp.Payload))
		c.parts = append(c.parts, part{fromClient, append([]byte(nil), pl...)})
		c.times = append(c.times, ci.Timestamp)
	}
	var out []*tcpConv
	for _, k := range order {
		out = append(out, convs[k])
	}
	return out
}

// pathTruth is what a decoder that saw the whole connection knows of a
// request's :path: its value and where the field came from.
type pathTruth struct {
	path string
	from uint64 // dynamic-table entry serial (0: static or literal)
}

// traceConv runs a whole connection and returns each request's :path
// truth, and the client's table insertions before each part.
func traceConv(t *testing.T, v *tcpConv, start Start) (map[uint32]pathTruth, []uint64) {
	lim := http1.Limits{}.WithDefaults()
	env := &Env{Limits: &lim, Stats: &Stats{}, GRPC: &grpc.Decoder{}}
	c := NewConn(env, nil)
	truth := map[uint32]pathTruth{}
	c.trace = func(h *half, id uint32, fields []Field) {
		if h.d != http1.DirA {
			return
		}
		for _, f := range fields {
			if f.Name == ":path" {
				if _, ok := truth[id]; !ok {
					truth[id] = pathTruth{f.Value, f.from}
				}
			}
		}
	}
	c.Start(start, http1.DirA, true, http1.DirA)
	var seqs []uint64
	for i, p := range v.parts {
		seqs = append(seqs, c.half[http1.DirA].dec.seq)
		d := http1.DirA
		if !p.fromClient {
			d = http1.DirB
		}
		c.Data(d, p.b, v.times[i], v.times[i])
	}
	c.Close(v.times[len(v.times)-1])
	return truth, seqs
}

// TestRealCapturesCut cuts the recorded connections at every fifth
// segment (and inside segments) and checks: every stream whose request
// starts after the cut is reported; every :path value sent literally or
// through a table entry added after the cut is recovered; no value
// resolves wrongly. It logs the recovery rates and decode quality.
func TestRealCapturesCut(t *testing.T) {
	for _, name := range []string{"go_h2c.pcap", "grpc_go.pcap"} {
		file := filepath.Join("..", "..", "testdata", "h2", name)
		if _, err := os.Stat(file); err != nil {
			t.Fatalf("%v (recorded by sensor/cli TestRecordH2)", err)
		}
		var cuts, after, reported, resolvable, recovered, paths, resolved int
		var fields, unresolved uint64
		for _, v := range readConvs(t, file) {
			truth, seqs := traceConv(t, v, StartPreface)
			for cut := 3; cut < len(v.parts); cut += 5 {
				for _, skew := range []int{0, 7} {
					cuts++
					w := &conv{parts: append([]part(nil), v.parts[cut:]...)}
					if skew >= len(w.parts[0].b) {
						continue
					}
					w.parts[0].b = w.parts[0].b[skew:]
					got, st := runTimes(t, w, v.times[cut:])
					fields += st.HeaderFields
					unresolved += st.FieldsUnresolved
					byID := map[uint32]result{}
					for _, r := range got {
						byID[r.id] = r
					}
					// streams whose client HEADERS come after the cut
					s := 0
					if v.parts[cut].fromClient {
						s = skew
					}
					ids := streamsAfter(t, v, cut, s)
					for _, id := range ids {
						after++
						r, ok := byID[id]
						if !ok {
							t.Errorf("%s cut %d skew %d: stream %d not reported", name, cut, skew, id)
							continue
						}
						reported++
						tr := truth[id]
						paths++
						if r.path != "" {
							resolved++
							if r.path+queryOf(tr.path) != tr.path {
								t.Fatalf("%s cut %d: stream %d path %q, truth %q", name, cut, id, r.path, tr.path)
							}
						}
						known := seqs[cut] // insertions the capture missed
						if s > 0 && cut+1 < len(seqs) {
							known = seqs[cut+1] // the skew cut into the first part's blocks
						}
						if tr.from == 0 || tr.from > known {
							resolvable++
							if r.path != "" {
								recovered++
							} else {
								t.Logf("%s cut %d skew %d: stream %d path %q from entry %d (%d before the cut) not recovered", name, cut, skew, id, tr.path, tr.from, known)
							}
						}
					}
				}
			}
		}
		t.Logf("%s: %d cuts; %d streams after the cuts, %d reported; :path resolved for %d of %d (%.1f%%); of the %d sent literally or through entries added after the cut, %d recovered (%.1f%%); header fields resolved %.1f%%",
			name, cuts, after, reported, resolved, paths, pct(resolved, paths), resolvable, recovered, pct(recovered, resolvable), 100-100*float64(unresolved)/float64(max(fields, 1)))
		if reported != after {
			t.Errorf("%s: %d of %d streams after the cut reported", name, reported, after)
		}
		if recovered*100 < resolvable*95 {
			t.Errorf("%s: %d of %d recoverable paths recovered (want at least 95%%)", name, recovered, resolvable)
		}
	}
}

func pct(a, b int) float64 { return 100 * float64(a) / float64(max(b, 1)) }

// queryOf is the query part of a target, with its '?'.
func queryOf(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] == '?' {
			return p[i:]
		}
	}
	return ""
}

// streamsAfter lists the streams whose request HEADERS frame starts in a
// client part at or after cut (parsed from the frames of the whole
// connection).
func streamsAfter(t *testing.T, v *tcpConv, cut, skew int) []uint32 {
	var ids []uint32
	off := 0 // client bytes before the part
	var client []byte
	starts := []int{}
	for _, p := range v.parts {
		if p.fromClient {
			starts = append(starts, len(client))
			client = append(client, p.b...)
		} else {
			starts = append(starts, len(client))
		}
	}
	cutOff := starts[cut] + skew
	if len(client) >= len(Preface) && string(client[:len(Preface)]) == Preface {
		off = len(Preface)
	}
	seen := map[uint32]bool{}
	for off+frameHeaderLen <= len(client) {
		h := parseFrameHeader(client[off:])
		if h.typ == 1 && off >= cutOff && !seen[h.stream] { // HEADERS after the cut
			seen[h.stream] = true
			ids = append(ids, h.stream)
		} else if h.typ == 1 {
			seen[h.stream] = true
		}
		off += frameHeaderLen + int(h.length)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// runTimes is run with the parts' capture times.
func runTimes(t *testing.T, v *conv, times []time.Time) ([]result, *Stats) {
	st := &Stats{}
	lim := http1.Limits{}.WithDefaults()
	env := &Env{Limits: &lim, Stats: st, GRPC: &grpc.Decoder{}}
	var out []result
	c := NewConn(env, func(ex *Exchange) {
		r := result{id: ex.Stream.ID, info: ex.Stream.Flags, flags: ex.Flags}
		if q := ex.Request; q != nil {
			r.method, r.path = q.Method, q.Path
		}
		out = append(out, r)
	})
	c.Start(StartMidStream, http1.DirA, false, http1.DirA)
	for i, p := range v.parts {
		d := http1.DirA
		if !p.fromClient {
			d = http1.DirB
		}
		c.Data(d, p.b, times[i], times[i])
	}
	c.Close(times[len(times)-1])
	if len(out) != int(st.Streams) {
		panic(fmt.Sprint(len(out), st.Streams))
	}
	return out, st
}
