package pcapgen

import (
	"bufio"
	"encoding/binary"
	"io"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Base is the capture time of the first packet of every generated capture.
var Base = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

// Writer writes frames to a pcap (nanosecond) or pcapng file.
type Writer struct {
	bw      *bufio.Writer
	ng      *pcapgo.NgWriter
	hdr     [16]byte
	Packets int
	Bytes   int64
}

// NewWriter writes a pcap header for link and returns the Writer.
func NewWriter(w io.Writer, link Link) (*Writer, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b23c4d) // nanosecond pcap
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 262144)
	binary.LittleEndian.PutUint32(h[20:], link.LinkType())
	if _, err := bw.Write(h[:]); err != nil {
		return nil, err
	}
	return &Writer{bw: bw, Bytes: 24}, nil
}

// NewNgWriter writes a pcapng section for link.
func NewNgWriter(w io.Writer, link Link) (*Writer, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	ng, err := pcapgo.NewNgWriter(bw, layers.LinkType(link.LinkType()))
	if err != nil {
		return nil, err
	}
	return &Writer{bw: bw, ng: ng}, nil
}

// Write writes one frame captured at ts.
func (w *Writer) Write(ts time.Time, frame []byte) error {
	w.Packets++
	w.Bytes += int64(16 + len(frame))
	if w.ng != nil {
		return w.ng.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame)}, frame)
	}
	ns := ts.UnixNano()
	binary.LittleEndian.PutUint32(w.hdr[0:], uint32(ns/1e9))
	binary.LittleEndian.PutUint32(w.hdr[4:], uint32(ns%1e9))
	binary.LittleEndian.PutUint32(w.hdr[8:], uint32(len(frame)))
	binary.LittleEndian.PutUint32(w.hdr[12:], uint32(len(frame)))
	if _, err := w.bw.Write(w.hdr[:]); err != nil {
		return err
	}
	_, err := w.bw.Write(frame)
	return err
}

// Flush writes buffered data.
func (w *Writer) Flush() error {
	if w.ng != nil {
		if err := w.ng.Flush(); err != nil {
			return err
		}
	}
	return w.bw.Flush()
}

// Packet is a segment with its capture time.
type Packet struct {
	TS  time.Time
	Seg Segment
}

// Conn builds the segments of one TCP connection.
type Conn struct {
	Cli, Srv   netip.AddrPort
	cseq, sseq uint32
	TS         time.Time
	Step       time.Duration // time between segments
	MSS        int
}

// NewConn returns a connection from cli to srv starting at ts.
func NewConn(cli, srv netip.AddrPort, ts time.Time) *Conn {
	return &Conn{Cli: cli, Srv: srv, cseq: 1000000, sseq: 7000000, TS: ts, Step: 50 * time.Microsecond, MSS: 1448}
}

func (c *Conn) tick() time.Time {
	c.TS = c.TS.Add(c.Step)
	return c.TS
}

func (c *Conn) seg(fromClient bool, flags uint8, payload []byte) Packet {
	s := Segment{Src: c.Cli, Dst: c.Srv, Seq: c.cseq, Ack: c.sseq, Flags: flags, Payload: payload}
	if !fromClient {
		s = Segment{Src: c.Srv, Dst: c.Cli, Seq: c.sseq, Ack: c.cseq, Flags: flags, Payload: payload}
	}
	return Packet{TS: c.tick(), Seg: s}
}

// Handshake returns SYN, SYN-ACK, ACK.
func (c *Conn) Handshake() []Packet {
	p := []Packet{c.seg(true, SYN, nil)}
	c.cseq++
	p = append(p, c.seg(false, SYN|ACK, nil))
	c.sseq++
	return append(p, c.seg(true, ACK, nil))
}

// Send splits data into MSS-sized segments from one side, followed by a
// pure ACK from the other side.
func (c *Conn) Send(fromClient bool, data []byte) []Packet {
	var out []Packet
	for len(data) > 0 {
		n := min(c.MSS, len(data))
		out = append(out, c.seg(fromClient, PSH|ACK, data[:n]))
		if fromClient {
			c.cseq += uint32(n)
		} else {
			c.sseq += uint32(n)
		}
		data = data[n:]
	}
	return append(out, c.seg(!fromClient, ACK, nil))
}

// Skip advances a side's sequence number as if n bytes were sent unseen.
func (c *Conn) Skip(fromClient bool, n int) {
	if fromClient {
		c.cseq += uint32(n)
	} else {
		c.sseq += uint32(n)
	}
}

// Close returns FIN/ACK from the client, FIN/ACK from the server and the
// last ACK.
func (c *Conn) Close() []Packet {
	p := []Packet{c.seg(true, FIN|ACK, nil)}
	c.cseq++
	p = append(p, c.seg(false, FIN|ACK, nil))
	c.sseq++
	return append(p, c.seg(true, ACK, nil))
}

// Reset returns a RST from the server.
func (c *Conn) Reset() []Packet {
	return []Packet{c.seg(false, RST|ACK, nil)}
}

// Exchange sends a request and its response.
func (c *Conn) Exchange(req, resp []byte) []Packet {
	return append(c.Send(true, req), c.Send(false, resp)...)
}

// WriteAll frames and writes packets.
func WriteAll(w *Writer, e *Encap, pkts []Packet) error {
	var buf []byte
	for i := range pkts {
		buf = e.AppendFrame(buf[:0], &pkts[i].Seg)
		if err := w.Write(pkts[i].TS, buf); err != nil {
			return err
		}
	}
	return nil
}
