package pcapgen

import (
	"fmt"
	"io"
	"net/netip"
	"time"
)

// BenchResult describes a generated benchmark capture.
type BenchResult struct {
	Bytes        int64 `json:"bytes"`
	Packets      int   `json:"packets"`
	Connections  int   `json:"connections"`
	Transactions int   `json:"transactions"`
}

// benchConn is a keep-alive connection of the benchmark capture.
type benchConn struct {
	c    Conn
	left int // exchanges before it closes
}

// Bench writes at least size bytes of keep-alive API traffic to w: 64
// concurrent connections taking turns, 1448-byte segments, JSON response
// bodies of 1-64 KB (small: every transaction under 2 KB). It is fast
// (frames are built in a reused buffer) and deterministic.
func Bench(w io.Writer, size int64, small bool) (BenchResult, error) {
	var res BenchResult
	pw, err := NewWriter(w, Ethernet)
	if err != nil {
		return res, err
	}
	a := NewAPI(42)
	r := a.R
	// Pools of requests and responses, built once.
	var reqs, resps [][]byte
	for i := 0; i < 64; i++ {
		reqs = append(reqs, a.Request("GET", "api.bench.example", fmt.Sprintf("/v1/accounts/%d/transactions?page=%d&limit=50", 10000+i, i%7),
			[]string{"Authorization: Bearer " + a.JWT(fmt.Sprint("bench", i)), fmt.Sprintf("X-Request-Id: %016x", r.Uint64())}, ""))
		var body string
		if small {
			body = a.Products(i, 200+r.IntN(1100))
		} else {
			// 1-64 KB, skewed towards smaller bodies
			kb := 1 + int(63*r.Float64()*r.Float64())
			body = a.Products(i, kb<<10)
		}
		resps = append(resps, Response(200, body, "", "Cache-Control: no-store"))
	}
	enc := &Encap{}
	var frame []byte
	ts := Base
	write := func(p *Packet) error {
		frame = enc.AppendFrame(frame[:0], &p.Seg)
		return pw.Write(p.TS, frame)
	}
	conns := make([]*benchConn, 64)
	open := func(i int) error {
		res.Connections++
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(res.Connections >> 8), byte(res.Connections)}), uint16(20000+res.Connections%40000))
		bc := &benchConn{c: *NewConn(cli, netip.MustParseAddrPort("10.9.0.1:80"), ts), left: 50 + r.IntN(200)}
		bc.c.Step = time.Microsecond
		conns[i] = bc
		for _, p := range bc.c.Handshake() {
			if err := write(&p); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range conns {
		if err := open(i); err != nil {
			return res, err
		}
	}
	// segments are written straight from the pools: no per-packet allocation
	send := func(c *Conn, fromClient bool, data []byte) error {
		for len(data) > 0 {
			n := min(c.MSS, len(data))
			p := c.seg(fromClient, PSH|ACK, data[:n])
			if err := write(&p); err != nil {
				return err
			}
			if fromClient {
				c.cseq += uint32(n)
			} else {
				c.sseq += uint32(n)
			}
			data = data[n:]
		}
		p := c.seg(!fromClient, ACK, nil)
		return write(&p)
	}
	for i := 0; pw.Bytes < size; i = (i + 1) % len(conns) {
		bc := conns[i]
		bc.c.TS = ts
		k := r.IntN(len(reqs))
		if err := send(&bc.c, true, reqs[k]); err != nil {
			return res, err
		}
		if err := send(&bc.c, false, resps[k]); err != nil {
			return res, err
		}
		ts = bc.c.TS
		res.Transactions++
		if bc.left--; bc.left == 0 {
			for _, p := range bc.c.Close() {
				if err := write(&p); err != nil {
					return res, err
				}
			}
			if err := open(i); err != nil {
				return res, err
			}
		}
	}
	for _, bc := range conns {
		bc.c.TS = ts
		for _, p := range bc.c.Close() {
			if err := write(&p); err != nil {
				return res, err
			}
		}
	}
	if err := pw.Flush(); err != nil {
		return res, err
	}
	res.Bytes, res.Packets = pw.Bytes, pw.Packets
	return res, nil
}
