package behavior

import (
	"github.com/apitap/apitap/reassembly"
	"math/rand/v2"
	"testing"
)

// BenchmarkAnalyze runs the whole behaviour analyzer over ordinary
// traffic (200 users behind NAT, a partner, a crawler) with the abuse
// scenarios mixed in.
func BenchmarkAnalyze(b *testing.B) {
	reqs := background(rand.New(rand.NewPCG(3, 4)))
	for _, s := range scenarios() {
		reqs = append(reqs, s.reqs...)
	}
	_, _ = run(b, NewConfig(), reqs) // sorts by time
	txs := make([]*txBox, len(reqs))
	for i, r := range reqs {
		txs[i] = &txBox{r.tx()}
	}
	tr := NewTracker(NewConfig(), "b")
	w := tr.NewWorker()
	var c collector
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Analyze(txs[i%len(txs)].tx, &c)
		if len(c.dets) > 1024 {
			c.dets = c.dets[:0]
		}
	}
}

type txBox struct{ tx *reassembly.Transaction }
