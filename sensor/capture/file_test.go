package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/klauspost/compress/gzip"
)

var ts0 = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

func frames() [][]byte {
	var out [][]byte
	for i := 0; i < 5; i++ {
		out = append(out, bytes.Repeat([]byte{byte(i)}, 60+i*100))
	}
	return out
}

func pcapBytes(t *testing.T) []byte {
	var b bytes.Buffer
	w := pcapgo.NewWriterNanos(&b)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i, f := range frames() {
		ci := gopacket.CaptureInfo{Timestamp: ts0.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(f), Length: len(f)}
		if err := w.WritePacket(ci, f); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func pcapngBytes(t *testing.T) []byte {
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriter(&b, layers.LinkTypeLinuxSLL2)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames() {
		ci := gopacket.CaptureInfo{Timestamp: ts0.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(f), Length: len(f)}
		if err := w.WritePacket(ci, f); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func readAll(s Source) (n int, err error) {
	for {
		_, _, err := s.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
		n++
	}
}

func TestFileFormats(t *testing.T) {
	p, ng := pcapBytes(t), pcapngBytes(t)
	cases := []struct {
		name    string
		data    []byte
		format  string
		link    layers.LinkType
		packets int
		err     error  // wrapped error expected from Next
		openErr string // substring of the OpenFile error
	}{
		{"pcap", p, "pcap", layers.LinkTypeEthernet, 5, nil, ""},
		{"pcapng", ng, "pcapng", layers.LinkTypeLinuxSLL2, 5, nil, ""},
		{"pcap.gz", gz(p), "gzip+pcap", layers.LinkTypeEthernet, 5, nil, ""},
		{"pcapng.gz", gz(ng), "gzip+pcapng", layers.LinkTypeLinuxSLL2, 5, nil, ""},
		{"truncated record", p[:len(p)-30], "pcap", layers.LinkTypeEthernet, 4, ErrTruncated, ""},
		{"truncated header", p[:len(p)-len(frames()[4])-8], "pcap", layers.LinkTypeEthernet, 4, ErrTruncated, ""},
		{"truncated gzip", gz(p)[:len(gz(p))/2], "gzip+pcap", layers.LinkTypeEthernet, -1, nil, ""},
		{"corrupt length", corrupt(p), "pcap", layers.LinkTypeEthernet, 1, ErrCorrupt, ""},
		{"empty", nil, "", 0, 0, nil, "empty file"},
		{"text", []byte("GET / HTTP/1.1\r\n\r\n"), "", 0, 0, nil, "not a pcap or pcapng"},
		{"short header", p[:10], "", 0, 0, nil, "pcap header"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
			os.WriteFile(path, c.data, 0o644)
			for _, viaReader := range []bool{false, true} {
				var s *File
				var err error
				if viaReader {
					s, err = OpenReader("-", bytes.NewReader(c.data))
				} else {
					s, err = OpenFile(path)
				}
				if c.openErr != "" {
					if err == nil || !strings.Contains(err.Error(), c.openErr) {
						t.Fatalf("open error %v, want %q", err, c.openErr)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if s.Format() != c.format || s.LinkType() != c.link {
					t.Errorf("format %s link %v, want %s %v", s.Format(), s.LinkType(), c.format, c.link)
				}
				n, err := readAll(s)
				if c.packets >= 0 && n != c.packets {
					t.Errorf("read %d packets, want %d", n, c.packets)
				}
				if c.err != nil && !errors.Is(err, c.err) {
					t.Errorf("error %v, want %v", err, c.err)
				}
				if c.err == nil && c.packets >= 0 && err != nil {
					t.Errorf("unexpected error %v", err)
				}
				if c.packets < 0 && err == nil {
					t.Errorf("damaged gzip gave no error")
				}
				if !viaReader {
					if done, total := s.Progress(); total != int64(len(c.data)) || done == 0 {
						t.Errorf("progress %d/%d, want .../%d", done, total, len(c.data))
					}
				}
				s.Close()
			}
		})
	}
}

// corrupt sets an absurd capture length on the second record.
func corrupt(p []byte) []byte {
	b := append([]byte(nil), p...)
	off := 24 + 16 + len(frames()[0])
	b[off+8], b[off+9], b[off+10], b[off+11] = 0xff, 0xff, 0xff, 0x7f
	return b
}

// FuzzFile reads arbitrary bytes as a capture: errors are fine, panics and
// unbounded reads are not.
func FuzzFile(f *testing.F) {
	f.Add(pcapBytes(&testing.T{}))
	f.Add(pcapngBytes(&testing.T{}))
	f.Add(gz(pcapBytes(&testing.T{})))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := OpenReader("fuzz", bytes.NewReader(data))
		if err != nil {
			return
		}
		for i := 0; i < 10000; i++ {
			if _, _, err := s.Next(); err != nil {
				return
			}
		}
	})
}
