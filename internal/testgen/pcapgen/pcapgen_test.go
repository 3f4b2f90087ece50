package pcapgen

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// TestCommittedCasesReproducible regenerates every case and compares it
// with the committed file under testdata/pcaps.
func TestCommittedCasesReproducible(t *testing.T) {
	dir := t.TempDir()
	if err := WriteCases(dir); err != nil {
		t.Fatal(err)
	}
	names := []string{"MANIFEST.json"}
	for _, k := range Cases() {
		names = append(names, k.File)
	}
	for _, n := range names {
		got, _ := os.ReadFile(filepath.Join(dir, n))
		want, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "pcaps", n))
		if err != nil {
			t.Fatalf("%v (run make generate)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: committed file differs from the generator's output (run make generate)", n)
		}
	}
	var demo bytes.Buffer
	w, _ := NewWriter(&demo, Ethernet)
	if err := WriteAll(w, &Encap{}, Demo()); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	want, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "demo", "demo.pcap"))
	if err != nil || !bytes.Equal(demo.Bytes(), want) {
		t.Errorf("testdata/demo/demo.pcap differs from the generator's output (run make generate): %v", err)
	}
}

// TestFramesDecodeCleanly reads every undamaged case with gopacket and
// checks checksums and lengths.
// gopacketCannot are the captures whose link type or tunnel gopacket does
// not decode.
var gopacketCannot = map[string]bool{"chdlc.pcap": true, "nflog.pcap": true, "teredo.pcap": true}

func TestFramesDecodeCleanly(t *testing.T) {
	for _, k := range Cases() {
		if k.wrap != "" || gopacketCannot[k.File] {
			continue // (sensor/decode's TestTsharkAgrees checks those with tshark)
		}
		t.Run(k.File, func(t *testing.T) {
			b, err := k.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			r, err := pcapgo.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				data, _, err := r.ReadPacketData()
				if err != nil {
					break
				}
				n++
				p := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
				if el := p.ErrorLayer(); el != nil {
					t.Fatalf("packet %d: %v", n, el.Error())
				}
				tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
				if tcp == nil && k.File != "erspan3.pcap" && k.File != "geneve.pcap" {
					t.Fatalf("packet %d: no TCP layer: %v", n, p)
				}
				if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
					hdr := ip.Contents
					var sum uint32
					for i := 0; i+1 < len(hdr); i += 2 {
						sum += uint32(binary.BigEndian.Uint16(hdr[i:]))
					}
					if csumFold(sum) != 0 {
						t.Fatalf("packet %d: bad IPv4 header checksum", n)
					}
				}
			}
			if n == 0 {
				t.Fatal("no packets")
			}
		})
	}
}

// TestBenchCount checks that Bench reports as many transactions as there
// are responses in the file.
func TestBenchCount(t *testing.T) {
	var b bytes.Buffer
	res, err := Bench(&b, 2<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != int64(b.Len()) {
		t.Fatalf("reported %d bytes, wrote %d", res.Bytes, b.Len())
	}
	got := bytes.Count(b.Bytes(), []byte("HTTP/1.1 200 OK\r\n"))
	if got != res.Transactions || got == 0 {
		t.Fatalf("file holds %d responses, Bench reports %d transactions", got, res.Transactions)
	}
}

func BenchmarkBenchWriter(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(8 << 20)
	for i := 0; i < b.N; i++ {
		var w countWriter
		if _, err := Bench(&w, 8<<20, false); err != nil {
			b.Fatal(err)
		}
	}
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }
