package correlate

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/observation"
)

// Detectors is what the correlator needs of stage two's cross-flow
// detectors: one instance per partition, fed the partition's observations
// in capture order, flushed as capture time passes. The behaviour
// analyzer implements it (behavior.NewCentral) over the detector code its
// sensors run.
type Detectors interface {
	Observe(r *observation.Record, emit analyzer.Emitter)
	Flush(now time.Time, emit analyzer.Emitter)
}

// Config configures a correlator.
type Config struct {
	Brokers []string
	Group   string // the goka group (and table prefix); default apitap-correlate
	Topic   string // observations; default apitap.observations
	// Partitions of the observations topic when the correlator creates it
	// (default 12); an existing topic keeps its own.
	Partitions int
	// Replication of the topics it creates (default 1).
	Replication int
	// Idle is the wall time after which a silent sensor no longer holds a
	// partition's watermark back (default 1s).
	Idle time.Duration
	// Span and Replay bound what a member replays from the input topic
	// when a partition moves to it: the observations before the group's
	// committed offset, at most Replay of them (default 500000) and Span
	// of capture time before the last (default 15m).
	Span   time.Duration
	Replay int
	// MaxHeld bounds a partition's reorder buffer (default 100000).
	MaxHeld int
	// NewDetectors makes one partition's detectors.
	NewDetectors func() (Detectors, error)
	// Out receives each detection once per process (mu held).
	Out func(d *event.Detection)
	// Storage builds the table's local storage (default in memory: the
	// changelog is the state, a restarted process restores from it).
	Storage storage.Builder
	// OnAssign, when set, is told the partitions assigned to this member
	// at each rebalance.
	OnAssign func(partitions []int32)
	// Options are goka options replacing the Kafka clients (tests:
	// goka.WithTester).
	Options []goka.ProcessorOption
}

func (c *Config) defaults() {
	if c.Group == "" {
		c.Group = "apitap-correlate"
	}
	if c.Topic == "" {
		c.Topic = "apitap.observations"
	}
	if c.Partitions <= 0 {
		c.Partitions = 12
	}
	if c.Replication <= 0 {
		c.Replication = 1
	}
	if c.Idle <= 0 {
		c.Idle = time.Second
	}
	if c.Span <= 0 {
		c.Span = 15 * time.Minute
	}
	if c.Replay <= 0 {
		c.Replay = 500000
	}
	if c.MaxHeld <= 0 {
		c.MaxHeld = 100000
	}
}

// Correlator is a member of the processor group.
type Correlator struct {
	cfg  Config
	proc *goka.Processor

	mu      sync.Mutex // engines
	engines map[int32]*engine

	outMu sync.Mutex
	seen  map[string]struct{} // detection ids written (bounded: cleared when full)

	received, duplicates, malformed, processed, late, replayed, detections, tableWrites atomic.Uint64
}

// recoveryGrace is how long a restored partition waits for its first
// observation before its stored ones are released as idle.
const recoveryGrace = 5 * time.Second

// maxSeen bounds the ids remembered for de-duplication.
const maxSeen = 1 << 18

// New builds a correlator; Run runs it.
func New(cfg Config) (*Correlator, error) {
	cfg.defaults()
	if cfg.NewDetectors == nil || cfg.Out == nil {
		return nil, errors.New("correlate: no detectors or output")
	}
	c := &Correlator{cfg: cfg, engines: map[int32]*engine{}, seen: map[string]struct{}{}}
	g := goka.DefineGroup(goka.Group(cfg.Group),
		goka.Input(goka.Stream(cfg.Topic), bytesCodec{}, c.process),
		goka.Persist(marksCodec{}),
	)
	build := cfg.Storage
	if build == nil {
		build = func(string, int32) (storage.Storage, error) { return storage.NewMemory(), nil }
	}
	var opts []goka.ProcessorOption
	if len(cfg.Options) == 0 {
		kafka, err := kafkaOptions(cfg.Brokers, cfg.Topic, cfg.Partitions, cfg.Replication)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kafka...)
	}
	opts = append(opts, cfg.Options...)
	if cfg.OnAssign != nil {
		opts = append(opts, goka.WithRebalanceCallback(func(a goka.Assignment) {
			ps := make([]int32, 0, len(a))
			for p := range a {
				ps = append(ps, p)
			}
			sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
			cfg.OnAssign(ps)
		}))
	}
	opts = append(opts, goka.WithStorageBuilder(func(topic string, p int32) (storage.Storage, error) {
		st, err := build(topic, p)
		if err != nil {
			return nil, err
		}
		return &watched{Storage: st, c: c, p: p}, nil
	}))
	p, err := goka.NewProcessor(cfg.Brokers, g, opts...)
	if err != nil {
		return nil, fmt.Errorf("correlate: %w", err)
	}
	c.proc = p
	return c, nil
}

// ensureStream creates topic unless it exists (another member may be
// creating it at the same time).
func ensureStream(tm goka.TopicManager, topic string, partitions int) error {
	err := tm.EnsureStreamExists(topic, partitions)
	if err != nil {
		if ps, perr := tm.Partitions(topic); perr == nil && len(ps) > 0 {
			return nil
		}
		return fmt.Errorf("correlate: topic %s: %w", topic, err)
	}
	return nil
}

// SaramaConfig is the Kafka client configuration: the group starts at
// the oldest offset of the observations (goka's default is the newest:
// what sensors published before the first correlator started would be
// skipped), and changelog writes wait for every in-sync replica.
func SaramaConfig() *sarama.Config {
	sc := goka.DefaultConfig()
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Compression = sarama.CompressionLZ4
	sc.Version = sarama.V2_1_0_0
	// a member that died gives its partitions up after 6s (the broker's
	// smallest session timeout by default), not sarama's 10s
	sc.Consumer.Group.Session.Timeout = 6 * time.Second
	sc.Consumer.Group.Heartbeat.Interval = time.Second
	// changelog writes in large batches (an actor's window is rewritten
	// with each of its observations)
	sc.Producer.Flush.Bytes = 1 << 20
	sc.Producer.Flush.Frequency = 10 * time.Millisecond
	sc.ChannelBufferSize = 4096
	// larger fetches: a backlog is read in fewer, bigger responses
	sc.Consumer.Fetch.Default = 4 << 20
	return sc
}

// quiet drops goka's and sarama's chatter (the command reports what
// matters).
type quiet struct{}

func (quiet) Print(...any)          {}
func (quiet) Println(...any)        {}
func (quiet) Printf(string, ...any) {}

// Run runs the processor until ctx is done, then releases and flushes
// what every partition holds.
func (c *Correlator) Run(ctx context.Context) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	done := make(chan error, 1)
	go func() { done <- c.proc.Run(ctx) }()
	for {
		select {
		case err := <-done:
			c.drain()
			if errors.Is(err, context.Canceled) {
				err = nil
			}
			return err
		case now := <-tick.C:
			c.idle(now)
		}
	}
}

// idle releases the partitions that received nothing for Idle.
func (c *Correlator) idle(now time.Time) {
	for _, e := range c.partitions() {
		e.mu.Lock()
		if e.held.Len() > 0 && now.Sub(e.arrived) >= c.cfg.Idle {
			e.release(now, true)
		}
		e.mu.Unlock()
	}
}

// drain releases everything held (shutdown).
func (c *Correlator) drain() {
	now := time.Now()
	for _, e := range c.partitions() {
		e.mu.Lock()
		e.release(now, true)
		e.mu.Unlock()
	}
}

func (c *Correlator) partitions() []*engine {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]int32, 0, len(c.engines))
	for k := range c.engines {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	out := make([]*engine, len(keys))
	for i, k := range keys {
		out[i] = c.engines[k]
	}
	return out
}

// engine returns partition p's engine, making it when missing.
func (c *Correlator) engine(p int32) (*engine, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.engines[p]; e != nil {
		return e, nil
	}
	d, err := c.cfg.NewDetectors()
	if err != nil {
		return nil, err
	}
	e := newEngine(c, d)
	c.engines[p] = e
	return e, nil
}

// process is the goka callback: one observation of the actor ctx.Key()
// (duplicates are told apart from redeliveries after a move by the
// marks' offsets: see marks).
// The actor's marks are read from the table once per partition and kept
// decoded in the engine; the table is written when the marks gain a
// sensor, after saveEvery observations of the actor or saveAfter of wall
// time (batched changelog writes: a mark that lags after a move only
// lets a redelivery through, at-least-once).
func (c *Correlator) process(ctx goka.Context, msg any) {
	c.received.Add(1)
	b, _ := msg.([]byte)
	e, err := c.engine(ctx.Partition())
	if err != nil {
		ctx.Fail(err)
	}
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	r := recPool.Get().(*observation.Record)
	if err := observation.DecodeWith(b, r, &e.intern); err != nil {
		recPool.Put(r)
		c.malformed.Add(1)
		return
	}
	key := ctx.Key()
	am := e.marks[key]
	if am == nil {
		m, _ := ctx.Value().(*marks)
		if m == nil {
			m = &marks{}
		}
		if len(e.marks) >= maxCachedMarks {
			clear(e.marks) // bounded: read from the table again
		}
		am = &actorMarks{m: m, saved: now}
		e.marks[key] = am
	}
	off := ctx.Offset()
	if am.m.seen(r, off) {
		recPool.Put(r)
		c.duplicates.Add(1) // redelivered: at-least-once
		return
	}
	grew := am.m.set(r, off)
	am.unsaved++
	if grew || am.unsaved >= saveEvery || now.Sub(am.saved) >= saveAfter {
		ctx.SetValue(am.m)
		am.unsaved, am.saved = 0, now
		c.tableWrites.Add(1)
	}
	e.add(r, now)
}

// actorMarks is an actor's marks as the engine keeps them between table
// writes.
type actorMarks struct {
	m       *marks
	unsaved int       // observations since the last table write
	saved   time.Time // wall time of the last table write
}

// Batching of the table writes, and the bound of the decoded marks a
// partition keeps.
const (
	saveEvery      = 64
	saveAfter      = time.Second
	maxCachedMarks = 1 << 20
)

// recPool recycles records: the detectors keep nothing of a record after
// Observe.
var recPool = sync.Pool{New: func() any { return new(observation.Record) }}

// recovered is called when partition p's table is restored: the
// partition's recent observations, up to the group's committed offset,
// are read again from the input topic (what the member that had the
// partition processed) and wait in a fresh engine's reorder buffer for
// what the group consumes next, so that the detectors' windows are
// rebuilt. In tests (Options set) there is no broker to replay from.
func (c *Correlator) recovered(p int32) error {
	var recs []*observation.Record
	if len(c.cfg.Options) == 0 {
		var err error
		if recs, err = c.replay(p); err != nil {
			return fmt.Errorf("correlate: replay partition %d: %w", p, err)
		}
	}
	d, err := c.cfg.NewDetectors()
	if err != nil {
		return err
	}
	// the replayed observations wait in the reorder buffer for what arrives
	// next (the consumer starts after the recovery: an idle partition
	// releases them after recoveryGrace, not Idle), and the sensors make
	// themselves known again (for Idle) before anything is released
	now := time.Now()
	e := newEngine(c, d)
	e.started, e.arrived = now, now.Add(recoveryGrace)
	for _, r := range recs {
		heap.Push(&e.held, r)
	}
	c.replayed.Add(uint64(len(recs)))
	c.mu.Lock()
	c.engines[p] = e
	c.mu.Unlock()
	return nil
}

// replay reads partition p of the input topic from at most Replay
// observations before the group's committed offset up to it, and keeps
// those within Span of capture time before the latest.
func (c *Correlator) replay(p int32) ([]*observation.Record, error) {
	client, err := sarama.NewClient(c.cfg.Brokers, SaramaConfig())
	if err != nil {
		return nil, err
	}
	defer client.Close()
	om, err := sarama.NewOffsetManagerFromClient(c.cfg.Group, client)
	if err != nil {
		return nil, err
	}
	pom, err := om.ManagePartition(c.cfg.Topic, p)
	if err != nil {
		om.Close()
		return nil, err
	}
	committed, _ := pom.NextOffset()
	pom.AsyncClose()
	om.Close()
	oldest, err := client.GetOffset(c.cfg.Topic, p, sarama.OffsetOldest)
	if err != nil {
		return nil, err
	}
	if committed <= oldest {
		return nil, nil // nothing committed: the group reads the partition from the start
	}
	start := max(oldest, committed-int64(c.cfg.Replay))
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, err
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(c.cfg.Topic, p, start)
	if err != nil {
		return nil, err
	}
	defer pc.AsyncClose()
	var recs []*observation.Record
	var latest int64
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	for off := start; off < committed; {
		select {
		case msg := <-pc.Messages():
			off = msg.Offset + 1
			r := new(observation.Record)
			if observation.Decode(msg.Value, r) != nil {
				continue
			}
			recs = append(recs, r)
			latest = max(latest, r.At)
		case err := <-pc.Errors():
			return nil, err
		case <-timeout.C:
			return nil, fmt.Errorf("offsets %d to %d not read in 60s", start, committed)
		}
	}
	keep := recs[:0]
	for _, r := range recs {
		if latest-r.At <= int64(c.cfg.Span) {
			keep = append(keep, r)
		}
	}
	return keep, nil
}

// output writes a detection once per process.
func (c *Correlator) output(d *event.Detection) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if _, ok := c.seen[d.ID]; ok {
		return
	}
	if len(c.seen) >= maxSeen {
		clear(c.seen)
	}
	c.seen[d.ID] = struct{}{}
	c.detections.Add(1)
	c.cfg.Out(d)
}

// Stats are the correlator's counters; TableWrites counts the marks
// written to the table (its changelog).
type Stats struct {
	Received, Duplicates, Malformed, Processed, Late, Replayed, Detections, TableWrites uint64
}

// Stats returns the counters.
func (c *Correlator) Stats() Stats {
	return Stats{c.received.Load(), c.duplicates.Load(), c.malformed.Load(), c.processed.Load(), c.late.Load(), c.replayed.Load(), c.detections.Load(), c.tableWrites.Load()}
}

// watched is the table storage of one partition: it tells the correlator
// when goka has restored it from the changelog.
type watched struct {
	storage.Storage
	c *Correlator
	p int32
}

func (w *watched) MarkRecovered() error {
	if err := w.Storage.MarkRecovered(); err != nil {
		return err
	}
	return w.c.recovered(w.p)
}

// kafkaOptions are the processor options of a group on brokers with this
// package's sarama settings (topics replicated replication times, goka's
// log quiet), after making sure its input topic exists with partitions.
func kafkaOptions(brokers []string, topic string, partitions, replication int) ([]goka.ProcessorOption, error) {
	sc := SaramaConfig()
	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication, tmc.Stream.Replication = replication, replication
	tm, err := goka.TopicManagerBuilderWithConfig(sc, tmc)(brokers)
	if err != nil {
		return nil, fmt.Errorf("correlate: connect %v: %w", brokers, err)
	}
	err = ensureStream(tm, topic, partitions)
	tm.Close()
	if err != nil {
		return nil, err
	}
	return []goka.ProcessorOption{
		goka.WithConsumerGroupBuilder(goka.ConsumerGroupBuilderWithConfig(sc)),
		goka.WithConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(sc)),
		goka.WithProducerBuilder(goka.ProducerBuilderWithConfig(sc)),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(sc, tmc)),
		goka.WithLogger(quiet{}),
	}, nil
}
