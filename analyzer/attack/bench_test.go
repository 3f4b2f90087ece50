package attack

import (
	"testing"

	"github.com/apitap/apitap/internal/testgen/txtest"
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
	if len(c.dets) > 0 {
		b.Fatalf("benign traffic detected: %+v", c.dets[0])
	}
}
