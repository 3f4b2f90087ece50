package http2

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apitap/apitap/reassembly/grpc"
	"github.com/apitap/apitap/reassembly/http1"
)

// benchStream builds n exchanges on one connection, the messages of
// reassembly/http1's benchConn in HTTP/2 (same headers, same bodies),
// encoded by x/net's framer and HPACK encoder as Go's client and server
// write them, cut into 1448-byte segments per message.
func benchStream(n, bodySize int) (parts []part, total int) {
	cli, srv := newPeer(true), newPeer(false)
	add := func(fromClient bool, b []byte) {
		total += len(b)
		for len(b) > 0 {
			k := min(len(b), 1448)
			parts = append(parts, part{fromClient, b[:k]})
			b = b[k:]
		}
	}
	add(true, cli.take())
	add(false, srv.take())
	body := []byte(`{"id":12345,"name":"` + strings.Repeat("x", max(0, bodySize-30)) + `","ok":true}`)
	for i := 0; i < n; i++ {
		id := uint32(2*i + 1)
		cli.headers(id, true, ":method", "GET", ":scheme", "http", ":authority", "api.shop.example", ":path", fmt.Sprintf("/v1/users/%d/orders?page=2", i),
			"user-agent", "bench/1.0", "accept", "application/json", "authorization", "Bearer abc.def.ghi", "x-request-id", "0123456789abcdef")
		add(true, cli.take())
		srv.headers(id, false, ":status", "200", "content-type", "application/json", "date", "Thu, 15 Jan 2026 10:00:00 GMT", "server", "nginx",
			"content-length", fmt.Sprint(len(body)))
		srv.data(id, true, body)
		add(false, srv.take())
	}
	return parts, total
}

func benchConn(b *testing.B, bodySize int) {
	const n = 100
	parts, total := benchStream(n, bodySize)
	b.SetBytes(int64(total))
	b.ReportAllocs()
	lim := http1.Limits{}.WithDefaults()
	env := &Env{Limits: &lim, Stats: &Stats{}, GRPC: &grpc.Decoder{}}
	count := 0
	c := NewConn(env, func(*Exchange) { count++ })
	for i := 0; i < b.N; i++ {
		c.Reset(env, func(*Exchange) { count++ })
		c.Start(StartPreface, http1.DirA, true, http1.DirA)
		for _, p := range parts {
			d := http1.DirA
			if !p.fromClient {
				d = http1.DirB
			}
			c.Data(d, p.b, t0, t0)
		}
		c.Close(t0)
	}
	b.ReportMetric(float64(count)/b.Elapsed().Seconds(), "exchanges/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(count), "ns/exchange")
	if count != n*b.N {
		b.Fatalf("count %d want %d", count, n*b.N)
	}
}

// BenchmarkConnSmall is http1.BenchmarkConnSmall's traffic over HTTP/2:
// compare their ns/exchange.
func BenchmarkConnSmall(b *testing.B) { benchConn(b, 1000) }
func BenchmarkConnLarge(b *testing.B) { benchConn(b, 64<<10) }

// BenchmarkConnMidStream parses the same traffic joined after its first
// ten exchanges (late-join HPACK, a frame hunt).
func BenchmarkConnMidStream(b *testing.B) {
	parts, _ := benchStream(110, 1000)
	parts = parts[23:]
	b.ReportAllocs()
	lim := http1.Limits{}.WithDefaults()
	env := &Env{Limits: &lim, Stats: &Stats{}, GRPC: &grpc.Decoder{}}
	count := 0
	c := NewConn(env, nil)
	for i := 0; i < b.N; i++ {
		c.Reset(env, func(*Exchange) { count++ })
		c.Start(StartMidStream, http1.DirA, false, http1.DirA)
		for _, p := range parts {
			d := http1.DirA
			if !p.fromClient {
				d = http1.DirB
			}
			c.Data(d, p.b, t0, t0)
		}
		c.Close(t0)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(count, 1)), "ns/exchange")
}

// BenchmarkDecoderBlock decodes a typical request header block.
func BenchmarkDecoderBlock(b *testing.B) {
	blocks, _ := encodedBlocks(3, 200, false)
	var d decoder
	var sc appender
	var out []Field
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if i%len(blocks) == 0 {
			d.reset(false)
		}
		out, _ = d.block(blocks[i%len(blocks)], out, &sc, 0)
	}
}
