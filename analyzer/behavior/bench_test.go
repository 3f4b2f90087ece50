package behavior

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testgen/txtest"
	"github.com/apitap/apitap/reassembly"
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
		txs := txtest.SmallGETs(8192)
		benchAnalyze(b, txs, time.Duration(len(txs))*txtest.Step)
	})
}

// benchAnalyze feeds txs round and round; when span is not 0 each round
// is moved span later in capture time (as a longer capture would be).
func benchAnalyze(b *testing.B, txs []*reassembly.Transaction, span time.Duration) {
	tr := NewTracker(NewConfig(), "b")
	w := tr.NewAnalyzer()
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
