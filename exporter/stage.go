package exporter

import (
	"bytes"
	"context"
	"slices"
	"sync/atomic"

	"github.com/apitap/apitap/exporter/ocsf"
)

// Metric is one of a sink's own measurements (reconnections, retries,
// rotations, spooled records). The admin server exports it as a Prometheus
// metric with the sink's name in a `sink` label; Name carries the apitap_
// prefix and the unit suffix.
type Metric struct {
	Name   string
	Help   string
	Gauge  bool     // a gauge; otherwise a counter
	Labels []string // label names beyond sink
	Values []string // their values, in order
	Value  float64
}

// Metered is implemented by sinks with metrics of their own.
type Metered interface {
	Metrics() []Metric
}

// Wrapper is implemented by sinks that wrap another (the spool, the
// registry's stage).
type Wrapper interface {
	Unwrap() Sink
}

// As finds, along the chain of wrapped sinks, the first one of type T.
func As[T any](s Sink) (T, bool) {
	for s != nil {
		if t, ok := s.(T); ok {
			return t, true
		}
		w, ok := s.(Wrapper)
		if !ok {
			break
		}
		s = w.Unwrap()
	}
	var zero T
	return zero, false
}

// Acceptor is implemented by sinks that take only some records: FanOut.Add
// queues a record for such a sink only when Accept says so.
type Acceptor interface {
	Accept(r *Record) bool
}

// Queued is implemented by sinks that want a queue length of their own.
type Queued interface {
	QueueLen() int
}

// stage is what the registry puts in front of every sink: it keeps the
// records of the section's types and severities (at Add, before they are
// queued) and converts values to the section's format (on the sink's
// goroutine).
type stage struct {
	inner      Sink
	types      [len(EventTypes)]bool
	minSev     int // index in severities; 0 lets everything through
	ocsf       bool
	tombstones bool
	streams    [len(StreamTypes)]bool
	conv       *ocsf.Converter
	buf        []Record
	convErrors atomic.Uint64
}

func newStage(s Sink, d Descriptor, o Output, env Env) *stage {
	st := &stage{inner: s, ocsf: o.Format == FormatOCSF, tombstones: d.Tombstones}
	for _, t := range o.Types {
		st.types[slices.Index(EventTypes[:], t)] = true
	}
	for _, t := range d.Streams {
		if i := slices.Index(StreamTypes[:], t); i >= 0 && !st.ocsf {
			st.streams[i] = true
		}
	}
	if o.MinSeverity != "" {
		st.minSev = slices.Index(severities, o.MinSeverity)
	}
	if st.ocsf {
		st.conv = &ocsf.Converter{Version: env.Version}
	}
	return st
}

func (s *stage) Name() string  { return s.inner.Name() }
func (s *stage) Close() error  { return s.inner.Close() }
func (s *stage) Unwrap() Sink  { return s.inner }
func (s *stage) QueueLen() int { q, _ := As[Queued](s.inner); return queueLen(q) }

func queueLen(q Queued) int {
	if q == nil {
		return 0
	}
	return q.QueueLen()
}

var sevKey = []byte(`"severity":"`)

// Accept implements Acceptor.
func (s *stage) Accept(r *Record) bool {
	i := slices.Index(EventTypes[:], r.Type)
	if i < 0 {
		j := slices.Index(StreamTypes[:], r.Type)
		return j >= 0 && s.streams[j] && len(r.Value) > 0
	}
	if !s.types[i] {
		return false
	}
	if len(r.Value) == 0 {
		return s.tombstones
	}
	if s.minSev > 0 && r.Type == "detection" {
		j := bytes.Index(r.Value, sevKey)
		if j < 0 {
			return true
		}
		v := r.Value[j+len(sevKey):]
		if k := bytes.IndexByte(v, '"'); k > 0 {
			if sev := slices.Index(severities, string(v[:k])); sev >= 0 && sev < s.minSev {
				return false
			}
		}
	}
	return true
}

// Send implements Sink: it converts the batch and hands it on.
func (s *stage) Send(ctx context.Context, recs []Record) error {
	if !s.ocsf {
		return s.inner.Send(ctx, recs)
	}
	s.buf = s.buf[:0]
	for _, r := range recs {
		v, err := s.conv.Convert(r.Type, r.Value)
		if err != nil {
			s.convErrors.Add(1)
			continue
		}
		s.buf = append(s.buf, Record{Type: r.Type, Key: r.Key, Value: v})
	}
	if len(s.buf) == 0 {
		return nil
	}
	return s.inner.Send(ctx, s.buf)
}

// Metrics implements Metered: the conversion failures and the sink's own.
func (s *stage) Metrics() []Metric {
	var out []Metric
	if s.ocsf {
		out = append(out, Metric{Name: "apitap_sink_convert_errors_total", Help: "Events a sink could not convert to its format (malformed input), left out.", Value: float64(s.convErrors.Load())})
	}
	if m, ok := As[Metered](s.inner); ok {
		out = append(out, m.Metrics()...)
	}
	return out
}
