package attack

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// smallAPITxs are shaped like the sensor's throughput benchmark traffic:
// a GET with a bearer token, ?page=N&limit=50, a ~1 KB JSON answer, and a
// request id that never repeats. There are more of them than the clean
// header cache holds, so the ids miss it as they do on the wire.
func smallAPITxs(n int) []*reassembly.Transaction {
	agents := []string{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
		"python-requests/2.32.3",
		"ShopApp/5.2 (iOS 18.1)",
	}
	var body strings.Builder
	body.WriteString(`{"page":45,"items":[`)
	for i := 0; i < 12; i++ {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"id":%d,"name":"desk lamp","price":%d.49,"stock":%d}`, 45000+i, 100+i, 7*i)
	}
	body.WriteString(`],"next":null}`)
	txs := make([]*reassembly.Transaction, n)
	for i := range txs {
		acct := 10000 + i%50
		tx := mk("GET", fmt.Sprintf("/v1/accounts/%d/transactions", acct), fmt.Sprintf("page=%d&limit=50", 1+i%7), []http1.Header{
			{Name: "Host", Value: "api.bench.example"},
			{Name: "User-Agent", Value: agents[i%len(agents)]},
			{Name: "Accept", Value: "application/json"},
			{Name: "Authorization", Value: fmt.Sprintf("Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJiZW5jaDQ1IiwiaWF0IjoxNzY4NDcxMjAwLCJzY29wZSI6InNob3AifQ.Sg%dSgSgSgSgSgSgSgSgSgSgSgSgSg", acct)},
			{Name: "X-Request-Id", Value: fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15)},
		}, "", "")
		tx.Response.Headers = []http1.Header{{Name: "Content-Type", Value: "application/json"}}
		tx.Response.Body.Data = []byte(body.String())
		txs[i] = tx
	}
	return txs
}

// BenchmarkAnalyzeSmall is the cost per transaction of the sensor's
// small-transaction throughput benchmark.
func BenchmarkAnalyzeSmall(b *testing.B) {
	w := newWorker(newTestState(b))
	txs := smallAPITxs(8192)
	var c collector
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Analyze(txs[i&8191], &c)
	}
	if len(c.dets) > 0 {
		b.Fatalf("benign traffic detected: %+v", c.dets[0])
	}
}
