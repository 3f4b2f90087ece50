package decode

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
)

var (
	cli4 = netip.MustParseAddrPort("10.0.1.20:51000")
	srv4 = netip.MustParseAddrPort("10.0.2.10:80")
	cli6 = netip.MustParseAddrPort("[2001:db8::20]:51000")
	srv6 = netip.MustParseAddrPort("[2001:db8::10]:443")
	tsrc = netip.MustParseAddr("172.31.0.5")
	tdst = netip.MustParseAddr("172.31.9.9")
)

type frameCase struct {
	name   string
	enc    pcapgen.Encap
	src    netip.AddrPort
	dst    netip.AddrPort
	vlan   []uint16
	tunnel Tunnel
}

func frameCases() []frameCase {
	return []frameCase{
		{name: "ethernet ipv4", src: cli4, dst: srv4},
		{name: "vlan", enc: pcapgen.Encap{VLAN: []uint16{100}}, src: cli4, dst: srv4, vlan: []uint16{100}},
		{name: "qinq", enc: pcapgen.Encap{VLAN: []uint16{200, 100}}, src: cli4, dst: srv4, vlan: []uint16{200, 100}},
		{name: "sll", enc: pcapgen.Encap{Link: pcapgen.SLL}, src: cli4, dst: srv4},
		{name: "sll2", enc: pcapgen.Encap{Link: pcapgen.SLL2}, src: cli4, dst: srv4},
		{name: "raw ip", enc: pcapgen.Encap{Link: pcapgen.RawIP}, src: cli4, dst: srv4},
		{name: "ipv6", src: cli6, dst: srv6},
		{name: "ipv6 extension headers", enc: pcapgen.Encap{IPv6Ext: true}, src: cli6, dst: srv6},
		{name: "vxlan", enc: pcapgen.Encap{Tunnel: pcapgen.VXLAN, TunnelSrc: tsrc, TunnelDst: tdst, TunnelID: 4242}, src: cli4, dst: srv4,
			tunnel: Tunnel{Type: TunnelVXLAN, OuterSrc: tsrc, OuterDst: tdst, ID: 4242}},
		{name: "geneve", enc: pcapgen.Encap{Tunnel: pcapgen.GENEVE, TunnelSrc: tsrc, TunnelDst: tdst, TunnelID: 77}, src: cli6, dst: srv6,
			tunnel: Tunnel{Type: TunnelGENEVE, OuterSrc: tsrc, OuterDst: tdst, ID: 77}},
		{name: "erspan2", enc: pcapgen.Encap{Tunnel: pcapgen.ERSPAN2, TunnelSrc: tsrc, TunnelDst: tdst, TunnelID: 5}, src: cli4, dst: srv4,
			tunnel: Tunnel{Type: TunnelERSPAN2, OuterSrc: tsrc, OuterDst: tdst, ID: 5}},
		{name: "pppoe", enc: pcapgen.Encap{Link: pcapgen.PPPoE}, src: cli4, dst: srv4},
		{name: "pppoe vlan ipv6", enc: pcapgen.Encap{Link: pcapgen.PPPoE, VLAN: []uint16{7}}, src: cli6, dst: srv6, vlan: []uint16{7}},
		{name: "ppp", enc: pcapgen.Encap{Link: pcapgen.PPP}, src: cli4, dst: srv4},
		{name: "cisco hdlc", enc: pcapgen.Encap{Link: pcapgen.CHDLC}, src: cli4, dst: srv4},
		{name: "cisco hdlc ipv6", enc: pcapgen.Encap{Link: pcapgen.CHDLC}, src: cli6, dst: srv6},
		{name: "nflog", enc: pcapgen.Encap{Link: pcapgen.NFLOG}, src: cli4, dst: srv4},
		{name: "nflog ipv6", enc: pcapgen.Encap{Link: pcapgen.NFLOG}, src: cli6, dst: srv6},
		{name: "teredo", enc: pcapgen.Encap{Tunnel: pcapgen.Teredo, TunnelSrc: tsrc, TunnelDst: tdst}, src: cli6, dst: srv6,
			tunnel: Tunnel{Type: TunnelTeredo, OuterSrc: tsrc, OuterDst: tdst}},
		{name: "erspan3 inner vlan", enc: pcapgen.Encap{Tunnel: pcapgen.ERSPAN3, TunnelSrc: tsrc, TunnelDst: tdst, TunnelID: 9, VLAN: []uint16{30}}, src: cli4, dst: srv4,
			tunnel: Tunnel{Type: TunnelERSPAN3, OuterSrc: tsrc, OuterDst: tdst, ID: 9}},
	}
}

func linkOf(e pcapgen.Encap) layers.LinkType { return layers.LinkType(e.Link.LinkType()) }

func build(c frameCase, payload []byte) []byte {
	seg := pcapgen.Segment{Src: c.src, Dst: c.dst, Seq: 1000, Ack: 2000, Flags: pcapgen.ACK | pcapgen.PSH, Payload: payload}
	return c.enc.AppendFrame(nil, &seg)
}

func TestDecode(t *testing.T) {
	payload := []byte("GET / HTTP/1.1\r\n\r\n")
	d := New(Options{})
	for _, c := range frameCases() {
		t.Run(c.name, func(t *testing.T) {
			var p Packet
			frame := build(c, payload)
			if r := d.Decode(frame, linkOf(c.enc), &p); r != OK {
				t.Fatalf("result %v", r)
			}
			if p.Src != c.src.Addr() || p.Dst != c.dst.Addr() || p.SrcPort != c.src.Port() || p.DstPort != c.dst.Port() {
				t.Errorf("addresses %v:%d -> %v:%d", p.Src, p.SrcPort, p.Dst, p.DstPort)
			}
			if string(p.TCP.Payload) != string(payload) || p.TCP.Seq != 1000 || !p.TCP.PSH {
				t.Errorf("tcp seq %d payload %q", p.TCP.Seq, p.TCP.Payload)
			}
			if int(p.NVLAN) != len(c.vlan) {
				t.Errorf("vlan %v/%d, want %v", p.VLAN, p.NVLAN, c.vlan)
			}
			for i, v := range c.vlan {
				if p.VLAN[i] != v {
					t.Errorf("vlan[%d] = %d, want %d", i, p.VLAN[i], v)
				}
			}
			if p.Tunnel != c.tunnel {
				t.Errorf("tunnel %+v, want %+v", p.Tunnel, c.tunnel)
			}
			src, dst := p.NetFlow.Endpoints()
			if src.String() != c.src.Addr().String() || dst.String() != c.dst.Addr().String() {
				t.Errorf("netflow %v", p.NetFlow)
			}
			// the same Packet reused for a plain frame must not keep tunnel or VLANs
			plain := build(frameCase{src: cli4, dst: srv4}, payload)
			if r := d.Decode(plain, layers.LinkTypeEthernet, &p); r != OK || p.NVLAN != 0 || p.Tunnel.Type != TunnelNone {
				t.Errorf("state leaked into the next packet: %v %+v", r, p)
			}
		})
	}
}

// TestTruncatedEverywhere cuts every frame at every offset.
func TestTruncatedEverywhere(t *testing.T) {
	d := New(Options{})
	var p Packet
	for _, c := range frameCases() {
		frame := build(c, []byte("xyz"))
		for n := 0; n < len(frame)-3; n++ {
			r := d.Decode(frame[:n], linkOf(c.enc), &p)
			if r == OK && len(p.TCP.Payload) > 3 {
				t.Fatalf("%s cut at %d: payload %d bytes", c.name, n, len(p.TCP.Payload))
			}
		}
	}
}

func TestResults(t *testing.T) {
	d := New(Options{MaxDepth: 1})
	var p Packet
	udp := []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00, // ethernet
		0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // ipv4 udp
		0, 53, 0, 53, 0, 8, 0, 0}
	frag := append([]byte{}, udp...)
	frag[14+6] = 0x20 // MF
	badIHL := append([]byte{}, udp...)
	badIHL[14] = 0x43
	arp := append(append([]byte{}, udp[:12]...), 0x08, 0x06, 0, 1)
	nested := build(frameCase{enc: pcapgen.Encap{Tunnel: pcapgen.VXLAN, TunnelSrc: tsrc, TunnelDst: tdst}, src: cli4, dst: srv4}, nil)
	cases := []struct {
		name string
		data []byte
		link layers.LinkType
		want Result
	}{
		{"udp", udp, layers.LinkTypeEthernet, NotTCP},
		{"fragment", frag, layers.LinkTypeEthernet, Fragment},
		{"bad ihl", badIHL, layers.LinkTypeEthernet, Malformed},
		{"arp", arp, layers.LinkTypeEthernet, NotTCP},
		{"empty", nil, layers.LinkTypeEthernet, Truncated},
		{"unknown link", udp, layers.LinkType(147), UnsupportedLink},
		{"raw garbage", []byte{0x99, 1, 2}, layers.LinkTypeRaw, Malformed},
		{"one tunnel within the depth bound", nested, layers.LinkTypeEthernet, OK},
	}
	for _, c := range cases {
		if got := d.Decode(c.data, c.link, &p); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if s := Result(200).String(); s != "unknown" {
		t.Errorf("String of an unknown result: %q", s)
	}
}

func TestNoAllocs(t *testing.T) {
	d := New(Options{})
	var p Packet
	for _, c := range frameCases() {
		frame := build(c, make([]byte, 1448))
		link := linkOf(c.enc)
		if n := testing.AllocsPerRun(200, func() { d.Decode(frame, link, &p) }); n != 0 {
			t.Errorf("%s: %v allocations per packet", c.name, n)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range frameCases() {
		f.Add(build(c, []byte("GET / HTTP/1.1\r\n\r\n")), uint16(c.enc.Link.LinkType()))
	}
	// and the first frames of every test capture
	files, _ := filepath.Glob("../../testdata/pcaps/*.pcap")
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			continue
		}
		r, err := pcapgo.NewReader(fh)
		if err == nil {
			for i := 0; i < 4; i++ {
				data, _, err := r.ReadPacketData()
				if err != nil {
					break
				}
				f.Add(data, uint16(r.LinkType()))
			}
		}
		fh.Close()
	}
	d, sd := New(Options{}), ShardDecoder(Options{})
	var p, sp Packet
	f.Fuzz(func(t *testing.T, data []byte, link uint16) {
		// the shard decoder finds the same addresses and ports in whatever
		// the full decoder takes
		full := d.Decode(data, layers.LinkType(link), &p)
		if full == OK && (sd.Decode(data, layers.LinkType(link), &sp) != OK || !sameAddrs(&p, &sp)) {
			t.Fatalf("shard decoder: %v %v:%d > %v:%d, full %v:%d > %v:%d", sd.Decode(data, layers.LinkType(link), &sp),
				sp.Src, sp.SrcPort, sp.Dst, sp.DstPort, p.Src, p.SrcPort, p.Dst, p.DstPort)
		}
		if full == OK {
			pl := p.TCP.Payload
			if len(pl) > len(data) {
				t.Fatalf("payload longer than the frame")
			}
			if p.NVLAN > 2 {
				t.Fatalf("NVLAN %d", p.NVLAN)
			}
		}
	})
}

func sameAddrs(a, b *Packet) bool {
	return a.Src == b.Src && a.Dst == b.Dst && a.SrcPort == b.SrcPort && a.DstPort == b.DstPort
}

// TestShardDecoder: the reader's decoder (addresses and ports only) agrees
// with the full decoder on every frame case.
func TestShardDecoder(t *testing.T) {
	d, sd := New(Options{}), ShardDecoder(Options{})
	for _, c := range frameCases() {
		frame := build(c, []byte("GET / HTTP/1.1\r\n\r\n"))
		var p, sp Packet
		r := d.Decode(frame, linkOf(c.enc), &p)
		if r != OK {
			continue
		}
		if sd.Decode(frame, linkOf(c.enc), &sp) != OK || !sameAddrs(&p, &sp) {
			t.Errorf("%s: shard decoder %v:%d > %v:%d, full %v:%d > %v:%d", c.name, sp.Src, sp.SrcPort, sp.Dst, sp.DstPort, p.Src, p.SrcPort, p.Dst, p.DstPort)
		}
	}
}

func benchDecode(b *testing.B, c frameCase) {
	frame := build(c, make([]byte, 1448))
	d := New(Options{})
	var p Packet
	link := linkOf(c.enc)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if d.Decode(frame, link, &p) != OK {
			b.Fatal("decode failed")
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range frameCases() {
		b.Run(c.name, func(b *testing.B) { benchDecode(b, c) })
	}
}

// BenchmarkShardDecode is the reader's decoding of a frame for sharding.
func BenchmarkShardDecode(b *testing.B) {
	frame := build(frameCases()[0], make([]byte, 1448))
	d := ShardDecoder(Options{})
	var p Packet
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if d.Decode(frame, linkOf(frameCases()[0].enc), &p) != OK {
			b.Fatal("decode failed")
		}
	}
}

// BenchmarkGopacketNewPacket is the general-purpose decoder on the same
// frame, for comparison.
func BenchmarkGopacketNewPacket(b *testing.B) {
	frame := build(frameCases()[0], make([]byte, 1448))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p := gopacket.NewPacket(frame, layers.LinkTypeEthernet, gopacket.Default)
		if p.TransportLayer() == nil {
			b.Fatal("no tcp")
		}
	}
}
