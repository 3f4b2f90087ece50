package uprobe

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/apitap/apitap/reassembly"
)

// netTCP is /proc/net/tcp and tcp6 as Linux 6.x writes them.
const netTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41233 1 0000000000000000 100 0 0 10 0
   1: 024BC80A:01BB 014BC80A:B5F0 01 00000000:00000000 00:00000000 00000000     0        0 52311 1 0000000000000000 20 4 30 10 -1
`

const netTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:20FB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF0000024BC80A:20FB 0000000000000000FFFF0000014BC80A:C000 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 20 4 30 10 -1
   2: 000080FE00000000FF2B1002FEB5C2E0:0050 000080FE00000000FF2B1002FEB5C2E1:D431 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 20 4 30 10 -1
`

func TestParseNetTCP(t *testing.T) {
	var got []tcpEntry
	for _, f := range []string{netTCP, netTCP6} {
		parseNetTCP([]byte(f), func(e *tcpEntry) bool { got = append(got, *e); return true })
	}
	want := []tcpEntry{
		{netip.MustParseAddrPort("0.0.0.0:443"), netip.MustParseAddrPort("0.0.0.0:0"), tcpListen, 41233},
		{netip.MustParseAddrPort("10.200.75.2:443"), netip.MustParseAddrPort("10.200.75.1:46576"), tcpEstablished, 52311},
		{netip.MustParseAddrPort("[::]:8443"), netip.MustParseAddrPort("[::]:0"), tcpListen, 1001},
		{netip.MustParseAddrPort("10.200.75.2:8443"), netip.MustParseAddrPort("10.200.75.1:49152"), tcpEstablished, 1002},
		{netip.MustParseAddrPort("[fe80::210:2bff:e0c2:b5fe]:80"), netip.MustParseAddrPort("[fe80::210:2bff:e1c2:b5fe]:54321"), tcpEstablished, 1003},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestProcParsers(t *testing.T) {
	maps := `55d0c0a00000-55d0c0a0a000 r--p 00000000 08:01 1234 /usr/sbin/nginx
7f1c2a000000-7f1c2a01f000 r--p 00000000 08:01 5678 /usr/lib/x86_64-linux-gnu/libssl.so.3
7f1c2a01f000-7f1c2a07a000 r-xp 0001f000 08:01 5678 /usr/lib/x86_64-linux-gnu/libssl.so.3
7f1c2b000000-7f1c2b200000 r--p 00000000 08:01 5679 /usr/lib/x86_64-linux-gnu/libcrypto.so.3
7f1c2c000000-7f1c2c001000 r-xp 00000000 08:01 5680 /opt/app/lib/libssl.so (deleted)
7ffd1c000000-7ffd1c021000 rw-p 00000000 00:00 0 [stack]
`
	var libs []string
	parseMaps([]byte(maps), func(m mappedLib) { libs = append(libs, m.Path) })
	if len(libs) != 2 || libs[0] != "/usr/lib/x86_64-linux-gnu/libssl.so.3" || libs[1] != "/opt/app/lib/libssl.so" {
		t.Errorf("libraries %q", libs)
	}
	if n, ok := socketInode("socket:[52311]"); !ok || n != 52311 {
		t.Errorf("socket inode %d %v", n, ok)
	}
	for _, l := range []string{"pipe:[1]", "/dev/null", "socket:[x]", "socket:[12"} {
		if _, ok := socketInode(l); ok {
			t.Errorf("%q read as a socket", l)
		}
	}
	if v := opensslVersion([]byte("\x00OpenSSL 3.0.19 27 Jan 2026\x00")); v != "OpenSSL 3.0.19" {
		t.Errorf("version %q", v)
	}
	if v := opensslVersion([]byte("OpenSSL %s\x00OpenSSL 1.1.1w  11 Sep 2023")); v != "OpenSSL 1.1.1w" {
		t.Errorf("version %q", v)
	}
	cg := "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6b1f9e0c_4a7d_4e7e_9d39_5a1d1f0c2b11.slice/cri-containerd-abc.scope\n"
	if p := podUID([]byte(cg)); p != "6b1f9e0c-4a7d-4e7e-9d39-5a1d1f0c2b11" {
		t.Errorf("pod %q", p)
	}
	if p := podUID([]byte("0::/user.slice/user-0.slice/session-1.scope\n")); p != "" {
		t.Errorf("pod %q outside Kubernetes", p)
	}
}

// TestSourceFrames: a connection's items become a handshake, data
// segments with consecutive sequence numbers (a gap where bytes were lost)
// and FINs, between the connection's addresses; Info describes it until
// its end has been read.
func TestSourceFrames(t *testing.T) {
	items := make(chan *item, 8)
	done := make(chan struct{})
	s := newSource(items, make(chan *item, 8), done)
	k := flowKey{netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("[2001:db8::2]:443")}
	k.client = netip.MustParseAddrPort("[2001:db8::1]:40000")
	info := &reassembly.TLSInfo{Library: "openssl", PID: 7, Process: "curl"}
	now := time.Unix(1700000000, 0)
	items <- &item{key: k, kind: itemOpen, ts: now, info: info}
	items <- &item{key: k, kind: itemData, fromClient: true, ts: now, data: []byte("GET / HTTP/1.1\r\n\r\n")}
	items <- &item{key: k, kind: itemData, fromClient: false, ts: now, skip: 10, data: []byte("HTTP/1.1 200 OK\r\n")}
	items <- &item{key: k, kind: itemClose, ts: now}
	type seg struct {
		fromClient    bool
		flags         string
		seq, ack, len uint32
	}
	var got []seg
	for {
		b, ci, err := s.Next()
		if err != nil {
			break
		}
		if !ci.Timestamp.Equal(now) {
			t.Errorf("timestamp %v", ci.Timestamp)
		}
		p := gopacket.NewPacket(b, layers.LayerTypeIPv6, gopacket.Default)
		ip, _ := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if ip == nil || tcp == nil {
			t.Fatalf("not IPv6/TCP: %v", p)
		}
		from := netip.AddrPortFrom(netip.AddrFrom16([16]byte(ip.SrcIP)), uint16(tcp.SrcPort))
		fl := ""
		for _, f := range []struct {
			on bool
			c  string
		}{{tcp.SYN, "S"}, {tcp.ACK, "A"}, {tcp.PSH, "P"}, {tcp.FIN, "F"}} {
			if f.on {
				fl += f.c
			}
		}
		got = append(got, seg{from == k.client, fl, tcp.Seq, tcp.Ack, uint32(len(tcp.Payload))})
		if s.Info(&reassembly.Flow{Client: k.client, Server: k.server}) != info {
			t.Errorf("Info lost before the end was read")
		}
	}
	want := []seg{
		{true, "S", 0, 0, 0}, {false, "SA", 0, 1, 0}, {true, "A", 1, 1, 0},
		{true, "AP", 1, 1, 18},
		{false, "AP", 11, 19, 17},
		{true, "AF", 19, 28, 0}, {false, "AF", 28, 20, 0},
	}
	if len(got) != len(want) {
		t.Fatalf("segments %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("segment %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	close(done)
	if _, _, err := s.Next(); err == nil {
		t.Error("no end after Close")
	}
	if s.Info(&reassembly.Flow{Client: k.client, Server: k.server}) != nil {
		t.Error("Info kept after the end")
	}
}

// FuzzProc: the /proc parsers never fail on any input, and what
// parseNetTCP returns is well formed.
func FuzzProc(f *testing.F) {
	f.Add([]byte(netTCP))
	f.Add([]byte(netTCP6))
	f.Add([]byte("7f1c2a000000-7f1c2a01f000 r--p 00000000 08:01 5678 /usr/lib/libssl.so.3\n"))
	f.Add(append([]byte{0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 8, 2}, make([]byte, 120)...)) // a pclntab header
	f.Add([]byte("0::/kubepods/pod6b1f9e0c-4a7d-4e7e-9d39-5a1d1f0c2b11/x\nOpenSSL 3.0.2 socket:[1]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseNetTCP(b, func(e *tcpEntry) bool {
			if !e.Local.IsValid() || !e.Remote.IsValid() {
				t.Fatalf("invalid address from %q", b)
			}
			return true
		})
		parseMaps(b, func(m mappedLib) {
			if m.Path == "" || m.Path[0] != '/' {
				t.Fatalf("library %q from %q", m.Path, b)
			}
		})
		podUID(b)
		opensslVersion(b)
		socketInode(string(b))
		retOffsets(b)
		pclnScan(b, 0x401000)
	})
}
