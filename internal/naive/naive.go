package naive

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/gopacket/gopacket/tcpassembly"
	"github.com/gopacket/gopacket/tcpassembly/tcpreader"
)

// Result counts what the baseline saw. Bytes is the sum of captured frame
// lengths.
type Result struct {
	Packets      int64 `json:"packets"`
	Bytes        int64 `json:"bytes"`
	Transactions int64 `json:"transactions"`
}

const (
	// maxPending bounds the requests of one connection waiting for their
	// response; further requests are dropped (pipelining that deep, or a
	// capture that only shows the client side).
	maxPending = 1024
	// idle is how long, in capture time, a connection may stay silent
	// before it is flushed and closed.
	idle = 2 * time.Minute
	// flushEvery is the packet interval between idle flushes.
	flushEvery = 1 << 16
)

// ErrFormat reports input that is neither pcap nor pcapng.
var ErrFormat = errors.New("not a pcap or pcapng capture")

// RunFile counts the HTTP transactions of the capture at path.
func RunFile(path string) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, fmt.Errorf("open capture %q: %w", path, err)
	}
	defer f.Close()
	res, err := Run(f)
	if err != nil {
		return res, fmt.Errorf("capture %q: %w", path, err)
	}
	return res, nil
}

// packetSource is what pcapgo's pcap and pcapng readers have in common.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// open picks the reader by magic number, after removing gzip if present.
func open(r io.Reader) (packetSource, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	if m, _ := br.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		br = bufio.NewReaderSize(z, 1<<20)
	}
	m, err := br.Peek(4)
	if err != nil {
		return nil, ErrFormat
	}
	switch {
	case m[0] == 0x0a && m[1] == 0x0d && m[2] == 0x0d && m[3] == 0x0a:
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, fmt.Errorf("pcapng: %w", err)
		}
		return ng, nil
	case isPcapMagic(m):
		p, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("pcap: %w", err)
		}
		return p, nil
	}
	return nil, ErrFormat
}

func isPcapMagic(m []byte) bool {
	for _, magic := range [][4]byte{
		{0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4}, // microseconds
		{0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d}, // nanoseconds
	} {
		if [4]byte(m) == magic {
			return true
		}
	}
	return false
}

// Run reads a capture (pcap or pcapng, gzip-compressed or not) from r and
// counts complete HTTP/1.x transactions. A damaged or truncated capture is
// processed up to the damage: the counts so far are returned with the error.
func Run(r io.Reader) (Result, error) {
	var res Result
	src, err := open(r)
	if err != nil {
		return res, err
	}
	fac := newFactory()
	asm := tcpassembly.NewAssembler(tcpassembly.NewStreamPool(fac))
	var last time.Time
	for {
		data, ci, rerr := src.ReadPacketData()
		if rerr != nil {
			if rerr != io.EOF {
				err = fmt.Errorf("packet %d: %w", res.Packets+1, rerr)
			}
			break
		}
		res.Packets++
		res.Bytes += int64(len(data))
		p := gopacket.NewPacket(data, src.LinkType(), gopacket.Default)
		nl := p.NetworkLayer()
		tcp, ok := p.TransportLayer().(*layers.TCP)
		if nl == nil || !ok {
			continue
		}
		asm.AssembleWithTimestamp(nl.NetworkFlow(), tcp, ci.Timestamp)
		if ci.Timestamp.After(last) {
			last = ci.Timestamp
		}
		if res.Packets%flushEvery == 0 {
			asm.FlushOlderThan(last.Add(-idle))
		}
	}
	asm.FlushAll()
	fac.wg.Wait()
	res.Transactions = fac.tx.Load()
	return res, err
}

// conn is what the two directions of one TCP connection share.
type conn struct {
	reqs chan *http.Request // parsed requests waiting for their response
}

type connKey [2]gopacket.Flow

// factory creates a ReaderStream and its reader goroutine per direction and
// matches the two directions of a connection by their reversed flows.
type factory struct {
	mu    sync.Mutex
	conns map[connKey]*conn // connections seen in one direction only
	wg    sync.WaitGroup
	tx    atomic.Int64
}

func newFactory() *factory {
	return &factory{conns: make(map[connKey]*conn)}
}

// New implements tcpassembly.StreamFactory.
func (f *factory) New(netFlow, tcpFlow gopacket.Flow) tcpassembly.Stream {
	key := connKey{netFlow, tcpFlow}
	rev := connKey{netFlow.Reverse(), tcpFlow.Reverse()}
	f.mu.Lock()
	c, ok := f.conns[rev]
	if ok {
		delete(f.conns, rev)
	} else {
		c = &conn{reqs: make(chan *http.Request, maxPending)}
		f.conns[key] = c
	}
	f.mu.Unlock()
	s := tcpreader.NewReaderStream()
	f.wg.Add(1)
	go f.read(&s, c, key)
	return &s
}

// read consumes one direction: it tells requests from responses by the
// first bytes, parses them, and always drains the stream to the end.
func (f *factory) read(s *tcpreader.ReaderStream, c *conn, key connKey) {
	defer f.wg.Done()
	br := bufio.NewReader(s)
	if first, err := br.Peek(5); err == nil {
		if string(first) == "HTTP/" {
			f.responses(br, c)
		} else {
			requests(br, c)
		}
	}
	io.Copy(io.Discard, br)
	f.mu.Lock()
	if f.conns[key] == c {
		delete(f.conns, key) // the other direction never showed up
	}
	f.mu.Unlock()
}

// requests parses requests, reads their bodies, and queues them for the
// response reader. It returns on the first error.
func requests(br *bufio.Reader, c *conn) {
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, err = io.Copy(io.Discard, req.Body)
		req.Body.Close()
		if err != nil {
			return
		}
		select {
		case c.reqs <- req:
		default: // too many unanswered requests: drop rather than stall
		}
	}
}

// responses parses responses, reads their bodies, and counts one
// transaction per response that answers a queued request. It returns on
// the first error.
//
// tcpreader hands the server's bytes over only after the client reader
// has consumed everything before them in the capture, so a request is
// already queued when its response starts; a response with nothing queued
// (its request was lost) is parsed and not counted.
func (f *factory) responses(br *bufio.Reader, c *conn) {
	var req *http.Request // kept across 1xx interim responses
	for {
		if _, err := br.Peek(1); err != nil {
			return
		}
		if req == nil {
			select {
			case req = <-c.reqs:
			default:
			}
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue // interim: the final response follows
		}
		if req != nil {
			f.tx.Add(1)
		}
		req = nil
	}
}
