package sensor

import (
	"github.com/apitap/apitap/analyzer/observation"
)

// Publisher is implemented by the shared state of an analyzer whose
// observations can feed `apitap correlate` (the behaviour analyzer's
// Tracker): fn receives the observation of each transaction the analyzer
// sees, on stage two's goroutine, with the sensor's part (Sensor, the
// order key, ID, FlagConfirmed) left for fn to fill; local says whether
// the analyzer still runs its own cross-flow detectors.
type Publisher interface {
	PublishObservations(fn func(r *observation.Record), local bool)
}

// publishObservations connects the publishers among the shared analyzer
// states to the exporters (sensor.observations, sensor.correlation).
func (p *Pipeline) publishObservations() {
	if !p.cfg.Sensor.Publishes() {
		return
	}
	local := p.cfg.Sensor.Correlation != "central"
	var buf []byte
	for _, sh := range p.shared {
		pub, ok := sh.(Publisher)
		if !ok {
			continue
		}
		pub.PublishObservations(func(r *observation.Record) {
			s := p.s2
			r.Sensor = p.cfg.Sensor.ID
			r.Pos, r.Flow, r.Seq = s.last.at, s.last.flow, s.last.seq
			r.ID = observation.MakeID(r.Sensor, r.Pos, r.Flow, r.Seq)
			if s.cur != nil && s.cur.Flow.Confirmed {
				r.Flags |= observation.FlagConfirmed
			}
			if p.Export == nil {
				return
			}
			p.observations.Add(1)
			buf = observation.Append(buf[:0], r)
			p.Export("observation", r.Key(), buf)
		}, local)
	}
}
