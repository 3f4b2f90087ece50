package sensitive

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apitap/apitap/internal/testgen/txtest"
)

// jsonBody is a typical API response: a page of customer records, some
// fields personal, most not.
func jsonBody(records int) []byte {
	g := newGen(9)
	var b strings.Builder
	b.WriteString(`{"data":[`)
	for i := 0; i < records; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"uuid":"5f0c9a1e-3b2d-4c8e-9f1a-%012d","name":"Customer %d","email":%q,"phone":%q,`+
			`"created_at":"2026-03-01T10:00:00Z","status":"active","plan":"business","tags":["beta","eu-west-1"],`+
			`"address":{"street":"%d Main Street","city":"Springfield","zip":"%05d","country":"US"},`+
			`"orders":%d,"balance":%d.%02d,"notes":"Prefers e-mail contact, renewal due next quarter."}`,
			i, i, i, g.email(), g.phone(), i, i%100000, i%50, i*7, i%100)
	}
	b.WriteString(`],"page":1,"has_more":true}`)
	return []byte(b.String())
}

// BenchmarkScanJSON is the scanning cost on JSON bodies (target: at
// least 300 MB/s per core).
func BenchmarkScanJSON(b *testing.B) {
	body := jsonBody(200)
	var s Scanner
	n := 0
	fn := func(*Finding) { n++ }
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.JSON(body, fn)
	}
}

// BenchmarkScanText is the cost on prose (HTML, text, logs).
func BenchmarkScanText(b *testing.B) {
	body := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog; order 12345 shipped on 2026-03-01 to Springfield. ", 500))
	var s Scanner
	fn := func(*Finding) {}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.Text(body, fn)
	}
}

// BenchmarkNaiveRegex is the naive baseline: one regular expression pass
// per type over the same JSON body.
func BenchmarkNaiveRegex(b *testing.B) {
	body := jsonBody(200)
	res := naiveRegexps()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, re := range res {
			re.FindAllIndex(body, -1)
		}
	}
}

// BenchmarkAnalyzeSmallGET is the cost of the most common API call: a GET
// with a bearer token from one of 50 users and a short JSON page (the
// shape of apitap-bench's small capture).
func BenchmarkAnalyzeSmallGET(b *testing.B) {
	a, _ := New(NewConfig())
	txs := txtest.SmallGETs(500)
	var col collector
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		a.Analyze(txs[i%len(txs)], &col)
		col.Detections = col.Detections[:0]
	}
}
