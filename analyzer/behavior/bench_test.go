package behavior

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/internal/testgen/actorgen"
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
//
// actors: half an hour of the scenario generator's traffic (benign heavy
// users and every abuse scenario), with the verdicts of the sensitive and
// attack analyzers set as stage one sets them.
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
	b.Run("actors", func(b *testing.B) {
		tr := actorgen.Generate(1, actorgen.Options{Span: 30 * time.Minute, Scale: 0.5})
		var enabled []analyzer.Enabled
		for _, d := range analyzer.Registered() {
			if d.Name == "sensitive" || d.Name == "attack" {
				enabled = append(enabled, analyzer.Enabled{Desc: d, Config: d.NewConfig()})
			}
		}
		env := analyzer.Env{Log: zerolog.Nop(), Sensor: "b"}
		shared, err := analyzer.NewShared(enabled, env)
		if err != nil {
			b.Fatal(err)
		}
		stage1, err := analyzer.NewChain(enabled, shared, env)
		if err != nil {
			b.Fatal(err)
		}
		var c collector
		states := map[uint64]*reassembly.FlowState{}
		txs := make([]*reassembly.Transaction, len(tr.Exchanges))
		for i := range tr.Exchanges {
			e := &tr.Exchanges[i]
			tx := e.Transaction()
			if states[e.Conn] == nil {
				states[e.Conn] = &reassembly.FlowState{}
			}
			tx.Flow.State = states[e.Conn]
			stage1.Analyze(tx, &c)
			tx.Flow.State = nil // stage two's copy has none
			txs[i] = tx
		}
		benchAnalyze(b, txs, tr.Span)
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
		abuse := txs[j].Notes.Abuse
		w.Analyze(txs[j], &c)
		txs[j].Notes.Abuse = abuse // the next round sees the transaction as stage one left it
		if len(c.Detections) > 1024 {
			c.Detections = c.Detections[:0]
		}
	}
}

func shift(tx *reassembly.Transaction, d time.Duration) {
	tx.Request.Start, tx.Request.End = tx.Request.Start.Add(d), tx.Request.End.Add(d)
	tx.Response.Start, tx.Response.End = tx.Response.Start.Add(d), tx.Response.End.Add(d)
}
