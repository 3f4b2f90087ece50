package correlate

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/apitap/apitap/analyzer/behavior"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/observation"
)

// BenchmarkEngine is a partition's work without Kafka: decoding, the
// table value's update (the actor's marks, written in batches), the
// reorder buffer and the behaviour detectors. tools/apitap-correlate-bench
// measures the whole group on a broker.
func BenchmarkEngine(b *testing.B) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	const n = 1 << 16
	wire := make([][]byte, n)
	for i := range wire {
		u := i % 5000
		r := observation.Record{At: t0.Add(time.Duration(i) * time.Millisecond).UnixNano(), Sensor: fmt.Sprintf("node-%d", i%3), Pos: uint64(i),
			Client: netip.AddrFrom4([4]byte{10, byte(u >> 8), byte(u), 7}), User: fmt.Sprintf("user-%d", u), Print: 42, Crawler: -1,
			Host: "api.example.com", Method: "GET", Path: "/api/v1/products", Endpoint: 1, Status: 200, RespBytes: 900, Flags: observation.FlagConfirmed}
		r.ID = observation.MakeID(r.Sensor, r.Pos, 0, 0)
		wire[i] = observation.Append(nil, &r)
	}
	for _, mode := range []string{"detectors", "detectors+table"} {
		b.Run(mode, func(b *testing.B) {
			c := &Correlator{cfg: Config{Idle: time.Second, Span: 15 * time.Minute, MaxHeld: 100000}, seen: map[string]struct{}{}}
			c.cfg.Out = func(*event.Detection) {}
			d, err := behavior.NewCentral(behavior.NewConfig(), "bench")
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			e := newEngine(c, d)
			e.started = now.Add(-time.Hour) // past the start-up grace
			table := map[string][]byte{}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				v := wire[i%n]
				i++
				r := recPool.Get().(*observation.Record)
				if err := observation.DecodeWith(v, r, &e.intern); err != nil {
					b.Fatal(err)
				}
				if mode == "detectors+table" { // as process: marks decoded once, written in batches
					k := r.Key()
					am := e.marks[k]
					if am == nil {
						m := &marks{}
						if old, ok := table[k]; ok {
							x, err := marksCodec{}.Decode(old)
							if err != nil {
								b.Fatal(err)
							}
							m = x.(*marks)
						}
						am = &actorMarks{m: m}
						e.marks[k] = am
					}
					am.m.seen(r, int64(i)) // the input wraps around: seen again, processed all the same
					am.unsaved++
					if am.m.set(r, int64(i)) || am.unsaved >= saveEvery {
						enc, _ := marksCodec{}.Encode(am.m)
						table[k] = enc
						am.unsaved = 0
					}
				}
				e.add(r, now)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "obs/s")
		})
	}
}
