package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/klauspost/compress/gzip"
)

// readBuffer is the read-ahead of file sources: large enough that a
// multi-gigabyte capture costs few system calls.
const readBuffer = 1 << 20

// File reads a pcap or pcapng capture, optionally gzip-compressed, from a
// path or, for "-", from standard input.
type File struct {
	name   string
	f      io.Reader
	closer io.Closer    // nil for readers the caller owns
	size   int64        // bytes on disk; 0 when unknown (stdin, pipes)
	read   atomic.Int64 // bytes consumed from the file (compressed side)
	gz     *gzip.Reader // non-nil for .gz input
	next   func() ([]byte, gopacket.CaptureInfo, error)
	pcap   *pcapReader // classic pcap: next, called directly
	link   layers.LinkType
	format string
}

// OpenFile opens the capture at path and reads its header. The format is
// detected from the content, not from the name. Use OpenReader for "-".
func OpenFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s := &File{name: path, f: f, closer: f}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		s.size = st.Size()
	}
	if err := s.init(); err != nil {
		s.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// OpenReader reads a capture from r (standard input, a pipe), naming it name.
// Its size is unknown, so progress shows bytes, not a fraction.
func OpenReader(name string, r io.Reader) (*File, error) {
	s := &File{name: name, f: r}
	if err := s.init(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

func (s *File) init() error {
	var r io.Reader = bufio.NewReaderSize(&countingReader{r: s.f, n: &s.read}, readBuffer)
	br := r.(*bufio.Reader)
	magic, err := br.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty file: not a pcap or pcapng capture")
		}
		return err
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		s.gz, err = gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		s.format = "gzip+"
		br = bufio.NewReaderSize(s.gz, readBuffer)
		if magic, err = br.Peek(4); err != nil {
			return fmt.Errorf("gzip content: %w", err)
		}
	}
	switch binary.LittleEndian.Uint32(magic) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		r, pr, err := newPcapReader(br, readBuffer)
		if err != nil {
			return fmt.Errorf("pcap header: %w", err)
		}
		s.format += "pcap"
		s.link = pr.LinkType()
		s.pcap = r
	case 0x0a0d0d0a:
		nr, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return fmt.Errorf("pcapng header: %w", err)
		}
		s.format += "pcapng"
		s.link = nr.LinkType()
		s.next = nr.ZeroCopyReadPacketData
	default:
		return fmt.Errorf("not a pcap or pcapng capture (magic %x)", magic)
	}
	return nil
}

// Next implements Source. A file that ends inside a record gives an error
// wrapping ErrTruncated; an impossible record one wrapping ErrCorrupt.
func (s *File) Next() ([]byte, gopacket.CaptureInfo, error) {
	var data []byte
	var ci gopacket.CaptureInfo
	var err error
	if s.pcap != nil {
		data, ci, err = s.pcap.next()
	} else {
		data, ci, err = s.next()
	}
	if err == nil {
		return data, ci, nil
	}
	switch {
	case errors.Is(err, io.EOF):
		return nil, ci, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, ci, fmt.Errorf("%s: %w", s.name, ErrTruncated)
	default:
		var perr *os.PathError
		if errors.As(err, &perr) {
			return nil, ci, err
		}
		return nil, ci, fmt.Errorf("%s: %w: %v", s.name, ErrCorrupt, err)
	}
}

// LinkType implements Source.
func (s *File) LinkType() layers.LinkType { return s.link }

// Name implements Source.
func (s *File) Name() string { return s.name }

// Format is "pcap", "pcapng", "gzip+pcap" or "gzip+pcapng".
func (s *File) Format() string { return s.format }

// Progress reports bytes read from the file and its size (0 if unknown).
// It may be called from any goroutine.
func (s *File) Progress() (done, total int64) { return s.read.Load(), s.size }

// Close implements Source.
func (s *File) Close() error {
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
