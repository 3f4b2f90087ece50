package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
)

// records reads every record of a classic pcap with next, as text (data,
// capture info and error), up to the first error.
func records(next func() ([]byte, any, error)) string {
	var b bytes.Buffer
	for i := 0; i < 1<<20; i++ {
		data, ci, err := next()
		if err != nil {
			fmt.Fprintf(&b, "error %v\n", err)
			return b.String()
		}
		fmt.Fprintf(&b, "%+v %x\n", ci, data)
	}
	return b.String()
}

// compareReaders checks that pcapReader gives what pcapgo's zero-copy
// reader gives on file.
func compareReaders(t *testing.T, file []byte) {
	t.Helper()
	if len(file) >= 2 && file[0] == 0x1f && file[1] == 0x8b {
		// gzip: pcapgo decompresses it itself, pcapReader is handed what
		// File has decompressed already (File's tests cover gzip input)
		return
	}
	want := "header error"
	if pr, err := pcapgo.NewReader(bytes.NewReader(file)); err == nil {
		want = records(func() ([]byte, any, error) { return pr.ZeroCopyReadPacketData() })
	} else {
		want += " " + err.Error()
	}
	got := "header error"
	if r, _, err := newPcapReader(bufio.NewReaderSize(bytes.NewReader(file), 4096), 4096); err == nil {
		got = records(func() ([]byte, any, error) { return r.next() })
	} else {
		got += " " + err.Error()
	}
	if got != want {
		t.Fatalf("pcapReader:\n%.2000s\npcapgo:\n%.2000s", got, want)
	}
}

// TestPcapReaderSameAsPcapgo: the test captures, cut at every length near
// their records' boundaries, read the same with both readers.
func TestPcapReaderSameAsPcapgo(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/pcaps/*.pcap")
	if len(files) == 0 {
		t.Fatal("no test captures")
	}
	files = append(files, "") // the generated one
	for _, name := range files {
		var file []byte
		if name == "" {
			file = pcapBytes(t)
		} else {
			var err error
			if file, err = os.ReadFile(name); err != nil {
				t.Fatal(err)
			}
		}
		if len(file) < 24 || binary.LittleEndian.Uint32(file) == 0x0a0d0d0a {
			continue
		}
		compareReaders(t, file)
		for cut := 0; cut < len(file) && cut < 4096; cut += 13 {
			compareReaders(t, file[:cut])
		}
	}
}

// TestPcapReaderLarge: records longer than the read-ahead buffer and
// longer than pcapgo's eager limit, in both byte orders and resolutions,
// and lengths that exceed the snap length or the original length.
func TestPcapReaderLarge(t *testing.T) {
	for _, magic := range []uint32{0xa1b2c3d4, 0xa1b23c4d} {
		for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
			for _, snap := range []uint32{65535, 1 << 20} {
				for _, n := range []uint32{0, 1, 100, 4090, 5000, 300000, 70000} {
					for _, orig := range []uint32{n, n + 5, n - 1} {
						file := make([]byte, 24, 24+16+int(n))
						order.PutUint32(file, magic)
						order.PutUint16(file[4:], 2)
						order.PutUint16(file[6:], 4)
						order.PutUint32(file[16:], snap)
						order.PutUint32(file[20:], 1)
						file = order.AppendUint32(file, 1700000000)
						file = order.AppendUint32(file, 999999)
						file = order.AppendUint32(file, n)
						file = order.AppendUint32(file, orig)
						for i := uint32(0); i < n; i++ {
							file = append(file, byte(i))
						}
						compareReaders(t, file)
						compareReaders(t, file[:len(file)-1])
						compareReaders(t, append(file, file[24:]...))
					}
				}
			}
		}
	}
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func FuzzPcapReader(f *testing.F) {
	f.Add(pcapBytes(&testing.T{}))
	f.Fuzz(func(t *testing.T, file []byte) {
		compareReaders(t, file)
	})
}

func BenchmarkPcapReader(b *testing.B) {
	file := pcapBytes(&testing.T{})
	b.ReportAllocs()
	b.SetBytes(int64(len(file)))
	for i := 0; i < b.N; i++ {
		r, _, err := newPcapReader(bufio.NewReaderSize(bytes.NewReader(file), 1<<16), 1<<16)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, _, err := r.next(); err != nil {
				break
			}
		}
	}
}
