package reassembly

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/apitap/apitap/reassembly/http2"
)

// capPacket is one TCP segment of a recorded capture.
type capPacket struct {
	p       Packet
	tcp     layers.TCP
	payload []byte
	client  bool
}

// readCapture decodes the TCP segments of a capture (Ethernet, IPv4).
func readCapture(t *testing.T, file string) []*capPacket {
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("%v (recorded by sensor/cli TestRecordH2)", err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []*capPacket
	clients := map[netip.AddrPort]bool{}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			return out
		}
		pk := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		ip4, _ := pk.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp, _ := pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if ip4 == nil || tcp == nil {
			continue
		}
		c := &capPacket{tcp: *tcp, payload: append([]byte(nil), tcp.Payload...)}
		c.tcp.Payload = c.payload
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip4.SrcIP.To4())), uint16(tcp.SrcPort))
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip4.DstIP.To4())), uint16(tcp.DstPort))
		if tcp.SYN && !tcp.ACK {
			clients[src] = true
		}
		c.client = clients[src]
		c.p = Packet{NetFlow: ip4.NetworkFlow(), CI: ci, Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port()}
		out = append(out, c)
	}
}

// requestsFrom counts the requests (client HEADERS frames) whose frame
// starts in a segment at or after cut, on a capture of one connection.
func requestsFrom(pkts []*capPacket, cut int) int {
	var client []byte
	var starts []int // client offset of each packet
	for _, p := range pkts {
		starts = append(starts, len(client))
		if p.client {
			client = append(client, p.payload...)
		}
	}
	n, off := 0, len(http2.Preface)
	for off+9 <= len(client) {
		length := int(client[off])<<16 | int(client[off+1])<<8 | int(client[off+2])
		if client[off+3] == 1 && off >= starts[cut] {
			n++
		}
		off += 9 + length
	}
	return n
}

// TestWorkerH2RealCut feeds the recorded connections from the middle (the
// handshake and everything before a segment dropped): the worker finds the
// HTTP/2 frames, and every request after the cut is a transaction.
func TestWorkerH2RealCut(t *testing.T) {
	for _, name := range []string{"go_h2c.pcap", "grpc_go.pcap"} {
		pkts := readCapture(t, filepath.Join("..", "testdata", "h2", name))
		var want, got, withPath int
		cuts := 0
		for cut := 10; cut < len(pkts)-10; cut += 7 {
			cuts++
			reqs := 0
			w := NewWorker(Config{}, func(tx *Transaction) {
				if tx.H2 == nil {
					t.Fatalf("%s cut %d: an HTTP/1.x transaction", name, cut)
				}
				if tx.Request != nil {
					reqs++
					if tx.Request.Path != "" {
						withPath++
					}
				}
			})
			for _, p := range pkts[cut:] {
				tcp := p.tcp
				p.p.TCP = &tcp
				w.Packet(&p.p)
			}
			w.Close()
			if w.Stats.HTTP2.Conns[http2.StartMidStream] != 1 {
				t.Fatalf("%s cut %d: not found as HTTP/2: %+v", name, cut, w.Stats.HTTP2)
			}
			exp := requestsFrom(pkts, cut)
			want += exp
			got += reqs
			if reqs != exp {
				t.Errorf("%s cut %d: %d requests reported, %d sent after the cut", name, cut, reqs, exp)
			}
		}
		t.Logf("%s: %d cuts, %d requests after the cuts, %d reported (%d with their path)", name, cuts, want, got, withPath)
	}
}
