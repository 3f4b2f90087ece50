package bpf

import (
	"errors"
	"net/netip"
	"os"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
)

func load(t *testing.T) *Filter {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loading eBPF programs needs root or CAP_BPF (CI runs as root)")
	}
	f, err := Load()
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("kernel refuses the program: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func frame(enc pcapgen.Encap, src, dst string) []byte {
	s := pcapgen.Segment{Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddrPort(dst), Seq: 1, Ack: 1, Flags: pcapgen.ACK, Payload: []byte("GET / HTTP/1.1\r\n\r\n")}
	return enc.AppendFrame(nil, &s)
}

// kept runs the program on a frame as an AF_PACKET socket would. The test
// run of a socket filter pulls an Ethernet header off the data (the program
// then sees the network header first), while a packet socket shows it the
// frame from its MAC header: so a throw-away Ethernet header goes in front.
func kept(t *testing.T, f *Filter, data []byte) bool {
	t.Helper()
	fake := []byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0x88, 0xb5} // local experimental ethertype
	ret, err := f.Program().Run(&ebpf.RunOptions{Data: append(fake, data...)})
	if err != nil {
		t.Fatal(err)
	}
	return ret != 0
}

func TestFilterDecisions(t *testing.T) {
	f := load(t)
	tsrc, tdst := netip.MustParseAddr("172.31.0.5"), netip.MustParseAddr("172.31.9.9")
	http := frame(pcapgen.Encap{}, "10.0.1.20:51000", "10.0.2.10:80")
	httpReply := frame(pcapgen.Encap{}, "10.0.2.10:80", "10.0.1.20:51000")
	tls := frame(pcapgen.Encap{}, "10.0.1.20:51000", "10.0.2.10:443")
	other := frame(pcapgen.Encap{}, "192.168.1.1:51000", "192.168.1.2:80")
	v6 := frame(pcapgen.Encap{}, "[2001:db8::1]:40000", "[2001:db8::2]:80")
	vlan100 := frame(pcapgen.Encap{VLAN: []uint16{100}}, "10.0.1.20:51000", "10.0.2.10:80")
	vlan200 := frame(pcapgen.Encap{VLAN: []uint16{200}}, "10.0.1.20:51000", "10.0.2.10:80")
	vxlan := frame(pcapgen.Encap{Tunnel: pcapgen.VXLAN, TunnelSrc: tsrc, TunnelDst: tdst, TunnelID: 1}, "10.0.1.20:51000", "10.0.2.10:8443")

	type check struct {
		name string
		data []byte
		keep bool
	}
	steps := []struct {
		name   string
		cfg    Config
		checks []check
	}{
		{"keep all by default", Config{}, []check{{"http", http, true}, {"tls", tls, true}, {"vxlan", vxlan, true}, {"v6", v6, true}}},
		{"port 80 only", Config{Ports: []uint16{80}}, []check{{"http", http, true}, {"reply", httpReply, true}, {"tls", tls, false}, {"vxlan", vxlan, false}, {"v6", v6, true}}},
		{"ports changed live", Config{Ports: []uint16{443}}, []check{{"http", http, false}, {"tls", tls, true}}},
		{"tunnels pass", Config{Ports: []uint16{443}, Tunnels: true}, []check{{"vxlan", vxlan, true}, {"http", http, false}}},
		{"allow 10/8", Config{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, []check{{"http", http, true}, {"other", other, false}, {"v6", v6, false}}},
		{"allow v6", Config{Allow: []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")}}, []check{{"v6", v6, true}, {"http", http, false}}},
		{"deny a host", Config{Deny: []netip.Prefix{netip.MustParsePrefix("10.0.2.10/32")}}, []check{{"http", http, false}, {"reply", httpReply, false}, {"other", other, true}}},
		{"vlan 100", Config{VLANs: []uint16{100}}, []check{{"vlan100", vlan100, true}, {"vlan200", vlan200, false}, {"untagged", http, false}}},
		{"back to all", Config{}, []check{{"http", http, true}, {"other", other, true}, {"vlan200", vlan200, true}}},
	}
	for _, s := range steps {
		if err := f.Apply(s.cfg); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		for _, c := range s.checks {
			if got := kept(t, f, c.data); got != c.keep {
				t.Errorf("%s: %s kept=%v, want %v", s.name, c.name, got, c.keep)
			}
		}
	}
	cnt, err := f.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if cnt[CounterSeen] == 0 || cnt[CounterKept] == 0 || cnt[CounterDroppedPort] == 0 || cnt[CounterDroppedAllow] == 0 || cnt[CounterDroppedDeny] == 0 || cnt[CounterDroppedVLAN] == 0 {
		t.Errorf("counters %v", cnt)
	}
	ps, err := f.PortStats()
	if err != nil {
		t.Fatal(err)
	}
	if ps[80].Packets == 0 || ps[80].Bytes == 0 || ps[443].Packets == 0 {
		t.Errorf("port stats %v", ps)
	}
	if err := f.Apply(Config{SamplePerMille: 1001}); err == nil {
		t.Error("sample rate 1001 accepted")
	}
	if err := f.Apply(Config{Allow: []netip.Prefix{{}}}); err == nil {
		t.Error("invalid prefix accepted")
	}
}

func TestFilterSamplingIsPerFlow(t *testing.T) {
	f := load(t)
	if err := f.Apply(Config{SamplePerMille: 500}); err != nil {
		t.Fatal(err)
	}
	if err := f.Apply(Config{Ports: []uint16{80}}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetSample(500); err != nil { // keeps the port selection
		t.Fatal(err)
	}
	if kept(t, f, frame(pcapgen.Encap{}, "10.1.0.1:30000", "10.9.0.1:443")) {
		t.Fatal("SetSample lost the port selection")
	}
	keptFlows := 0
	for i := 0; i < 400; i++ {
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(30000+i))
		srv := "10.9.0.1:80"
		a := kept(t, f, frame(pcapgen.Encap{}, cli.String(), srv))
		b := kept(t, f, frame(pcapgen.Encap{}, srv, cli.String()))
		if a != b {
			t.Fatalf("flow %d: directions decided differently", i)
		}
		if a {
			keptFlows++
		}
	}
	if keptFlows < 140 || keptFlows > 260 {
		t.Fatalf("kept %d of 400 flows at 500 per mille", keptFlows)
	}
}
