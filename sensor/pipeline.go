package sensor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/identity"
	"github.com/apitap/apitap/exporter/blocklist"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/reassembly/http2"
	"github.com/apitap/apitap/reassembly/protomsg"
	"github.com/apitap/apitap/reassembly/tlsdecrypt"
	"github.com/apitap/apitap/reassembly/tlshello"
	"github.com/apitap/apitap/sensor/capture"
	"github.com/apitap/apitap/sensor/decode"
	"github.com/apitap/apitap/sensor/shard"
	"github.com/apitap/apitap/sensor/uprobe"
)

const (
	batchFrames = 256       // frames per batch handed to a worker
	batchBytes  = 256 << 10 // frame bytes per batch
	batchStart  = 64 << 10  // a new batch's room for frame bytes (it grows)
	outFlush    = 64 << 10  // a worker writes its event buffer past this size
)

// Pipeline runs frames from sources through decode, flow sharding,
// reassembly and HTTP parsing to events. Create it with NewPipeline, feed it
// with Run (one source after another), then call Close once.
//
// With one worker everything runs on the caller's goroutine. With more, the
// caller's goroutine reads and shards frames into bounded per-worker queues;
// for files the reader waits when a queue is full (a file can be read at the
// workers' pace, so nothing is dropped).
type Pipeline struct {
	cfg   Config
	final atomic.Pointer[Summary] // set by Close
	// Detections keeps the recent detections and counts over time, for
	// the report and the admin API.
	Detections *DetectionLog
	out        *lockedWriter
	emitTx     bool
	emitMsg    bool // message events (WebSocket)
	emitSt     bool
	emitDet    bool
	// Analyzers lists the analyzers run on every transaction, in order.
	Analyzers []string
	// Export, when set, also receives every event written, one at a time:
	// its type, its partition key and its JSON line (without the newline,
	// valid only during the call). It is called from the workers' and the
	// stats goroutines, concurrently.
	Export func(typ, key string, line []byte)
	// ExtraDrops, when set, adds drops counted outside the pipeline (the
	// kernel's ring, the pre-filter's sampling) to stats events. It is
	// called from the stats goroutine and from Close.
	ExtraDrops func() []event.Count
	workers    []*worker
	queues     []chan *batch
	free       chan *batch
	pending    []*batch // per worker, being filled by the reader
	wg         sync.WaitGroup
	dec        *decode.Decoder // the reader's, to shard frames
	dp         decode.Packet
	// stage two: the ordered stage (stage2.go) and, with several workers,
	// the channel their observation batches reach it through
	s2 *stage2
	// observations published (sensor.observations), on stage two's goroutine
	observations atomic.Uint64
	obsCh        chan *obsBatch
	obsFree      chan *obsBatch
	s2done       chan struct{}
	frames       uint64    // frames read (files): positions in orderKey
	nextTick     time.Time // capture time of the next tick (files)
	sent         uint64    // frames read when the pending batches were last sent
	ident        *identity.Resolver

	packets atomic.Uint64
	bytes   atomic.Uint64
	lastTS  time.Time
	started time.Time
	files   []FileResult
	closed  bool
	live    bool
	shared  map[string]any // analyzers' shared state, by analyzer name
	emitTyp map[string]bool
	// Block is the blocklist policy every detection goes through.
	Block  *blocklist.Manager
	keylog *tlsdecrypt.KeyLog // TLS secrets (tls.go), or nil
	// TLS uprobes (tls.go): the probes, or why they are not running
	uprobes   *uprobe.Manager
	uprobeErr error
}

// Shared returns the state analyzer name shares between workers (the
// discovery catalog), or nil.
func (p *Pipeline) Shared(name string) any { return p.shared[name] }

// report lets every shared Reporter emit what is due.
func (p *Pipeline) report(now time.Time, final bool) {
	for _, name := range slices.Sorted(maps.Keys(p.shared)) {
		if r, ok := p.shared[name].(analyzer.Reporter); ok {
			r.Report(now, final, sharedSink{p})
		}
	}
}

// sharedSink writes the events of shared analyzer state, when their type
// is emitted.
type sharedSink struct{ p *Pipeline }

// blocklistOut writes blocklist events (and exports Kafka tombstones).
func (p *Pipeline) blocklistOut(key string, line []byte, tombstone bool) {
	if tombstone {
		if p.Export != nil {
			p.Export("blocklist", key, nil)
		}
		return
	}
	if p.emitTyp["blocklist"] {
		p.out.write(append(append(make([]byte, 0, len(line)+1), line...), '\n'))
	}
	if p.Export != nil {
		p.Export("blocklist", key, line)
	}
}

// Detection handles a detection made by shared state like stage two's own
// (Reporters run on stage two's goroutine, or after it finished).
func (s sharedSink) Detection(d *event.Detection) {
	s.p.s2.detection(d)
}

// Wants implements analyzer.EventFilter: events of a type not emitted are
// neither written nor exported.
func (s sharedSink) Wants(typ string) bool { return s.p.emitTyp[typ] }

func (s sharedSink) Event(typ, key string, line []byte) {
	if !s.Wants(typ) {
		return
	}
	st := s.p.s2
	st.buf = append(append(st.buf, line...), '\n')
	if s.p.Export != nil {
		s.p.Export(typ, key, line)
	}
	st.flushOut()
}

// FileResult says how one source went.
type FileResult struct {
	Name    string
	Format  string
	Packets uint64
	Bytes   uint64
	// Damage is "", "truncated_file" or "corrupt_record".
	Damage string
	Err    error

	published uint64 // Bytes already added to Pipeline.bytes
}

type frameRef struct {
	off, n int // n < 0: a tick
	at     uint64
	ci     gopacket.CaptureInfo
	link   layers.LinkType
}

type batch struct {
	data   []byte
	frames []frameRef
	end    uint64 // the reader's position when it sent the batch
}

// NewPipeline starts the workers. out receives the JSON lines. It fails
// when the analyzers' configuration is invalid or an analyzer can not start.
func NewPipeline(cfg Config, out io.Writer, log zerolog.Logger) (*Pipeline, error) {
	cfg = cfg.WithDefaults()
	enabled, err := analyzer.Configure(cfg.Analyzers)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{Detections: NewDetectionLog(),
		cfg:     cfg,
		out:     &lockedWriter{w: bufio.NewWriterSize(out, 256<<10)},
		dec:     decode.ShardDecoder(cfg.DecodeOptions()),
		started: time.Now(),
	}
	p.emitTyp = map[string]bool{}
	for _, t := range cfg.Output.Emit {
		p.emitTyp[t] = true
		switch t {
		case "transaction":
			p.emitTx = true
		case "message":
			p.emitMsg = true
		case "stats":
			p.emitSt = true
		case "detection":
			p.emitDet = true
		}
	}
	p.Block = blocklist.New(cfg.Blocklist, cfg.Sensor.ID, p.blocklistOut)
	p.Analyzers = analyzer.Names(enabled)
	if p.ident, err = identity.New(trustedProxies(cfg, enabled)); err != nil {
		return nil, fmt.Errorf("sensor.trusted_proxies: %w", err)
	}
	// the proxies whose forwarded-for headers name the client are never
	// blocked themselves
	if ps, err := Prefixes("sensor.trusted_proxies", trustedProxies(cfg, enabled)); err == nil {
		p.Block.NeverBlock(blocklist.ReasonTrustedProxy, ps...)
	}
	shared, err := analyzer.NewShared(enabled, analyzer.Env{Log: log, Sensor: cfg.Sensor.ID, Worker: -1, Live: cfg.Live})
	if err != nil {
		return nil, err
	}
	p.shared = shared
	var protos *protomsg.Registry
	if f := cfg.Reassembly.GRPC.ProtoDescriptors; f != "" {
		if protos, err = protomsg.Load(f); err != nil {
			return nil, fmt.Errorf("reassembly.grpc.proto_descriptors: %w", err)
		}
	}
	// stage two runs the flow analyzers' ordered parts first, then the
	// StageOrdered analyzers (which read the parts' notes)
	var flow, parts, ordered []analyzer.Enabled
	for _, e := range enabled {
		switch {
		case e.Desc.Stage == analyzer.StageOrdered:
			ordered = append(ordered, e)
		default:
			flow = append(flow, e)
			if e.Desc.NewOrdered != nil {
				d := e.Desc
				d.Stage, d.New, d.NewShared = analyzer.StageOrdered, d.NewOrdered, nil
				parts = append(parts, analyzer.Enabled{Desc: d, Config: e.Config})
			}
		}
	}
	p.s2 = newStage2(p)
	env2 := analyzer.Env{Log: log, Sensor: cfg.Sensor.ID, Worker: -1, Live: cfg.Live, Split: true, Folder: stage2Folder{p.s2}}
	var pre *analyzer.Chain
	if cfg.Sensor.Workers >= pipelineWorkers && len(parts) > 0 {
		// the ordered parts on a goroutine of their own, ahead of the
		// rest (stage2.pre): they fold through the recorder
		p.s2.rec = &preRecorder{s: p.s2}
		envPre := env2
		envPre.Folder = p.s2.rec
		if pre, err = analyzer.NewChain(parts, shared, envPre); err != nil {
			return nil, err
		}
		if pre.ObservesTLS() { // stage two hands ClientHellos to its own chain only
			pre, p.s2.rec = nil, nil
		} else {
			parts = nil
		}
	}
	chain2, err := analyzer.NewChain(append(parts, ordered...), shared, env2)
	if err != nil {
		return nil, err
	}
	p.s2.setChain(chain2, pre)
	p.publishObservations()
	n := cfg.Sensor.Workers
	for i := 0; i < n; i++ {
		chain, err := analyzer.NewChain(flow, shared, analyzer.Env{Log: log, Sensor: cfg.Sensor.ID, Worker: i, Live: cfg.Live, Split: true})
		if err != nil {
			return nil, err
		}
		w := newWorker(p, chain, i)
		w.direct = n == 1 // a file read with one worker: stage two runs inline
		w.asm.SetProtos(protos)
		p.workers = append(p.workers, w)
	}
	if err := p.startTLS(); err != nil {
		return nil, err
	}
	return p, nil
}

// trustedProxies is sensor.trusted_proxies, plus the list an analyzer's
// configuration still names (analyzers.behavior.trusted_proxies, the
// older place of the setting).
func trustedProxies(cfg Config, enabled []analyzer.Enabled) []string {
	out := slices.Clone(cfg.Sensor.TrustedProxies)
	for _, e := range enabled {
		if t, ok := e.Config.(interface{ TrustedProxyList() []string }); ok {
			out = append(out, t.TrustedProxyList()...)
		}
	}
	return out
}

// startStage2 starts the ordered stage behind several workers (or live
// workers): their observation batches reach it through one channel.
func (p *Pipeline) startStage2(live bool, tick func(time.Time)) {
	n := len(p.workers)
	p.obsCh = make(chan *obsBatch, n*4)
	// room for every batch in flight (queued, held by the merge, being
	// filled): a batch dropped here is made again later, from fresh memory
	p.obsFree = make(chan *obsBatch, n*(p.cfg.Sensor.QueueBatches+8))
	p.s2done = make(chan struct{})
	m := newMerge(p.s2, n, p.obsFree, live)
	if p.s2.pre == nil {
		go func() {
			defer close(p.s2done)
			m.run(p.obsCh, tick)
		}()
		return
	}
	// two stages: the merge and the pre-stage on one goroutine, the rest
	// of stage two on another
	// a short pipe (at most 4 chunks of observations, which hold their
	// batches and bodies): the overlap needs little slack
	m.pipe, m.spare = make(chan []stageItem, 4), make(chan []stageItem, 6)
	m.out = make([]stageItem, 0, stageChunk)
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.consume(tick)
	}()
	go func() {
		defer close(p.s2done)
		m.run(p.obsCh, tick)
		close(m.pipe)
		<-done
	}()
}

// startQueues starts the worker goroutines behind bounded queues, for
// sources read by one reader (files).
func (p *Pipeline) startQueues() {
	p.startStage2(false, nil)
	n := len(p.workers)
	p.free = make(chan *batch, n*(p.cfg.Sensor.QueueBatches+2))
	p.pending = make([]*batch, n)
	for i := 0; i < n; i++ {
		q := make(chan *batch, p.cfg.Sensor.QueueBatches)
		p.queues = append(p.queues, q)
		p.wg.Add(1)
		go p.workers[i].loop(q)
	}
}

// RunLive reads live sources until ctx ends: source i feeds worker i on
// its own goroutine, without a reader in between, so the sources must
// already split traffic by flow (an AF_PACKET fanout group does). There must
// be one source per worker. Call Close afterwards.
func (p *Pipeline) RunLive(ctx context.Context, srcs []capture.Source) error {
	if len(srcs) != len(p.workers) {
		return fmt.Errorf("%d live sources for %d workers", len(srcs), len(p.workers))
	}
	if p.queues != nil || p.live || p.frames > 0 {
		return errors.New("pipeline already ran")
	}
	p.live = true
	for _, w := range p.workers {
		w.direct = false
	}
	p.startStage2(true, p.liveTick)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	statsDone := make(chan struct{})
	go func() {
		defer close(statsDone)
		p.statsLoop(ctx)
	}()
	defer func() { <-statsDone }()
	for i, src := range srcs {
		wg.Add(1)
		go func(w *worker, src capture.Source) {
			defer wg.Done()
			res := FileResult{Name: src.Name()}
			link := src.LinkType()
			for n := 0; ; n++ {
				if n&63 == 0 && ctx.Err() != nil {
					break
				}
				if n&63 == 0 {
					if now := time.Now(); now.Sub(w.sentAt) >= liveBatchEvery {
						w.send(now, false)
						if now.Sub(w.snap.at) >= time.Second {
							w.publish(now, &res)
						}
					}
				}
				data, ci, err := src.Next()
				if errors.Is(err, capture.ErrTimeout) {
					now := time.Now()
					w.idle(now)
					w.publish(now, &res)
					n = -1 // check ctx at once
					continue
				}
				if err != nil {
					res.Err = err
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("%s: %w", src.Name(), err)
					}
					mu.Unlock()
					break
				}
				res.Packets++
				res.Bytes += uint64(len(data))
				if ci.Timestamp.After(w.last) {
					w.last = ci.Timestamp
				}
				w.frame(data, ci, link, uint64(max(ci.Timestamp.UnixNano(), 0)))
				if w.out != nil && w.out.n > 0 && ci.Timestamp.Sub(w.sentCap) >= liveBatchEvery {
					// a transaction completed: hand it over within
					// liveBatchEvery of capture time (no clock read per
					// packet), so that a detection on a quiet link does not
					// wait for the next 64 packets or the poll timeout
					w.sentCap = ci.Timestamp
					w.send(time.Now(), false)
				}
				if res.Packets&255 == 0 {
					p.packets.Add(256)
					p.bytes.Add(res.Bytes - res.published)
					res.published = res.Bytes
				}
			}
			p.packets.Add(res.Packets & 255)
			p.bytes.Add(res.Bytes - res.published)
			w.finish()
			mu.Lock()
			p.files = append(p.files, res)
			mu.Unlock()
		}(p.workers[i], src)
	}
	wg.Wait()
	<-p.s2done
	sort.Slice(p.files, func(i, j int) bool { return p.files[i].Name < p.files[j].Name })
	return firstErr
}

// liveBatchEvery is how often (wall time) a live worker hands what it has
// to stage two: detections must reach the blocklist within a second.
const liveBatchEvery = 50 * time.Millisecond

// liveTick runs on stage two's goroutine about every second of a live
// pipeline: windows advance with the wall clock when traffic stops, shared
// state reports what is due, counters are published.
func (p *Pipeline) liveTick(now time.Time) {
	p.s2.advance(now)
	if len(p.shared) > 0 {
		p.report(p.s2.clock, false)
	}
	p.s2.publish()
	p.s2.out()
}

// Packets and Bytes read so far (safe from any goroutine, for progress).
func (p *Pipeline) Packets() uint64 { return p.packets.Load() }

// Bytes read so far (frame bytes as captured).
func (p *Pipeline) Bytes() uint64 { return p.bytes.Load() }

// Transactions completed so far (safe from any goroutine).
func (p *Pipeline) Transactions() uint64 {
	var n uint64
	for _, w := range p.workers {
		n += w.txs.Load()
	}
	return n
}

// Run reads src to its end. A damaged file is processed up to the damage,
// recorded in the result (and the final stats) and not returned as an
// error; other read errors are returned.
//
// Frames are numbered across every source of the pipeline; every second of
// capture time the reader ticks every worker (idle connections close,
// stalled gaps are skipped) at the same position, so that what completes
// when does not depend on how flows were spread over workers.
func (p *Pipeline) Run(src capture.Source) error {
	res := FileResult{Name: src.Name()}
	if f, ok := src.(*capture.File); ok {
		res.Format = f.Format()
	}
	link := src.LinkType()
	inline := len(p.workers) == 1
	if p.live {
		return errors.New("pipeline already ran live sources")
	}
	if !inline && p.queues == nil {
		p.startQueues()
	}
	var err error
	for {
		data, ci, rerr := src.Next()
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				err = rerr
			}
			break
		}
		res.Packets++
		res.Bytes += uint64(len(data))
		g := p.frames
		p.frames++
		if ci.Timestamp.After(p.lastTS) {
			p.lastTS = ci.Timestamp
		}
		if !p.lastTS.Before(p.nextTick) {
			p.nextTick = p.lastTS.Add(tickEvery)
			p.tick(2*g, p.lastTS)
		}
		if inline {
			p.workers[0].frame(data, ci, link, 2*g+1)
		} else {
			p.dispatch(data, ci, link, 2*g+1)
			if p.frames-p.sent >= sendEvery {
				p.sendAll()
			}
		}
		if res.Packets&1023 == 0 {
			p.packets.Add(1024)
			p.bytes.Store(p.bytes.Load() + res.Bytes - p.fileBytesCounted(&res))
		}
	}
	p.packets.Add(res.Packets & 1023)
	p.bytes.Store(p.bytes.Load() + res.Bytes - p.fileBytesCounted(&res))
	switch {
	case errors.Is(err, capture.ErrTruncated):
		res.Damage, res.Err, err = "truncated_file", err, nil
	case errors.Is(err, capture.ErrCorrupt):
		res.Damage, res.Err, err = "corrupt_record", err, nil
	case err != nil:
		res.Err = err
	}
	p.files = append(p.files, res)
	return err
}

const (
	// tickEvery is the capture time between the reader's ticks.
	tickEvery = time.Second
	// sendEvery: the reader hands every worker its pending frames (an
	// empty batch too, carrying the position) at least once per this many
	// frames, so that stage two never waits long for a quiet worker and
	// holds few observations.
	sendEvery = 4096
)

// tick sends every worker a tick at position at (capture time ts).
func (p *Pipeline) tick(at uint64, ts time.Time) {
	if len(p.workers) == 1 {
		p.workers[0].tick(at, ts)
		return
	}
	for i := range p.workers {
		b := p.pendingBatch(i)
		b.frames = append(b.frames, frameRef{n: -1, at: at, ci: gopacket.CaptureInfo{Timestamp: ts}})
	}
}

// sendAll hands every worker its pending batch, empty or not.
func (p *Pipeline) sendAll() {
	p.sent = p.frames
	for i := range p.workers {
		b := p.pendingBatch(i)
		b.end = 2 * p.frames
		p.queues[i] <- b
		p.pending[i] = nil
	}
}

func (p *Pipeline) pendingBatch(i int) *batch {
	b := p.pending[i]
	if b == nil {
		b = p.getBatch()
		p.pending[i] = b
	}
	return b
}

// fileBytesCounted tracks how many of the current file's bytes were already
// added to p.bytes (the reader publishes every 1024 frames).
func (p *Pipeline) fileBytesCounted(res *FileResult) uint64 {
	c := res.published
	res.published = res.Bytes
	return c
}

// dispatch copies a frame into the batch of the worker owning its flow.
func (p *Pipeline) dispatch(data []byte, ci gopacket.CaptureInfo, link layers.LinkType, at uint64) {
	i := 0
	if p.dec.Decode(data, link, &p.dp) == decode.OK {
		i = shard.Of(&p.dp, len(p.workers))
	}
	b := p.pendingBatch(i)
	b.frames = append(b.frames, frameRef{off: len(b.data), n: len(data), at: at, ci: ci, link: link})
	b.data = append(b.data, data...)
	if len(b.frames) >= batchFrames || len(b.data) >= batchBytes {
		b.end = at + 1
		p.queues[i] <- b
		p.pending[i] = nil
	}
}

func (p *Pipeline) getBatch() *batch {
	select {
	case b := <-p.free:
		return b
	default:
		// data grows to what batches need and keeps its size when the
		// batch is reused: 256 frames are far fewer bytes than batchBytes
		// on most traffic, and room never written still counts in the
		// heap the collector paces itself by (a larger heap between
		// collections is more fresh memory, each page a fault)
		return &batch{data: make([]byte, 0, batchStart), frames: make([]frameRef, 0, batchFrames)}
	}
}

// Close flushes every worker (open connections end, unmatched messages are
// reported), lets stage two finish, writes the final stats event and
// returns the summary.
func (p *Pipeline) Close() (*Summary, error) {
	if p.closed {
		return nil, errors.New("pipeline already closed")
	}
	p.closed = true
	if p.queues == nil && !p.live && len(p.workers) > 1 {
		// nothing was read (no capture could be opened): the workers
		// still end through stage two, which only the queues start
		p.startQueues()
	}
	switch {
	case p.queues != nil:
		for i := range p.workers {
			b := p.pendingBatch(i)
			b.end = 2 * p.frames
			p.queues[i] <- b
			close(p.queues[i])
		}
		p.wg.Wait()
		<-p.s2done
	case p.live: // workers and stage two finished when their sources ended
	default:
		for _, w := range p.workers {
			w.finish()
		}
	}
	for _, w := range p.workers {
		if w.last.After(p.lastTS) {
			p.lastTS = w.last
		}
	}
	p.s2.finish(p.lastTS)
	p.report(p.lastTS, true)
	p.s2.out()
	p.s2.publish()
	s := p.summary()
	p.final.Store(s)
	if p.keylog != nil {
		p.keylog.Close()
	}
	if p.emitSt {
		var buf []byte
		enc := event.Encoder{Sensor: p.cfg.Sensor.ID}
		st := s.Event(p.lastTS)
		buf = enc.AppendStats(buf, &st)
		p.out.write(buf)
		if p.Export != nil {
			p.Export("stats", p.cfg.Sensor.ID, buf[:len(buf)-1])
		}
	}
	return s, p.out.flush()
}

// worker owns one shard: decoder, reassembly, the stage-one analyzers and
// the observations it hands stage two.
type worker struct {
	p      *Pipeline
	id     int
	dec    *decode.Decoder
	dp     decode.Packet
	rp     reassembly.Packet
	asm    *reassembly.Worker
	enc    event.Encoder
	decode [decode.NumResults]uint64
	txs    atomic.Uint64
	mix    trafficMix
	chain  *analyzer.Chain
	last   time.Time // latest capture time seen (live sources)
	snap   workerSnap
	// what the observations made now are stamped with: the position of
	// the frame or tick being processed and its capture time
	at    uint64
	clock time.Time
	// direct: the only worker of a file read; stage two runs on its
	// goroutine and takes what a frame completes at once, without a copy.
	// collecting: a tick or the end is completing transactions, which go
	// to out first to be sorted.
	direct     bool
	collecting bool
	out        *obsBatch // observations for stage two
	scratch    obs       // the one observation of direct mode
	cur        *obs      // the observation stage one is filling
	curTx      *reassembly.Transaction
	other      uint64 // detections outside a transaction, numbered
	sentAt     time.Time
	sentCap    time.Time       // capture time of the last hand-over after a completed transaction (live)
	creds      identity.Parser // credentials, parsed once per transaction
}

// workerSnap is what a live worker last published for periodic stats: the
// worker's own counters are not safe to read from another goroutine.
type workerSnap struct {
	mu       sync.Mutex
	source   string    // the live source the worker reads
	at       time.Time // wall clock of the last publication
	packets  uint64
	bytes    uint64
	last     time.Time
	decode   [decode.NumResults]uint64
	stats    reassembly.Stats
	detected map[string]uint64
}

// publish copies the worker's counters for the stats goroutine.
func (w *worker) publish(now time.Time, res *FileResult) {
	sn := &w.snap
	sn.mu.Lock()
	sn.source, sn.at, sn.packets, sn.bytes, sn.last = res.Name, now, res.Packets, res.Bytes, w.last
	sn.decode = w.decode
	sn.stats = w.asm.Stats
	sn.stats.BufferDenied = w.asm.Budget.Denied
	sn.mu.Unlock()
}

// idle advances the worker's clock when a live source has nothing: idle
// connections close and stage two learns that nothing older will come.
func (w *worker) idle(now time.Time) {
	w.at, w.clock = uint64(now.UnixNano()), now
	w.asm.Tick(now)
	w.send(now, false)
}

// analyzerFlushEvery is how often (capture time) windowed analyzers and
// folds are flushed.
const analyzerFlushEvery = time.Second

// slot returns the observation to fill for what is being completed now.
func (w *worker) slot() *obs {
	if w.direct && !w.collecting {
		w.scratch.reset()
		return &w.scratch
	}
	if w.out == nil {
		w.out = w.getObsBatch()
	}
	return w.out.next()
}

// done hands a filled observation on: at once to stage two (direct), or
// (copying the transaction if stage two reads it) into the batch.
func (w *worker) done(o *obs, tx *reassembly.Transaction) {
	if w.direct && !w.collecting {
		w.p.s2.process(o, tx)
		return
	}
	if tx != nil && w.p.s2.needTx {
		o.copyTx(tx, w.out, w.p.s2.dec)
	}
}

func (w *worker) getObsBatch() *obsBatch {
	select {
	case b := <-w.p.obsFree:
		b.worker = w.id
		return b
	default:
		return &obsBatch{worker: w.id}
	}
}

// send hands the batch of observations to stage two with the worker's
// mark; final says the worker is done.
func (w *worker) send(now time.Time, final bool) {
	if w.direct {
		return
	}
	b := w.out
	if b == nil {
		b = w.getObsBatch()
	}
	w.out = nil
	b.final = final
	b.mark = w.at
	if w.p.live && !final {
		// a live worker's packets are in time order; allow for the other
		// sockets' lag when it is idle
		b.mark = uint64(max(w.clock.Add(-100*time.Millisecond).UnixNano(), 0))
	}
	w.sentAt = now
	w.p.obsCh <- b
}

// Detection implements analyzer.Emitter for stage one: the detection
// travels with the transaction's observation.
func (w *worker) Detection(d *event.Detection) {
	if w.curTx != nil && w.curTx.Flow.Confirmed {
		d.Confirmed = true
	}
	if o := w.cur; o != nil {
		o.addDetection(d)
		return
	}
	o := w.orphan()
	o.addDetection(d)
	w.done(o, nil)
}

// Fold implements analyzer.Folder: a repeated finding is folded in stage
// two, in capture order.
func (w *worker) Fold(spec analyzer.FoldSpec, k analyzer.FoldKey, d *event.Detection) {
	w.FoldLazy(spec, k, d, nil, nil)
}

// FoldLazy implements analyzer.LazyFolder: as Fold, with the evidence
// built in stage two only if the occurrence opens a detection.
func (w *worker) FoldLazy(spec analyzer.FoldSpec, k analyzer.FoldKey, d *event.Detection, ev analyzer.Evidencer, arg []byte) {
	if w.curTx != nil && w.curTx.Flow.Confirmed {
		d.Confirmed = true
	}
	if o := w.cur; o != nil {
		o.addFold(spec, k, d, ev, arg)
		return
	}
	o := w.orphan()
	o.addFold(spec, k, d, ev, arg)
	w.done(o, nil)
}

// orphan is an observation for a detection made outside a transaction.
func (w *worker) orphan() *obs {
	o := w.slot()
	w.other++
	o.kind, o.key, o.ts = obsOther, orderKey{w.at, flowTick - 1, w.other}, w.clock
	return o
}

// maxHosts bounds the per-worker host table of the summary; further hosts
// are counted as "(other)".
const maxHosts = 1024

// trafficMix counts transactions by host, method and status class for the
// human summary. A worker counts through pointers (one map lookup per
// name and transaction); merge sums workers into totals.
type trafficMix struct {
	hosts   map[string]*uint64
	methods map[string]*uint64
	status  [6]uint64 // none, 1xx..5xx
	// the merged totals (merge)
	hostTotal, methodTotal map[string]uint64
}

func (m *trafficMix) add(tx *reassembly.Transaction) {
	if m.hosts == nil {
		m.hosts, m.methods = map[string]*uint64{}, map[string]*uint64{}
	}
	host, method := "(unknown)", "(none)"
	if tx.Request != nil {
		if tx.Request.Host != "" {
			host = tx.Request.Host
		}
		method = tx.Request.Method
	}
	countIn(m.hosts, host, maxHosts)
	countIn(m.methods, method, 32)
	if tx.Response != nil && tx.Response.Status >= 100 && tx.Response.Status < 600 {
		m.status[tx.Response.Status/100]++
	} else {
		m.status[0]++
	}
}

// countIn counts k in t; a new name once t holds max names is counted as
// "(other)".
func countIn(t map[string]*uint64, k string, max int) {
	if n := t[k]; n != nil {
		*n++
		return
	}
	if len(t) >= max {
		k = "(other)"
		if n := t[k]; n != nil {
			*n++
			return
		}
	}
	n := new(uint64)
	*n = 1
	t[k] = n
}

func (m *trafficMix) merge(o *trafficMix) {
	if m.hostTotal == nil {
		m.hostTotal, m.methodTotal = map[string]uint64{}, map[string]uint64{}
	}
	for k, v := range o.hosts {
		m.hostTotal[k] += *v
	}
	for k, v := range o.methods {
		m.methodTotal[k] += *v
	}
	for i, v := range o.status {
		m.status[i] += v
	}
}

// top returns the n largest counts, ties by name.
func top(m map[string]uint64, n int) []event.Count {
	out := make([]event.Count, 0, len(m))
	for k, v := range m {
		out = append(out, event.Count{Name: k, N: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Name < out[j].Name
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func newWorker(p *Pipeline, chain *analyzer.Chain, id int) *worker {
	w := &worker{
		p:     p,
		id:    id,
		chain: chain,
		dec:   decode.New(p.cfg.DecodeOptions()),
		enc:   event.Encoder{Sensor: p.cfg.Sensor.ID, BodyBytes: p.cfg.Output.BodyBytes},
	}
	w.asm = reassembly.NewWorker(p.cfg.Reassembly, w.onTransaction)
	w.asm.OnMessage = w.onMessage
	if chain.ObservesTLS() || p.s2.chain.ObservesTLS() {
		w.asm.OnTLS = w.onTLS
	}
	return w
}

func (w *worker) loop(q chan *batch) {
	defer w.p.wg.Done()
	for b := range q {
		for i := range b.frames {
			f := &b.frames[i]
			if f.n < 0 {
				w.tick(f.at, f.ci.Timestamp)
				continue
			}
			w.frame(b.data[f.off:f.off+f.n], f.ci, f.link, f.at)
		}
		w.at = max(w.at, b.end)
		w.send(time.Time{}, false)
		b.data, b.frames, b.end = b.data[:0], b.frames[:0], 0
		select {
		case w.p.free <- b:
		default:
		}
	}
	w.finish()
}

// tick advances the worker's reassembly clock at position at: what times
// out is sorted into capture order, then a tick marker tells stage two
// that capture time has moved.
func (w *worker) tick(at uint64, ts time.Time) {
	w.at, w.clock = at, ts
	w.asm.ManualTick = true
	w.collecting = true
	if w.out == nil {
		w.out = w.getObsBatch()
	}
	from := w.out.n
	w.asm.Tick(ts)
	w.out.sortFrom(from)
	m := w.out.next()
	m.kind, m.key, m.ts = obsTick, orderKey{at, flowTick, 0}, ts
	w.collecting = false
	if w.direct {
		w.deliver()
	}
}

// deliver hands the collected observations to stage two (direct mode).
func (w *worker) deliver() {
	b := w.out
	if b == nil {
		return
	}
	for i := 0; i < b.n; i++ {
		w.p.s2.process(b.items[i], nil)
	}
	b.n = 0
	b.clearArenas()
}

// frame decodes one frame and feeds its TCP segment to reassembly; at is
// its position (see orderKey).
func (w *worker) frame(data []byte, ci gopacket.CaptureInfo, link layers.LinkType, at uint64) {
	w.at, w.clock = at, ci.Timestamp
	r := w.dec.Decode(data, link, &w.dp)
	w.decode[r]++
	if r != decode.OK {
		return
	}
	t := &w.dp.TCP
	rp := &w.rp
	if len(t.Payload) == 0 && !t.SYN && !t.FIN && !t.RST {
		// a pure ACK carries nothing the parser needs, except that it may
		// show a hole in the other direction to be lost (Worker.Ack looks
		// only at connections with a hole)
		if w.asm.HasHoles() {
			rp.NetFlow, rp.TCP, rp.CI, rp.Order = w.dp.NetFlow, t, ci, at
			rp.Src, rp.Dst, rp.SrcPort, rp.DstPort = w.dp.Src, w.dp.Dst, w.dp.SrcPort, w.dp.DstPort
			w.asm.Ack(rp)
		}
		return
	}
	rp.NetFlow, rp.TCP, rp.CI, rp.Order = w.dp.NetFlow, t, ci, at
	rp.Src, rp.Dst, rp.SrcPort, rp.DstPort = w.dp.Src, w.dp.Dst, w.dp.SrcPort, w.dp.DstPort
	rp.VLAN, rp.NVLAN = w.dp.VLAN, w.dp.NVLAN
	if len(ci.AncillaryData) > 0 {
		// the kernel stripped the outer tag: it comes first
		if v, ok := capture.VLANOf(&ci); ok {
			rp.VLAN = [2]uint16{v, rp.VLAN[0]}
			rp.NVLAN = min(rp.NVLAN+1, 2)
		}
	}
	tn := &w.dp.Tunnel
	rp.Tunnel = reassembly.Tunnel{Type: tn.Type.String(), OuterSrc: tn.OuterSrc, OuterDst: tn.OuterDst, ID: tn.ID}
	w.asm.Packet(rp)
}

func (w *worker) onTransaction(tx *reassembly.Transaction) {
	w.txs.Add(1)
	w.mix.add(tx)
	tx.ClientIP = w.p.ident.Client(tx)
	w.creds.Auth(tx)
	tx.Notes = reassembly.Notes{}
	o := w.slot()
	o.kind, o.key, o.ts, o.flowID = obsTx, orderKey{w.at, tx.Flow.Order, uint64(tx.Seq)}, w.clock, tx.Flow.ID
	if w.p.emitTx {
		o.line = w.enc.AppendTransaction(o.line, tx)
	}
	if tx.Response != nil {
		// a listening port answered: stage two teaches the blocklist its
		// monitored servers, in capture order
		o.server, o.client = tx.Flow.Server.Addr(), tx.Flow.Client.Addr()
		if tx.Response.Status < 400 && w.p.Block.Enabled() {
			o.principal, o.resolved = principalKey(&tx.Auth), tx.ClientAddr()
		}
	}
	w.cur, w.curTx = o, tx
	w.chain.Analyze(tx, w)
	w.cur, w.curTx = nil, nil
	w.done(o, tx)
}

// onMessage runs the analyzers that take messages on a WebSocket message
// (a transaction whose Message is set; see analyzer.MessageAnalyzer) and
// hands it to stage two like a transaction, as a message event.
func (w *worker) onMessage(tx *reassembly.Transaction) {
	tx.ClientIP = w.p.ident.Client(tx)
	w.creds.Auth(tx) // the upgrade request's (the worker's transaction is reused)
	tx.Notes = reassembly.Notes{}
	o := w.slot()
	o.kind, o.key, o.ts, o.flowID = obsTx, orderKey{w.at, tx.Flow.Order, uint64(tx.Seq)}, w.clock, tx.Flow.ID
	if w.p.emitMsg {
		o.line, o.lineType = w.enc.AppendMessage(o.line, tx), "message"
	}
	w.cur, w.curTx = o, tx
	w.chain.Analyze(tx, w)
	w.cur, w.curTx = nil, nil
	w.done(o, tx)
}

// onTLS hands a ClientHello to the stage-one analyzers that observe TLS
// and, as an observation, to stage two's.
func (w *worker) onTLS(f *reassembly.Flow, at time.Time, h *tlshello.Hello) {
	w.chain.TLSHello(f, at, h)
	if !w.p.s2.chain.ObservesTLS() {
		return
	}
	o := w.slot()
	o.kind, o.key, o.ts = obsHello, orderKey{w.at, f.Order, seqHello}, w.clock
	r := o.extra()
	o.hello, r.flow, r.helloAt = h, *f, at
	w.done(o, nil)
}

// finish ends the worker's input: open connections are flushed (sorted
// into capture order), stage-one analyzers report what is pending, and
// stage two gets the last observations.
func (w *worker) finish() {
	w.at = atFinal
	w.collecting = true
	if w.out == nil && !w.direct {
		w.out = w.getObsBatch()
	} else if w.out == nil {
		w.out = &obsBatch{}
	}
	from := w.out.n
	w.asm.Close()
	w.out.sortFrom(from)
	w.chain.Finish(w.p.lastTS, w)
	w.collecting = false
	if w.direct {
		w.deliver()
		return
	}
	w.send(time.Time{}, true)
}

// lockedWriter serialises the workers' event buffers onto one output.
type lockedWriter struct {
	mu  sync.Mutex
	w   *bufio.Writer
	err error
}

func (l *lockedWriter) write(b []byte) {
	l.mu.Lock()
	if l.err == nil {
		_, l.err = l.w.Write(b)
	}
	l.mu.Unlock()
}

func (l *lockedWriter) flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = l.w.Flush()
	}
	if l.err != nil {
		return fmt.Errorf("write events: %w", l.err)
	}
	return nil
}

// Summary is what a run did, for the final stats event and the human summary.
type Summary struct {
	Files      []FileResult
	Packets    uint64
	Bytes      uint64
	Wall       time.Duration
	Workers    int
	Decode     [decode.NumResults]uint64
	Reassembly reassembly.Stats
	// LastTime is the latest capture timestamp seen.
	LastTime time.Time
	// Hosts and Methods are the busiest, by transactions; Status counts
	// transactions by status class (index 0: no response).
	Hosts   []event.Count
	Methods []event.Count
	Status  [6]uint64
	// Detections counts detections by class.
	Detections []event.Count
	// Analyzers ran on every transaction, in order.
	Analyzers []string
	// Extra are drops counted outside the pipeline (see Pipeline.ExtraDrops).
	Extra []event.Count
	// Late counts live observations stage two processed out of capture
	// order (a worker lagged past the bound); Held is the most
	// observations stage two's merge held at once.
	Late, Held uint64
	// Observations counts the observations published for apitap
	// correlate (sensor.observations).
	Observations uint64
	// BlocklistWithheld counts the blocklist entries not made, by reason
	// (non-zero ones).
	BlocklistWithheld []event.Count
	// KeyLog counts what the TLS key log read (tls.go).
	KeyLog tlsdecrypt.KeyLogStats
	// Uprobes counts what the TLS uprobes did (tls.go).
	Uprobes []event.Count
}

func (p *Pipeline) summary() *Summary {
	s := &Summary{Files: p.files, Wall: time.Since(p.started), Workers: len(p.workers), LastTime: p.lastTS}
	var mix trafficMix
	for _, f := range p.files {
		s.Packets += f.Packets
		s.Bytes += f.Bytes
	}
	for _, w := range p.workers {
		for i, n := range w.decode {
			s.Decode[i] += n
		}
		s.Reassembly.Add(&w.asm.Stats)
		mix.merge(&w.mix)
	}
	s.Reassembly.HTTP.Add(&p.s2.dec.Stats) // bodies stage two decoded (it has finished)
	if p.s2.preDec != nil {
		s.Reassembly.HTTP.Add(&p.s2.preDec.Stats) // ... and its pre-stage
	}
	s.Late, s.Held = p.s2.late.Load(), p.s2.buffered.Load()
	s.Observations = p.observations.Load()
	s.KeyLog, s.Uprobes = p.keylogStats(), p.uprobeCounts()
	for k, v := range p.s2.detections() {
		s.Detections = append(s.Detections, event.Count{Name: k, N: v})
	}
	sort.Slice(s.Detections, func(i, j int) bool { return s.Detections[i].Name < s.Detections[j].Name })
	s.Analyzers = p.Analyzers
	s.Hosts, s.Methods, s.Status = top(mix.hostTotal, 5), top(mix.methodTotal, 6), mix.status
	if p.ExtraDrops != nil {
		s.Extra = p.ExtraDrops()
	}
	s.BlocklistWithheld = nonZero(p.Block.Withheld())
	return s
}

// statsLoop flushes the output every second and, every
// output.stats_interval, writes a stats event from the workers' last
// snapshots. It ends with ctx.
func (p *Pipeline) statsLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	next := time.Now().Add(p.cfg.Output.StatsInterval)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			// (shared state reports on stage two's goroutine: liveTick)
			// live: capture time is wall time, and it must advance when
			// no packet comes for entries to expire
			p.Block.Tick(time.Now())
			if p.emitSt && p.cfg.Output.StatsInterval > 0 && !now.Before(next) {
				next = now.Add(p.cfg.Output.StatsInterval)
				st := p.snapshot().Event(time.Time{})
				st.Final = false
				enc := event.Encoder{Sensor: p.cfg.Sensor.ID}
				line := enc.AppendStats(nil, &st)
				p.out.write(line)
				if p.Export != nil {
					p.Export("stats", p.cfg.Sensor.ID, line[:len(line)-1])
				}
			}
			p.out.flush()
		}
	}
}

// Stats is a live snapshot of the counters (safe from any goroutine):
// what the live workers last published, about once a second, and the
// final counters once the pipeline is closed.
func (p *Pipeline) Stats() event.Stats {
	if s := p.final.Load(); s != nil {
		return s.Event(p.lastTS)
	}
	return p.snapshot().Event(time.Time{})
}

// StatsEvent is Stats as a stats event line (without the newline).
func (p *Pipeline) StatsEvent() []byte {
	st := p.Stats()
	enc := event.Encoder{Sensor: p.cfg.Sensor.ID}
	line := enc.AppendStats(nil, &st)
	return line[:len(line)-1]
}

// snapshot sums what the live workers last published.
func (p *Pipeline) snapshot() *Summary {
	s := &Summary{Wall: time.Since(p.started), Workers: len(p.workers)}
	for _, w := range p.workers {
		sn := &w.snap
		sn.mu.Lock()
		s.Packets += sn.packets
		s.Bytes += sn.bytes
		if sn.last.After(s.LastTime) {
			s.LastTime = sn.last
		}
		for i, n := range sn.decode {
			s.Decode[i] += n
		}
		s.Reassembly.Add(&sn.stats)
		sn.mu.Unlock()
	}
	s.Late, s.Held = p.s2.late.Load(), p.s2.buffered.Load()
	s.Observations = p.observations.Load()
	s.KeyLog, s.Uprobes = p.keylogStats(), p.uprobeCounts()
	for k, v := range p.s2.detections() {
		s.Detections = append(s.Detections, event.Count{Name: k, N: v})
	}
	sort.Slice(s.Detections, func(i, j int) bool { return s.Detections[i].Name < s.Detections[j].Name })
	if p.ExtraDrops != nil {
		s.Extra = p.ExtraDrops()
	}
	s.BlocklistWithheld = nonZero(p.Block.Withheld())
	return s
}

// SourceStats is what one live source delivered.
type SourceStats struct {
	Source         string
	Packets, Bytes uint64
}

// Sources reports the packets and bytes per live source (apitap run; by
// source name, sorted), as the workers last published them.
func (p *Pipeline) Sources() []SourceStats {
	by := map[string]*SourceStats{}
	var out []SourceStats
	for _, w := range p.workers {
		sn := &w.snap
		sn.mu.Lock()
		if sn.source != "" {
			s := by[sn.source]
			if s == nil {
				s = &SourceStats{Source: sn.source}
				by[sn.source] = s
			}
			s.Packets += sn.packets
			s.Bytes += sn.bytes
		}
		sn.mu.Unlock()
	}
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

// AnalyzerCosts sums, over the workers, the time each analyzer spent on
// the transactions timed (one in 64; safe from any goroutine).
func (p *Pipeline) AnalyzerCosts() []analyzer.Cost {
	var out []analyzer.Cost
	for _, w := range p.workers {
		if w.chain == nil {
			continue
		}
		for i, c := range w.chain.Costs() {
			if i == len(out) {
				out = append(out, analyzer.Cost{Analyzer: c.Analyzer})
			}
			out[i].Sampled += c.Sampled
			out[i].Nanos += c.Nanos
		}
	}
	// an analyzer with a part in stage two is one entry: its time is the
	// sum (the parts see the same transactions)
	costs := p.s2.chain.Costs()
	if p.s2.pre != nil {
		costs = append(p.s2.pre.Costs(), costs...)
	}
	for _, c := range costs {
		if i := slices.IndexFunc(out, func(o analyzer.Cost) bool { return o.Analyzer == c.Analyzer }); i >= 0 {
			out[i].Nanos += c.Nanos
			continue
		}
		out = append(out, c)
	}
	return out
}

// Drops lists what was dropped, by pipeline stage.
func (s *Summary) Drops() []event.Count {
	d := []event.Count{
		{Name: "reassembly_flows", N: s.Reassembly.FlowsRejected},
		{Name: "http_buffer", N: s.Reassembly.BufferDenied},
		{Name: "http_pipeline", N: s.Reassembly.HTTP.ParseErrors[http1.ErrPipelineOverflow]},
		// segments whose bytes disagreed with what was already seen for
		// their sequence range: one version was dropped (evasion attempt)
		{Name: "reassembly_overlap_conflict", N: s.Reassembly.OverlapConflicts},
		// connection attempts (SYN only) forgotten: a SYN flood
		{Name: "reassembly_half_open", N: s.Reassembly.HalfOpenDropped},
		// HTTP/2 streams reported early: more were open on a connection
		// than reassembly/http2.MaxStreams
		{Name: "http2_streams", N: s.Reassembly.HTTP2.StreamsEvicted},
		// new one-sided connections beyond max_unanswered_flows: spoofed
		// sources, scans
		{Name: "reassembly_unanswered", N: s.Reassembly.UnansweredRejected},
		// live observations stage two processed out of capture order (not
		// lost: a worker lagged more than the bound)
		{Name: "stage2_late", N: s.Late},
	}
	d = append(d, s.Extra...)
	sort.Slice(d, func(i, j int) bool { return d[i].Name < d[j].Name })
	return nonZero(d)
}

// Event builds the final stats event (time: the last capture timestamp).
func (s *Summary) Event(last time.Time) event.Stats {
	if last.IsZero() {
		last = s.LastTime
	}
	st := event.Stats{
		Time:         last,
		Final:        true,
		Packets:      s.Packets,
		Bytes:        s.Bytes,
		Flows:        s.Reassembly.Flows,
		FlowsOpen:    uint64(max(0, s.Reassembly.FlowsOpen)),
		Transactions: s.Reassembly.Transactions,
		Drops:        s.Drops(),
		Detections:   s.Detections,
		Observations: s.Observations,
		// sorted by name, as every counter object
		BlocklistWithheld: slices.SortedFunc(slices.Values(s.BlocklistWithheld), func(a, b event.Count) int { return strings.Compare(a.Name, b.Name) }),
		TLS:               s.tlsCounts(),
	}
	for i, n := range s.Decode {
		if i != int(decode.OK) && n > 0 {
			st.Decode = append(st.Decode, event.Count{Name: decode.Result(i).String(), N: n})
		}
	}
	for i, n := range s.Reassembly.HTTP.ParseErrors {
		if n > 0 {
			st.ParseErrors = append(st.ParseErrors, event.Count{Name: http1.ParseError(i).String(), N: n})
		}
	}
	for i, n := range s.Reassembly.Flags {
		if n > 0 {
			st.Flags = append(st.Flags, event.Count{Name: http1.FlagNames[i], N: n})
		}
	}
	for i, n := range s.Reassembly.HTTP2.Flags {
		if n > 0 {
			st.Flags = append(st.Flags, event.Count{Name: http2.FlagNames[i], N: n})
		}
	}
	s.Reassembly.HTTP2.Counts(func(name string, n uint64) {
		if n > 0 {
			st.HTTP2 = append(st.HTTP2, event.Count{Name: name, N: n})
		}
	})
	damage := map[string]uint64{}
	for _, f := range s.Files {
		if f.Damage != "" {
			damage[f.Damage]++
		}
	}
	for k, n := range damage {
		st.CaptureErrors = append(st.CaptureErrors, event.Count{Name: k, N: n})
	}
	for _, c := range s.Reassembly.WebSocket.Counts() {
		st.WebSocket = append(st.WebSocket, event.Count{Name: c.Name, N: c.N})
	}
	h := &s.Reassembly.HTTP
	st.Reassembly = nonZero([]event.Count{ // by name
		{Name: "acked_holes", N: s.Reassembly.AckedHoles},
		{Name: "bodies_truncated", N: h.BodyTruncated},
		{Name: "bombs_stopped", N: h.BombsStopped},
		{Name: "decode_errors", N: h.DecodeErrors},
		{Name: "heads_cut", N: h.HeadsCut},
		{Name: "heads_unanswered", N: h.HeadsUnanswered},
		{Name: "http_resyncs", N: h.Resyncs},
		{Name: "http_skipped_bytes", N: h.SkippedBytes},
		{Name: "lost_responses", N: h.LostResponses},
		{Name: "rst_ignored", N: s.Reassembly.RSTIgnored},
	})
	for _, l := range [][]event.Count{st.Decode, st.ParseErrors, st.Flags, st.CaptureErrors, st.HTTP2} {
		sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	}
	return st
}

func nonZero(c []event.Count) []event.Count {
	out := c[:0]
	for _, x := range c {
		if x.N > 0 {
			out = append(out, x)
		}
	}
	return out
}

// principalKey names the identity a request's credentials carry, for the
// blocklist's count of identities per address, by a 64-bit hash (0:
// none; computed without allocating, for every accepted request): the
// principal of a JWT, a Basic or Digest user, the signer of a signature
// scheme (AWS, Hawk, HTTP Signatures: their credential changes on every
// request and would make one client many identities), else an opaque
// credential, else an API key header's value (X-API-Key...: the README
// and the configuration count API keys among the identities). Each kind
// hashes apart from the others. Session cookies do not count: a server
// answers 200 whatever cookie it does not know, so one client could pass
// for many.
func principalKey(a *reassembly.Auth) uint64 {
	var h uint64
	switch {
	case a.Principal != "":
		h = fnv64('u', a.Principal)
	case a.Credential != "":
		h = fnv64('k', a.Credential)
	case a.APIKey != "":
		h = fnv64('a', a.APIKey)
	default:
		return 0
	}
	return max(h, 1)
}

// fnv64 is the FNV-1a hash of kind and s (a credential is never kept
// raw).
func fnv64(kind byte, s string) uint64 {
	h := (uint64(14695981039346656037) ^ uint64(kind)) * 1099511628211
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
