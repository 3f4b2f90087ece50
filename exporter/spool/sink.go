package spool

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/exporter"
)

// Sink puts a Spool in front of another sink: records the inner sink does
// not take are appended to disk, and while anything is on disk new records
// go behind it, so that order is kept. A goroutine retries the inner sink
// every RetryEvery and drains the spool, oldest first. A spool left by a
// previous run is drained before anything new.
type Sink struct {
	inner   exporter.Sink
	sp      *Spool
	log     zerolog.Logger
	batch   int
	mu      sync.Mutex
	retryAt time.Time
	stop    chan struct{}
	done    chan struct{}
}

// RetryEvery is how often the spool tries the inner sink again.
const RetryEvery = 500 * time.Millisecond

// NewSink wraps inner with sp.
func NewSink(inner exporter.Sink, sp *Spool, log zerolog.Logger) *Sink {
	s := &Sink{inner: inner, sp: sp, log: log, batch: 1000, stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

// Name implements exporter.Sink.
func (s *Sink) Name() string { return s.inner.Name() }

// Send implements exporter.Sink. It fails only when the disk does.
func (s *Sink) Send(ctx context.Context, recs []exporter.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sp.Len() == 0 && time.Now().After(s.retryAt) {
		if err := s.inner.Send(ctx, recs); err == nil {
			return nil
		} else {
			s.retryAt = time.Now().Add(RetryEvery)
			s.log.Warn().Err(err).Str("sink", s.inner.Name()).Msg("sink unavailable: spooling events to disk")
		}
	}
	if err := s.sp.Append(recs); err != nil {
		return err
	}
	return nil
}

func (s *Sink) loop() {
	defer close(s.done)
	t := time.NewTicker(RetryEvery)
	defer t.Stop()
	for {
		s.mu.Lock()
		if s.sp.Len() > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			s.drainLocked(ctx)
			cancel()
		}
		s.mu.Unlock()
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// drainLocked sends the spool's records, oldest first, until it is empty
// or the inner sink fails. It reports whether the spool is empty.
func (s *Sink) drainLocked(ctx context.Context) bool {
	for s.sp.Len() > 0 {
		recs, err := s.sp.Peek(s.batch)
		if err != nil {
			s.log.Error().Err(err).Msg("spool: read failed")
			return false
		}
		if len(recs) == 0 {
			s.sp.Commit()
			continue
		}
		if err := s.inner.Send(ctx, recs); err != nil {
			s.sp.Rewind()
			s.retryAt = time.Now().Add(RetryEvery)
			s.log.Debug().Err(err).Str("sink", s.inner.Name()).Int("spooled", s.sp.Len()).Msg("spool: sink still unavailable")
			return false
		}
		s.sp.Commit()
	}
	s.log.Info().Str("sink", s.inner.Name()).Msg("spool drained: sink delivering again")
	return true
}

// Close stops retrying, makes one last bounded attempt to drain, and closes
// the spool (what is left stays on disk for the next run) and the sink.
func (s *Sink) Close() error {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	if s.sp.Len() > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.drainLocked(ctx)
		cancel()
	}
	left := s.sp.Len()
	s.mu.Unlock()
	if left > 0 {
		s.log.Warn().Int("records", left).Msg("spool: events stay on disk for the next run")
	}
	err := s.sp.Close()
	if ierr := s.inner.Close(); err == nil {
		err = ierr
	}
	return err
}

// Stats reports the spool's state: records and bytes held, records lost to
// the size bound, corrupt records skipped.
func (s *Sink) Stats() (records int, bytes int64, lost, corrupt uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sp.Len(), s.sp.Bytes(), s.sp.Lost, s.sp.Corrupt
}

// Unwrap implements exporter.Wrapper.
func (s *Sink) Unwrap() exporter.Sink { return s.inner }

// Metrics implements exporter.Metered: the spool's state, and the wrapped
// sink's own metrics.
func (s *Sink) Metrics() []exporter.Metric {
	n, b, lost, corrupt := s.Stats()
	out := []exporter.Metric{
		{Name: "apitap_spool_records", Help: "Records waiting in a sink's on-disk spool.", Gauge: true, Value: float64(n)},
		{Name: "apitap_spool_bytes", Help: "Bytes of a sink's on-disk spool.", Gauge: true, Value: float64(b)},
		{Name: "apitap_spool_lost_total", Help: "Records a sink's full spool evicted, or that were corrupt on disk.", Labels: []string{"reason"}, Values: []string{"evicted"}, Value: float64(lost)},
		{Name: "apitap_spool_lost_total", Help: "Records a sink's full spool evicted, or that were corrupt on disk.", Labels: []string{"reason"}, Values: []string{"corrupt"}, Value: float64(corrupt)},
	}
	if m, ok := exporter.As[exporter.Metered](s.inner); ok {
		out = append(out, m.Metrics()...)
	}
	return out
}

// Config is the `spool` section of the sinks that keep undeliverable
// events on disk (Kafka, webhook).
type Config struct {
	Dir      string `yaml:"dir"`       // directory of the segment files; "" turns the spool off
	MaxBytes int64  `yaml:"max_bytes"` // bound; the oldest low-priority events go first; default 1 GiB
	Fsync    string `yaml:"fsync"`     // always, segment (default), never
}

// Validate checks the section.
func (c Config) Validate() error {
	switch c.Fsync {
	case "", "always", "segment", "never":
	default:
		return fmt.Errorf("spool.fsync: want always, segment or never, got %q", c.Fsync)
	}
	if c.MaxBytes < 0 {
		return fmt.Errorf("spool.max_bytes must be positive, got %d", c.MaxBytes)
	}
	return nil
}

// Wrap puts the spool configured by c in front of inner; without a
// directory it returns inner as it is. Records a previous run left are
// delivered first.
func Wrap(inner exporter.Sink, c Config, log zerolog.Logger) (exporter.Sink, error) {
	if c.Dir == "" {
		return inner, nil
	}
	sp, err := Open(c.Dir, Options{MaxBytes: c.MaxBytes, Fsync: c.Fsync})
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", c.Dir, err)
	}
	if n := sp.Len(); n > 0 {
		log.Info().Int("records", n).Str("dir", c.Dir).Str("sink", inner.Name()).Msg("spool: delivering events left by an earlier run first")
	}
	return NewSink(inner, sp, log), nil
}
