package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
)

// pcapReader reads the records of a classic pcap file straight out of the
// file's read-ahead buffer: a record's header and data are peeked and
// skipped, not copied (pcapgo.Reader copies both through a second buffer,
// about 500 instructions a packet). pcapgo reads the file header, so that
// what is accepted and the errors are the same; the records are read the
// way pcapgo.Reader.ZeroCopyReadPacketData reads them, with the same
// results and errors. The data returned is valid until the next call.
type pcapReader struct {
	br      *bufio.Reader
	order   binary.ByteOrder
	nanos   uint32 // the factor from the file's fractions of a second to ns
	snaplen uint32
	pending int    // bytes of the last record to skip before the next one
	big     []byte // a record too large to peek (snap lengths above 256 KiB)
}

// eagerMax is pcapgo's eagerReadMax: the largest capture length read
// without growing the buffer with the bytes actually read.
const eagerMax = 262144

// newPcapReader reads the file header from br.
func newPcapReader(br *bufio.Reader) (*pcapReader, *pcapgo.Reader, error) {
	hdr, err := br.Peek(24)
	if len(hdr) < 24 && err != nil && err != io.EOF {
		return nil, nil, err
	}
	pr, err := pcapgo.NewReader(bytes.NewReader(hdr))
	if err != nil {
		return nil, nil, err
	}
	if _, err := br.Discard(24); err != nil {
		return nil, nil, err
	}
	r := &pcapReader{br: br, snaplen: pr.Snaplen(), nanos: 1000, order: binary.LittleEndian}
	if pr.Resolution() == gopacket.TimestampResolutionNanosecond {
		r.nanos = 1
	}
	if m := binary.LittleEndian.Uint32(hdr); m == 0xd4c3b2a1 || m == 0x4d3cb2a1 {
		r.order = binary.BigEndian
	}
	return r, pr, nil
}

// next implements File.next.
func (r *pcapReader) next() (data []byte, ci gopacket.CaptureInfo, err error) {
	if r.pending > 0 {
		r.br.Discard(r.pending) // peeked before: it is buffered
		r.pending = 0
	}
	p, err := r.br.Peek(16)
	if len(p) < 16 {
		// io.ReadFull's errors: EOF only when nothing was read
		if len(p) > 0 && err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		r.br.Discard(len(p))
		return nil, ci, err
	}
	o := r.order
	ci.Timestamp = time.Unix(int64(o.Uint32(p[0:4])), int64(o.Uint32(p[4:8])*r.nanos)).UTC()
	ci.CaptureLength = int(o.Uint32(p[8:12]))
	ci.Length = int(o.Uint32(p[12:16]))
	n := ci.CaptureLength
	if n > max(int(r.snaplen), eagerMax) {
		r.br.Discard(16)
		return nil, ci, fmt.Errorf("capture length exceeds snap length: %d > %d", n, r.snaplen)
	}
	if n > ci.Length {
		r.br.Discard(16)
		return nil, ci, fmt.Errorf("capture length exceeds original packet length: %d > %d", n, ci.Length)
	}
	if n > eagerMax || 16+n > r.br.Size() {
		r.br.Discard(16)
		return r.readLarge(ci)
	}
	p, err = r.br.Peek(16 + n)
	if len(p) < 16+n {
		got := len(p) - 16
		r.br.Discard(len(p))
		if got > 0 && err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, ci, err
	}
	r.pending = 16 + n
	return p[16 : 16+n : 16+n], ci, nil
}

// readLarge reads a record longer than eagerMax the way pcapgo does:
// the buffer grows with the bytes actually read.
func (r *pcapReader) readLarge(ci gopacket.CaptureInfo) ([]byte, gopacket.CaptureInfo, error) {
	buf := bytes.NewBuffer(r.big[:0])
	buf.Grow(eagerMax)
	m, err := io.CopyN(buf, r.br, int64(ci.CaptureLength))
	if err == io.EOF && m > 0 {
		err = io.ErrUnexpectedEOF
	}
	r.big = buf.Bytes()
	return r.big, ci, err
}
