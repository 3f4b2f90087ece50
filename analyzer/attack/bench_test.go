package attack

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testgen/txtest"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// BenchmarkAnalyzeSmall is the cost per transaction of the sensor's
// small-transaction throughput benchmark.
func BenchmarkAnalyzeSmall(b *testing.B) {
	w := newWorker(newTestState(b))
	txs := txtest.SmallGETs(8192) // more request ids than the clean header cache holds
	var c collector
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Analyze(txs[i&8191], &c)
	}
	if len(c.Detections) > 0 {
		b.Fatalf("benign traffic detected: %+v", c.Detections[0])
	}
}

// corpusTxs parses the first n requests of the benign corpus into
// transactions of their own (copies: the parser's buffers are reused),
// keeping those keep says to.
func corpusTxs(n int, keep func(req *http1.Request) bool) []*reassembly.Transaction {
	g := newBenignGen(1)
	var lim http1.Limits
	var st http1.Stats
	var out []*reassembly.Transaction
	conn := http1.NewConn(&lim, &st, nil)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; len(out) < n && i < 50*n; i++ {
		conn.Reset(&lim, &st, func(ex *http1.Exchange) {
			if ex.Request == nil || !keep(ex.Request) {
				return
			}
			req := *ex.Request
			req.Headers = slices.Clone(req.Headers)
			req.Body.Data = slices.Clone(req.Body.Bytes())
			req.Start = at.Add(time.Duration(len(out)) * time.Millisecond)
			f := benignFlow
			f.ID = fmt.Sprint("c", i)
			out = append(out, &reassembly.Transaction{Flow: f, Exchange: http1.Exchange{Request: &req, Response: &http1.Response{Status: 200}}})
		})
		conn.SetClient(http1.DirA)
		conn.Data(http1.DirA, g.next(), at, at)
		conn.Data(http1.DirB, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), at, at)
	}
	return out
}

// benignFlow is the connection the corpus transactions come over.
var benignFlow = reassembly.Flow{Client: netip.MustParseAddrPort("198.51.100.7:40000"), Server: netip.MustParseAddrPort("10.0.0.1:80")}

// BenchmarkAnalyzeJSON is the fast engine's cost per API call with a
// JSON body (POST, PUT and PATCH of the benign corpus: users, products
// with HTML, support tickets with code, orders, webhooks, GraphQL).
func BenchmarkAnalyzeJSON(b *testing.B) {
	w := newWorker(newTestState(b))
	txs := corpusTxs(1024, func(r *http1.Request) bool {
		return len(r.Body.Bytes()) > 0 && strings.Contains(http1.Get(r.Headers, http1.IDContentType), "json")
	})
	var c collector
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Analyze(txs[i%len(txs)], &c)
	}
}

// BenchmarkAnalyzeMix is the fast engine's cost per request of the
// benign corpus as it comes: GETs with queries, JSON, forms, multipart
// uploads, XML.
func BenchmarkAnalyzeMix(b *testing.B) {
	w := newWorker(newTestState(b))
	txs := corpusTxs(2048, func(*http1.Request) bool { return true })
	var c collector
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Analyze(txs[i%len(txs)], &c)
	}
}
