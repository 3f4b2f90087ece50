package admin

import (
	"sync"
	"time"

	"github.com/apitap/apitap/analyzer/behavior"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/sensor/report"
)

// liveReportEvery is how long (wall clock) /report serves one snapshot:
// every page of it, however often it is asked for, costs one look at the
// catalog per interval.
const liveReportEvery = 10 * time.Second

// liveReport caches the live report's snapshot.
type liveReport struct {
	mu   sync.Mutex
	snap *report.Snapshot
	at   time.Time
}

// reportSnapshot returns the snapshot /report renders its pages from,
// rebuilt when it is older than liveReportEvery.
func (s *Server) reportSnapshot() *report.Snapshot {
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	if s.live.snap != nil && time.Since(s.live.at) < liveReportEvery {
		return s.live.snap
	}
	st := s.p.Stats()
	in := &report.Input{Title: "apitap live report", Sensor: s.sensor, Live: true, Transactions: st.Transactions, Until: st.Time,
		Detections: s.p.Detections, Specs: contains(s.p.Analyzers, "conformance"), Sources: s.sources}
	if cat, ok := s.p.Shared(discovery.Name).(*discovery.Catalog); ok {
		in.Catalog = cat.View()
	}
	if t, ok := s.p.Shared(behavior.Name).(*behavior.Tracker); ok {
		in.Actors = t.Top(20, st.Time)
	}
	s.live.snap, s.live.at = report.NewSnapshot(in), time.Now()
	return s.live.snap
}
