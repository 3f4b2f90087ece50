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

// pcapReader reads the records of a classic pcap file out of its own
// read-ahead buffer: a record's header is parsed and its data returned in
// place, not copied (pcapgo.Reader copies both through bufio, about 500
// instructions a packet). pcapgo reads the file header, so that what is
// accepted and the errors are the same; the records are read the way
// pcapgo.Reader.ZeroCopyReadPacketData reads them, with the same results
// and errors (the tests compare the two). The data returned is valid
// until the next call.
type pcapReader struct {
	r        io.Reader
	buf      []byte
	off, end int   // buf[off:end] is read and not consumed
	err      error // the error that ended the last read
	order    binary.ByteOrder
	nanos    uint32 // the factor from the file's fractions of a second to ns
	snaplen  uint32
	big      []byte // a record too large for buf
}

// eagerMax is pcapgo's eagerReadMax: the largest capture length read
// without growing the buffer with the bytes actually read.
const eagerMax = 262144

// newPcapReader reads the file header from br; the records are then read
// from br through a buffer of size bytes.
func newPcapReader(br *bufio.Reader, size int) (*pcapReader, *pcapgo.Reader, error) {
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
	r := &pcapReader{r: br, buf: make([]byte, size), snaplen: pr.Snaplen(), nanos: 1000, order: binary.LittleEndian}
	if pr.Resolution() == gopacket.TimestampResolutionNanosecond {
		r.nanos = 1
	}
	if m := binary.LittleEndian.Uint32(hdr); m == 0xd4c3b2a1 || m == 0x4d3cb2a1 {
		r.order = binary.BigEndian
	}
	return r, pr, nil
}

// fill reads until n bytes are buffered or a read fails (r.err); n is at
// most len(r.buf).
func (r *pcapReader) fill(n int) bool {
	if r.end-r.off >= n {
		return true
	}
	if r.off > 0 {
		r.end = copy(r.buf, r.buf[r.off:r.end])
		r.off = 0
	}
	for r.end < n && r.err == nil {
		var k int
		k, r.err = r.r.Read(r.buf[r.end:])
		r.end += k
	}
	return r.end >= n
}

// short ends a read that found only got of the bytes it wanted with
// io.ReadFull's error: EOF only when nothing was read.
func (r *pcapReader) short(got int) error {
	r.off = r.end
	err := r.err
	if got > 0 && err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// next implements File.next.
func (r *pcapReader) next() (data []byte, ci gopacket.CaptureInfo, err error) {
	if r.end-r.off < 16 && !r.fill(16) {
		return nil, ci, r.short(r.end - r.off)
	}
	p := r.buf[r.off : r.off+16]
	o := r.order
	ci.Timestamp = time.Unix(int64(o.Uint32(p[0:4])), int64(o.Uint32(p[4:8])*r.nanos)).UTC()
	ci.CaptureLength = int(o.Uint32(p[8:12]))
	ci.Length = int(o.Uint32(p[12:16]))
	r.off += 16
	n := ci.CaptureLength
	if n > max(int(r.snaplen), eagerMax) {
		return nil, ci, fmt.Errorf("capture length exceeds snap length: %d > %d", n, r.snaplen)
	}
	if n > ci.Length {
		return nil, ci, fmt.Errorf("capture length exceeds original packet length: %d > %d", n, ci.Length)
	}
	if n > eagerMax || n > len(r.buf) {
		return r.readLarge(ci)
	}
	if r.end-r.off < n && !r.fill(n) {
		return nil, ci, r.short(r.end - r.off)
	}
	data = r.buf[r.off : r.off+n : r.off+n]
	r.off += n
	return data, ci, nil
}

// readLarge reads a record larger than the buffer, or than eagerMax the
// way pcapgo does (the buffer grows with the bytes actually read).
func (r *pcapReader) readLarge(ci gopacket.CaptureInfo) ([]byte, gopacket.CaptureInfo, error) {
	n := ci.CaptureLength
	buf := bytes.NewBuffer(r.big[:0])
	buf.Grow(min(n, eagerMax))
	k := min(n, r.end-r.off)
	buf.Write(r.buf[r.off : r.off+k])
	r.off += k
	var err error
	if k < n {
		if r.err != nil {
			err = r.err
		} else {
			_, err = io.CopyN(buf, r.r, int64(n-k))
			r.err = err
		}
	}
	if err == io.EOF && buf.Len() > 0 {
		err = io.ErrUnexpectedEOF
	}
	r.big = buf.Bytes()
	return r.big, ci, err
}
