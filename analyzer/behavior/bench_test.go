package behavior

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// BenchmarkAnalyze runs the whole behaviour analyzer.
//
// mixed: ordinary traffic (200 users behind NAT, a partner, a crawler)
// with the abuse scenarios mixed in.
//
// api: the shape of the sensor's throughput benchmark (make bench,
// small transactions): authenticated GETs of 64 users with a JWT each,
// over 64 keep-alive connections that take turns, so that a user's
// requests come from many client addresses.
func BenchmarkAnalyze(b *testing.B) {
	b.Run("mixed", func(b *testing.B) {
		reqs := background(rand.New(rand.NewPCG(3, 4)))
		for _, s := range scenarios() {
			reqs = append(reqs, s.reqs...)
		}
		_, _ = run(b, NewConfig(), reqs) // sorts by time
		txs := make([]*reassembly.Transaction, len(reqs))
		for i, r := range reqs {
			txs[i] = r.tx()
		}
		benchAnalyze(b, txs, 0)
	})
	b.Run("api", func(b *testing.B) {
		txs, span := apiTraffic(8192)
		benchAnalyze(b, txs, span)
	})
}

// benchAnalyze feeds txs round and round; when span is not 0 each round
// is moved span later in capture time (as a longer capture would be).
func benchAnalyze(b *testing.B, txs []*reassembly.Transaction, span time.Duration) {
	tr := NewTracker(NewConfig(), "b")
	w := tr.NewWorker()
	var c collector
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(txs)
		if j == 0 && i > 0 && span != 0 {
			b.StopTimer()
			for _, tx := range txs {
				shift(tx, span)
			}
			b.StartTimer()
		}
		w.Analyze(txs[j], &c)
		if len(c.dets) > 1024 {
			c.dets = c.dets[:0]
		}
	}
}

func shift(tx *reassembly.Transaction, d time.Duration) {
	tx.Request.Start, tx.Request.End = tx.Request.Start.Add(d), tx.Request.End.Add(d)
	tx.Response.Start, tx.Response.End = tx.Response.Start.Add(d), tx.Response.End.Add(d)
}

// apiTraffic builds n transactions like those of the throughput
// benchmark's capture: 64 request shapes (a user each, with a JWT, a
// User-Agent of five and a ~1 KB JSON answer without owner fields) picked
// at random, over 64 connections that take turns; it returns them with
// the capture time they span.
func apiTraffic(n int) ([]*reassembly.Transaction, time.Duration) {
	r := rand.New(rand.NewPCG(42, 1))
	agents := []string{chrome, "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"okhttp/4.12.0", "python-requests/2.32.3", "ShopApp/5.2 (iOS 18.1)"}
	type shape struct {
		target  string
		headers []http1.Header
		body    []byte
	}
	shapes := make([]shape, 64)
	for i := range shapes {
		sig := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("s", 30+r.IntN(10))))
		tok := strings.TrimSuffix(jwt(fmt.Sprint("bench", i)), "c2lnbmF0dXJl") + sig
		shapes[i].target = fmt.Sprintf("/v1/accounts/%d/transactions?page=%d&limit=50", 10000+i, i%7)
		shapes[i].headers = []http1.Header{{Name: "Host", Value: "api.bench.example"}, {Name: "User-Agent", Value: agents[r.IntN(len(agents))]},
			{Name: "Accept", Value: "application/json"}, {Name: "Authorization", Value: "Bearer " + tok}, {Name: "X-Request-Id", Value: fmt.Sprintf("%016x", r.Uint64())}}
		var body strings.Builder
		fmt.Fprintf(&body, `{"page":%d,"items":[`, i)
		for k := 0; body.Len() < 200+r.IntN(1100)-60; k++ {
			if k > 0 {
				body.WriteByte(',')
			}
			fmt.Fprintf(&body, `{"id":%d,"name":"Desk Lamp","price":%d.%02d,"stock":%d}`, i*1000+k, 5+r.IntN(500), r.IntN(100), r.IntN(1000))
		}
		body.WriteString(`],"next":null}`)
		shapes[i].body = []byte(body.String())
	}
	var clients [64]netip.AddrPort
	left := make([]int, 64)
	conns := 0
	open := func(i int) {
		conns++
		clients[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(conns >> 8), byte(conns)}), uint16(20000+conns%40000))
		left[i] = 50 + r.IntN(200)
	}
	for i := range clients {
		open(i)
	}
	const step = 20 * time.Microsecond
	at := t0
	txs := make([]*reassembly.Transaction, n)
	for k := range txs {
		i := k % 64
		s := &shapes[r.IntN(len(shapes))]
		p, q, _ := strings.Cut(s.target, "?")
		tx := &reassembly.Transaction{Flow: reassembly.Flow{Client: clients[i], Server: netip.MustParseAddrPort("10.9.0.1:80")}}
		tx.Request = &http1.Request{Method: "GET", Target: s.target, Path: p, Query: q, Host: "api.bench.example", Proto: "HTTP/1.1", Headers: s.headers, Start: at, End: at}
		tx.Response = &http1.Response{Status: 200, Proto: "HTTP/1.1", Body: http1.Body{Data: s.body, WireBytes: int64(len(s.body))}, Start: at.Add(step / 2), End: at.Add(step / 2)}
		txs[k] = tx
		at = at.Add(step)
		if left[i]--; left[i] == 0 {
			open(i)
		}
	}
	return txs, at.Sub(t0)
}
