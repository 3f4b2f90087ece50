//go:build unix

package attack

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// TestDeepBudget replays realistic traffic through one worker with the
// deep check at its defaults (flagged transactions, no sample) and
// several budgets: 2000 benign API calls per second of capture time for
// 20 seconds, with a scanner's burst of attacks (the CRS corpus's
// request tests) at 300 per second in seconds 5 to 10. It reports how
// many transactions were flagged, checked and skipped, and the CPU time
// the checks took. Set APITAP_DEEP_BUDGET to run it (it takes a while).
func TestDeepBudget(t *testing.T) {
	if os.Getenv("APITAP_DEEP_BUDGET") == "" {
		t.Skip("APITAP_DEEP_BUDGET not set")
	}
	benign := corpusTxs(4000, func(*http1.Request) bool { return true })
	var attacks []*reassembly.Transaction
	for _, c := range loadCRS(t) {
		if c.Phase != "request" || !c.ExpectMatch {
			continue
		}
		attacks = append(attacks, corpusOf(c.wire())...)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, budget := range []int{50, 100, 200, 400} {
		cfg := NewConfig()
		cfg.DeepCheck.MaxPerSecond = budget
		st, err := NewState(cfg, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		st.deep.live = true // the budget of live sources
		w := newWorker(st)
		var c collector
		flagged, crsOnly := 0, 0
		cpu0 := thrCPU()
		for sec := 0; sec < 20; sec++ {
			n, a := 2000, 0
			if sec >= 5 && sec < 10 {
				a = 300
			}
			for i := 0; i < n+a; i++ {
				var tx *reassembly.Transaction
				if i%((n+a)/max(a, 1)+1) == 0 && a > 0 {
					tx = attacks[(sec*300+i)%len(attacks)]
				} else {
					tx = benign[(sec*2000+i)%len(benign)]
				}
				tx.Request.Start = t0.Add(time.Duration(sec)*time.Second + time.Duration(i)*time.Second/time.Duration(n+a))
				c.Detections = c.Detections[:0]
				w.Analyze(tx, &c)
				if w.flagged() {
					flagged++
				}
				for _, d := range c.Detections {
					if len(d.Evidence) > 0 && len(d.Evidence[0].Rule) > 4 && d.Evidence[0].Rule[:4] == "crs:" {
						crsOnly++
					}
				}
			}
		}
		cpu := thrCPU() - cpu0
		checked, skipped := st.DeepStats()
		t.Logf("budget %d/s: %d flagged, %d checked, %d skipped, %d detections from CRS alone; %v CPU for 20 s of traffic (%.1f%% of a core)",
			budget, flagged, checked, skipped, crsOnly, cpu.Round(time.Millisecond), 100*cpu.Seconds()/20)
	}
}

// corpusOf parses one request on the wire into a transaction of its own.
func corpusOf(req []byte) []*reassembly.Transaction {
	var out []*reassembly.Transaction
	var lim http1.Limits
	var st http1.Stats
	conn := http1.NewConn(&lim, &st, func(ex *http1.Exchange) {
		if ex.Request == nil {
			return
		}
		r := *ex.Request
		r.Headers = append([]http1.Header(nil), r.Headers...)
		r.Body.Data = append([]byte(nil), r.Body.Bytes()...)
		out = append(out, &reassembly.Transaction{Flow: benignFlow, Exchange: http1.Exchange{Request: &r, Response: &http1.Response{Status: 200}}})
	})
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	conn.SetClient(http1.DirA)
	conn.Data(http1.DirA, req, at, at)
	conn.Data(http1.DirB, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), at, at)
	return out
}

// thrCPU is the CPU time the process has used.
func thrCPU() time.Duration {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}
