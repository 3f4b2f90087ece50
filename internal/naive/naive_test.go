package naive

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

var base = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

// frameWriter builds Ethernet/IPv4/TCP frames of one capture.
type frameWriter struct {
	t      testing.TB
	vlan   bool
	ts     time.Time
	frames [][]byte
	times  []time.Time
}

// tcpConn tracks the sequence numbers of one simulated connection.
type tcpConn struct {
	w          *frameWriter
	cli, srv   net.IP
	cport      layers.TCPPort
	cseq, sseq uint32
}

func (w *frameWriter) frame(src, dst net.IP, sport, dport layers.TCPPort, seq, ack uint32, syn, fin bool, payload []byte) {
	w.t.Helper()
	eth := &layers.Ethernet{
		SrcMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 1},
		DstMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 2},
		EthernetType: layers.EthernetTypeIPv4,
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
	tcp := &layers.TCP{SrcPort: sport, DstPort: dport, Seq: seq, Ack: ack, SYN: syn, FIN: fin, ACK: ack != 0, PSH: len(payload) > 0, Window: 65535}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		w.t.Fatal(err)
	}
	ls := []gopacket.SerializableLayer{eth}
	if w.vlan {
		eth.EthernetType = layers.EthernetTypeDot1Q
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4})
	}
	ls = append(ls, ip, tcp, gopacket.Payload(payload))
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		w.t.Fatal(err)
	}
	w.ts = w.ts.Add(time.Millisecond)
	w.frames = append(w.frames, append([]byte(nil), buf.Bytes()...))
	w.times = append(w.times, w.ts)
}

func (w *frameWriter) dial(cli string, cport uint16) *tcpConn {
	c := &tcpConn{w: w, cli: net.ParseIP(cli).To4(), srv: net.IPv4(10, 9, 0, 1).To4(), cport: layers.TCPPort(cport), cseq: 1000, sseq: 5000}
	w.frame(c.cli, c.srv, c.cport, 80, c.cseq, 0, true, false, nil)
	w.frame(c.srv, c.cli, 80, c.cport, c.sseq, c.cseq+1, true, false, nil)
	c.cseq++
	c.sseq++
	w.frame(c.cli, c.srv, c.cport, 80, c.cseq, c.sseq, false, false, nil)
	return c
}

// send writes data in segments of at most mss bytes, then the peer's ACK.
func (c *tcpConn) send(fromClient bool, data string, mss int) {
	for len(data) > 0 {
		n := min(mss, len(data))
		if fromClient {
			c.w.frame(c.cli, c.srv, c.cport, 80, c.cseq, c.sseq, false, false, []byte(data[:n]))
			c.cseq += uint32(n)
		} else {
			c.w.frame(c.srv, c.cli, 80, c.cport, c.sseq, c.cseq, false, false, []byte(data[:n]))
			c.sseq += uint32(n)
		}
		data = data[n:]
	}
	if fromClient {
		c.w.frame(c.srv, c.cli, 80, c.cport, c.sseq, c.cseq, false, false, nil)
	} else {
		c.w.frame(c.cli, c.srv, c.cport, 80, c.cseq, c.sseq, false, false, nil)
	}
}

func (c *tcpConn) close() {
	c.w.frame(c.cli, c.srv, c.cport, 80, c.cseq, c.sseq, false, true, nil)
	c.cseq++
	c.w.frame(c.srv, c.cli, 80, c.cport, c.sseq, c.cseq, false, true, nil)
	c.sseq++
	c.w.frame(c.cli, c.srv, c.cport, 80, c.cseq, c.sseq, false, false, nil)
}

func (w *frameWriter) pcap() []byte {
	var b bytes.Buffer
	pw := pcapgo.NewWriter(&b)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		w.t.Fatal(err)
	}
	for i, f := range w.frames {
		ci := gopacket.CaptureInfo{Timestamp: w.times[i], CaptureLength: len(f), Length: len(f)}
		if err := pw.WritePacket(ci, f); err != nil {
			w.t.Fatal(err)
		}
	}
	return b.Bytes()
}

func (w *frameWriter) pcapng() []byte {
	var b bytes.Buffer
	nw, err := pcapgo.NewNgWriter(&b, layers.LinkTypeEthernet)
	if err != nil {
		w.t.Fatal(err)
	}
	for i, f := range w.frames {
		ci := gopacket.CaptureInfo{Timestamp: w.times[i], CaptureLength: len(f), Length: len(f)}
		if err := nw.WritePacket(ci, f); err != nil {
			w.t.Fatal(err)
		}
	}
	if err := nw.Flush(); err != nil {
		w.t.Fatal(err)
	}
	return b.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	var out bytes.Buffer
	z := gzip.NewWriter(&out)
	z.Write(b)
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

const (
	getReq   = "GET /v1/users/%d HTTP/1.1\r\nHost: api.example\r\nAccept: application/json\r\n\r\n"
	postReq  = "POST /v1/orders HTTP/1.1\r\nHost: api.example\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
	jsonResp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
	chunked  = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
	cont     = "HTTP/1.1 100 Continue\r\n\r\n"
)

// exchanges writes three keep-alive exchanges on each of two connections:
// a plain GET, a POST answered with a chunked body, and a GET whose
// response spans many segments. The connections interleave.
func exchanges(t testing.TB, vlan bool) *frameWriter {
	w := &frameWriter{t: t, vlan: vlan, ts: base}
	a := w.dial("10.1.0.1", 40001)
	b := w.dial("10.1.0.2", 40002)
	big := strings.Repeat(`{"id":1,"name":"widget"},`, 400) // 10 KB
	body := `{"sku":"A-1","qty":2}`
	for i, c := range []*tcpConn{a, b, a, b} {
		if i >= 2 {
			c.send(true, fmt.Sprintf(getReq, i), 1448)
			c.send(false, fmt.Sprintf(jsonResp, len(big), big), 1448)
			continue
		}
		c.send(true, fmt.Sprintf(getReq, i), 1448)
		c.send(false, fmt.Sprintf(jsonResp, 2, "{}"), 1448)
		c.send(true, fmt.Sprintf(postReq, len(body), body), 30) // headers split across segments
		c.send(false, chunked, 1448)
	}
	a.close()
	b.close()
	return w
}

func TestRun(t *testing.T) {
	plain := exchanges(t, false)
	vlan := exchanges(t, true)
	noFin := exchanges(t, false)
	noFin.frames = noFin.frames[:len(noFin.frames)-6] // FlushAll must close them
	noFin.times = noFin.times[:len(noFin.times)-6]
	tests := []struct {
		name    string
		capture []byte
		packets int64
		tx      int64
	}{
		{"pcap", plain.pcap(), int64(len(plain.frames)), 6},
		{"pcapng", plain.pcapng(), int64(len(plain.frames)), 6},
		{"pcap.gz", gz(t, plain.pcap()), int64(len(plain.frames)), 6},
		{"pcapng.gz", gz(t, plain.pcapng()), int64(len(plain.frames)), 6},
		{"vlan", vlan.pcap(), int64(len(vlan.frames)), 6},
		{"no FIN", noFin.pcap(), int64(len(noFin.frames)), 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(bytes.NewReader(tt.capture))
			if err != nil {
				t.Fatal(err)
			}
			if res.Packets != tt.packets || res.Transactions != tt.tx {
				t.Errorf("got %+v, want %d packets, %d transactions", res, tt.packets, tt.tx)
			}
		})
	}
}

func TestRunOddTraffic(t *testing.T) {
	tests := []struct {
		name  string
		build func(w *frameWriter)
		tx    int64
	}{
		{"interim 100 Continue", func(w *frameWriter) {
			c := w.dial("10.1.0.1", 40001)
			c.send(true, fmt.Sprintf(postReq, 2, "{}"), 1448)
			c.send(false, cont+fmt.Sprintf(jsonResp, 2, "{}"), 1448)
			c.close()
		}, 1},
		{"response without request", func(w *frameWriter) {
			c := w.dial("10.1.0.1", 40001)
			c.send(false, fmt.Sprintf(jsonResp, 2, "{}"), 1448)
			c.send(true, fmt.Sprintf(getReq, 1), 1448)
			c.send(false, fmt.Sprintf(jsonResp, 2, "{}"), 1448)
			c.close()
		}, 1},
		{"garbage client", func(w *frameWriter) {
			c := w.dial("10.1.0.1", 40001)
			c.send(true, "\x16\x03\x01\x02\x00 not http at all\r\n\r\n", 1448)
			c.send(false, "\x16\x03\x03 nor this", 1448)
			c.close()
		}, 0},
		{"client side only, deep", func(w *frameWriter) {
			c := w.dial("10.1.0.1", 40001)
			c.send(true, strings.Repeat(fmt.Sprintf(getReq, 1), 3*maxPending), 1448)
			c.close()
		}, 0},
		{"truncated body", func(w *frameWriter) {
			c := w.dial("10.1.0.1", 40001)
			c.send(true, fmt.Sprintf(getReq, 1), 1448)
			c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", 1448)
			c.close()
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &frameWriter{t: t, ts: base}
			tt.build(w)
			res, err := Run(bytes.NewReader(w.pcap()))
			if err != nil {
				t.Fatal(err)
			}
			if res.Transactions != tt.tx {
				t.Errorf("transactions = %d, want %d", res.Transactions, tt.tx)
			}
		})
	}
}

func TestRunDamaged(t *testing.T) {
	good := exchanges(t, false).pcap()
	tests := []struct {
		name    string
		in      []byte
		wantErr bool
		counted bool // some packets counted before the error
	}{
		{"empty", nil, true, false},
		{"not a capture", []byte("hello, world"), true, false},
		{"header only", good[:24], false, false},
		{"truncated record", good[:len(good)-7], true, true},
		{"bad gzip", []byte{0x1f, 0x8b, 0, 0}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(bytes.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if (res.Packets > 0) != tt.counted {
				t.Errorf("packets = %d", res.Packets)
			}
		})
	}
}

func TestRunFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pcap")
	if err := os.WriteFile(path, exchanges(t, false).pcap(), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := RunFile(path)
	if err != nil || res.Transactions != 6 {
		t.Fatalf("RunFile = %+v, %v", res, err)
	}
	if _, err := RunFile(filepath.Join(t.TempDir(), "missing.pcap")); err == nil {
		t.Fatal("no error for a missing file")
	}
}

// FuzzRun checks that no input panics or stalls the baseline.
func FuzzRun(f *testing.F) {
	good := exchanges(f, false).pcap()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(exchanges(f, true).pcapng())
	f.Add([]byte{0xd4, 0xc3, 0xb2, 0xa1})
	f.Fuzz(func(t *testing.T, in []byte) {
		Run(bytes.NewReader(in))
	})
}

func BenchmarkRun(b *testing.B) {
	in := exchanges(b, false).pcap()
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Run(bytes.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}
