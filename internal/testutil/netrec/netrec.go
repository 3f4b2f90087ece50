// Package netrec records what real clients and servers send each other
// over loopback, in-process, and turns it into capture packets (package
// pcapgen): a client's connections are wrapped, every Write is the
// client's bytes and every Read the server's, in the order they happened.
// Tests use it to capture real protocol implementations (WebSocket and
// GraphQL servers and clients) without root or a network namespace.
//
// Concurrency: a Recorder may be used by many connections at once; call
// Packets once they are all closed.
package netrec

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
)

// event is one chunk of bytes that crossed a connection.
type event struct {
	conn       int
	fromClient bool
	data       []byte
	close      bool
	mark       bool
}

// Recorder collects the traffic of wrapped connections.
type Recorder struct {
	mu     sync.Mutex
	events []event
	conns  int
	// Marks are, after Packets, the index of the first packet after each
	// Mark call.
	Marks []int
}

// Mark notes the current point of the recording (see Marks).
func (r *Recorder) Mark() { r.add(event{mark: true}) }

// Dial dials addr and wraps the connection (for http.Transport.DialContext
// and WebSocket dialers).
func (r *Recorder) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return r.Wrap(c), nil
}

// Wrap records c, a client's connection.
func (r *Recorder) Wrap(c net.Conn) net.Conn {
	r.mu.Lock()
	id := r.conns
	r.conns++
	r.mu.Unlock()
	return &conn{Conn: c, r: r, id: id}
}

func (r *Recorder) add(e event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

type conn struct {
	net.Conn
	r      *Recorder
	id     int
	closed sync.Once
}

func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.r.add(event{conn: c.id, data: append([]byte(nil), b[:n]...)})
	}
	return n, err
}

// Write records b before sending it: the answer it causes can only be
// read, and recorded, after it (a loopback write completes whole).
func (c *conn) Write(b []byte) (int, error) {
	if len(b) > 0 {
		c.r.add(event{conn: c.id, fromClient: true, data: append([]byte(nil), b...)})
	}
	return c.Conn.Write(b)
}

func (c *conn) Close() error {
	c.closed.Do(func() { c.r.add(event{conn: c.id, close: true}) })
	return c.Conn.Close()
}

// Packets returns the recorded connections as capture packets, from
// client addresses cli (port 40000 + connection number) to srv, starting at
// start, one step of 100 µs between chunks. A connection's handshake comes
// with its first chunk and its FIN exchange with its Close (or at the end).
func (r *Recorder) Packets(cli netip.Addr, srv netip.AddrPort, start time.Time) []pcapgen.Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	conns := map[int]*pcapgen.Conn{}
	done := map[int]bool{}
	ts := start
	var out []pcapgen.Packet
	get := func(id int) *pcapgen.Conn {
		c := conns[id]
		if c == nil {
			c = pcapgen.NewConn(netip.AddrPortFrom(cli, uint16(40000+id)), srv, ts)
			conns[id] = c
			out = append(out, c.Handshake()...)
		}
		c.TS = ts
		return c
	}
	r.Marks = r.Marks[:0]
	for _, e := range r.events {
		if e.mark {
			r.Marks = append(r.Marks, len(out))
			continue
		}
		ts = ts.Add(100 * time.Microsecond)
		if done[e.conn] {
			continue
		}
		c := get(e.conn)
		if e.close {
			out = append(out, c.Close()...)
			done[e.conn] = true
		} else {
			out = append(out, c.Send(e.fromClient, e.data)...)
		}
		ts = c.TS
	}
	for id := 0; id < r.conns; id++ {
		if c := conns[id]; c != nil && !done[id] {
			ts = ts.Add(100 * time.Microsecond)
			c.TS = ts
			out = append(out, c.Close()...)
			ts = c.TS
		}
	}
	return out
}
