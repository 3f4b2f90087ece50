package exporter

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Record is one event for the sinks.
type Record struct {
	Type  string // event type: transaction, detection, stats, ...
	Key   string // partition key (Kafka): flow id, actor, endpoint id, sensor id
	Value []byte // the event's JSON, without the trailing newline; owned by the record
}

// Sink delivers records. Send is called from one goroutine per sink; it
// should retry transient failures itself and return an error only when it
// gave the records up.
type Sink interface {
	Name() string
	Send(ctx context.Context, recs []Record) error
	Close() error
}

// Options shape a FanOut.
type Options struct {
	Queue int           // records queued per sink; default 65536
	Batch int           // records handed to Send at once; default 1024
	Block bool          // wait when a queue is full instead of dropping (offline reads)
	Flush time.Duration // how long Close waits for queued records; default 30s
	Log   zerolog.Logger
}

type sinkQueue struct {
	sink    Sink
	accept  Acceptor // nil: every record
	ch      chan Record
	done    chan struct{}
	sent    atomic.Uint64
	dropped atomic.Uint64 // queue full
	failed  atomic.Uint64 // Send gave up
	// Send calls: how many, how many failed, their latency
	sends, sendErrors atomic.Uint64
	sendNanos         atomic.Uint64
	latency           [len(LatencyBuckets)]atomic.Uint64 // not cumulative
}

// LatencyBuckets are the upper bounds, in seconds, of the Send latency
// histogram (Stat.Latency).
var LatencyBuckets = [...]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func (q *sinkQueue) observe(d time.Duration, err error) {
	q.sends.Add(1)
	if err != nil {
		q.sendErrors.Add(1)
	}
	q.sendNanos.Add(uint64(d))
	sec := d.Seconds()
	for i, b := range LatencyBuckets {
		if sec <= b {
			q.latency[i].Add(1)
			return
		}
	}
}

// FanOut hands every record to every sink.
type FanOut struct {
	opts   Options
	queues []*sinkQueue
	ctx    context.Context
	cancel context.CancelFunc
	closed atomic.Bool
}

// New starts one goroutine per sink.
func New(opts Options, sinks ...Sink) *FanOut {
	if opts.Queue <= 0 {
		opts.Queue = 65536
	}
	if opts.Batch <= 0 {
		opts.Batch = 1024
	}
	if opts.Flush <= 0 {
		opts.Flush = 30 * time.Second
	}
	f := &FanOut{opts: opts}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	for _, s := range sinks {
		n := opts.Queue
		if ql, ok := s.(Queued); ok && ql.QueueLen() > 0 {
			n = ql.QueueLen()
		}
		q := &sinkQueue{sink: s, ch: make(chan Record, n), done: make(chan struct{})}
		q.accept, _ = s.(Acceptor)
		f.queues = append(f.queues, q)
		go f.run(q)
	}
	return f
}

// Sinks lists the sinks.
func (f *FanOut) Sinks() []Sink {
	var out []Sink
	for _, q := range f.queues {
		out = append(out, q.sink)
	}
	return out
}

// Len is the number of sinks.
func (f *FanOut) Len() int { return len(f.queues) }

// Add queues a record for every sink that accepts it (Acceptor). It never
// blocks unless Options.Block.
func (f *FanOut) Add(r Record) {
	if f.closed.Load() {
		return
	}
	for _, q := range f.queues {
		if q.accept != nil && !q.accept.Accept(&r) {
			continue
		}
		if f.opts.Block {
			q.ch <- r
			continue
		}
		select {
		case q.ch <- r:
		default:
			q.dropped.Add(1)
		}
	}
}

// downFor is how long a sink that failed downAfter batches in a row is
// not called: its records are counted as failed at once, so that a dead
// broker does not hold every batch for its full retry budget.
const (
	downAfter = 3
	downFor   = 10 * time.Second
)

func (f *FanOut) run(q *sinkQueue) {
	defer close(q.done)
	batch := make([]Record, 0, f.opts.Batch)
	fails := 0
	var downUntil time.Time
	for r := range q.ch {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < f.opts.Batch {
			select {
			case r, ok := <-q.ch:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if time.Now().Before(downUntil) {
			q.failed.Add(uint64(len(batch)))
			continue
		}
		start := time.Now()
		err := q.sink.Send(f.ctx, batch)
		q.observe(time.Since(start), err)
		if err != nil {
			q.failed.Add(uint64(len(batch)))
			if fails++; fails >= downAfter {
				downUntil = time.Now().Add(downFor)
				fails = 0
				f.opts.Log.Error().Err(err).Str("sink", q.sink.Name()).Dur("for", downFor).Msg("sink keeps failing; its records are counted as failed without trying")
			} else {
				f.opts.Log.Error().Err(err).Str("sink", q.sink.Name()).Int("records", len(batch)).Msg("sink gave records up")
			}
			continue
		}
		fails = 0
		q.sent.Add(uint64(len(batch)))
	}
}

// Close stops accepting records, waits up to Options.Flush for the queues
// to drain, then closes the sinks. Records the sinks could not deliver by
// then are counted as failed.
func (f *FanOut) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	for _, q := range f.queues {
		close(q.ch)
	}
	timer := time.NewTimer(f.opts.Flush)
	defer timer.Stop()
	var errs []error
	for _, q := range f.queues {
		select {
		case <-q.done:
		case <-timer.C:
			f.cancel() // sinks give up what they hold
			<-q.done
		}
		if err := q.sink.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", q.sink.Name(), err))
		}
	}
	f.cancel()
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// Stat counts one sink's records and Send calls.
type Stat struct {
	Sink                  string
	Sent, Dropped, Failed uint64
	// Sends and SendErrors count Send calls (batches); SendSeconds is
	// their total time and Latency their cumulative counts per
	// LatencyBuckets bound (calls over the last bound are only in Sends).
	Sends, SendErrors uint64
	SendSeconds       float64
	Latency           []uint64
}

// Stats reports every sink's counters, by sink name.
func (f *FanOut) Stats() []Stat {
	var out []Stat
	for _, q := range f.queues {
		st := Stat{Sink: q.sink.Name(), Sent: q.sent.Load(), Dropped: q.dropped.Load(), Failed: q.failed.Load(),
			Sends: q.sends.Load(), SendErrors: q.sendErrors.Load(), SendSeconds: float64(q.sendNanos.Load()) / 1e9}
		var cum uint64
		for i := range q.latency {
			cum += q.latency[i].Load()
			st.Latency = append(st.Latency, cum)
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Sink < out[j].Sink })
	return out
}

// Drops is the total of records dropped or given up, for all sinks.
func (f *FanOut) Drops() (queueFull, failed uint64) {
	for _, q := range f.queues {
		queueFull += q.dropped.Load()
		failed += q.failed.Load()
	}
	return queueFull, failed
}
