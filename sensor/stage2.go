package sensor

import (
	"github.com/apitap/apitap/reassembly/http1"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/aggregate"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/reassembly"
)

// stage2 is the ordered stage: it sees every worker's observations in
// capture order on one goroutine (from pipelineWorkers workers, two in
// a pipeline: the merge with the pre-stage, then the rest) and owns what
// spans flows: the
// StageOrdered analyzers (actors, the catalog), the folding of repeated
// findings, the blocklist, the detection log and the order of the output.
// Given the same observations in the same order it produces the same
// events, so the output does not depend on the number of workers.
type stage2 struct {
	p      *Pipeline
	chain  *analyzer.Chain // StageOrdered analyzers (may be empty)
	needTx bool            // the chain reads transactions: workers copy them
	// pre, behind several workers (pipelineWorkers), is the first part of
	// the ordered analyzers (the flow analyzers' ordered parts) on a
	// goroutine of its own, ahead of the rest: see merge. It folds and
	// emits through rec into the observation, which stage two replays in
	// order; it decodes bodies with preDec.
	pre    *analyzer.Chain
	rec    *preRecorder
	preDec *http1.Decoder
	folds  map[string]*aggregate.Aggregator
	enc    event.Encoder
	// dec decodes the response bodies workers handed over still coded
	// (http1.Body.Detach), if a stage-two analyzer reads them; its
	// counters join the summary at the end.
	dec    *http1.Decoder
	buf    []byte
	cur    *reassembly.Transaction // the transaction being processed (confirmation of detections)
	clock  time.Time               // latest capture time processed
	flush  time.Time               // next flush of windows and folds (capture time)
	second int64                   // capture second of the last blocklist tick
	last   orderKey                // last key processed
	ticked orderKey                // last tick marker processed (every worker sends one)
	dets   map[string]uint64       // detections by class
	// Late counts live observations that arrived after later ones had
	// been processed (a worker lagged more than the lateness bound); they
	// are processed on arrival. Buffered is the most observations the merge
	// held at once.
	late     atomic.Uint64
	buffered atomic.Uint64
	snapMu   sync.Mutex
	snapDets map[string]uint64 // dets as last published (for live stats)
}

func newStage2(p *Pipeline) *stage2 {
	return &stage2{p: p, folds: map[string]*aggregate.Aggregator{},
		enc: event.Encoder{Sensor: p.cfg.Sensor.ID}, dets: map[string]uint64{},
		dec: http1.NewDecoder(p.cfg.Reassembly.HTTP.Limits())}
}

// setChain sets the ordered analyzers (built after stage two: the flow
// analyzers' ordered parts fold through it), and the pre-stage's part of
// them when there is one (pre: built with s.rec as its folder).
func (s *stage2) setChain(chain, pre *analyzer.Chain) {
	s.chain, s.needTx = chain, chain.Len() > 0
	if pre != nil && pre.Len() > 0 {
		s.pre, s.needTx = pre, true
		s.preDec = http1.NewDecoder(s.p.cfg.Reassembly.HTTP.Limits())
	}
}

// pipelineWorkers is the number of workers from which the ordered
// analyzers run in two stages: the flow analyzers' ordered parts (the
// sensitive analyzer's response scan, the costliest) on a goroutine of
// their own, ahead of the rest. Stage two is serial, so it bounds the
// speed-up over workers; with fewer workers than this the hand-over
// between the stages costs more than the overlap gives.
const pipelineWorkers = 3

// preRecorder is the pre-stage's emitter and folder: what the ordered
// parts emit and fold on a transaction is recorded in its observation, and
// stage two replays it in order (process) through its own emitter and
// folder, where the one chain of a single stage would have made it (the
// Confirmed flag included). With no observation (Finish, called by Close
// once both goroutines have ended) it hands on at once.
type preRecorder struct {
	s   *stage2
	cur *obs
}

// Detection implements analyzer.Emitter.
func (r *preRecorder) Detection(d *event.Detection) {
	if r.cur == nil {
		r.s.Detection(d)
		return
	}
	r.cur.addPre(analyzer.FoldSpec{}, analyzer.FoldKey{}, d, nil, nil, true)
}

// Fold implements analyzer.Folder.
func (r *preRecorder) Fold(spec analyzer.FoldSpec, k analyzer.FoldKey, d *event.Detection) {
	r.FoldLazy(spec, k, d, nil, nil)
}

// FoldLazy implements analyzer.LazyFolder.
func (r *preRecorder) FoldLazy(spec analyzer.FoldSpec, k analyzer.FoldKey, d *event.Detection, ev analyzer.Evidencer, arg []byte) {
	if r.cur == nil {
		stage2Folder{r.s}.FoldLazy(spec, k, d, ev, arg)
		return
	}
	r.cur.addPre(spec, k, d, ev, arg, false)
}

// preAnalyze runs the pre-stage on one observation of batch b, on the
// merge's goroutine. The observation's bodies decode with the pre-stage's
// decoder meanwhile; what it decoded is copied into the batch's arena
// (its decoder's buffers serve the next transaction), and what it left
// coded goes back to stage two's decoder.
func (s *stage2) preAnalyze(o *obs, b *obsBatch) {
	if o.kind != obsTx || !o.hasTx {
		return
	}
	tx := &o.tx
	var pending [2]bool
	for slot, body := range [2]*http1.Body{reqBody(tx), respBody(tx)} {
		if body != nil && body.Pending() {
			pending[slot] = true
			body.Rebind(s.preDec, slot)
		}
	}
	s.rec.cur = o
	s.pre.Analyze(tx, s.rec)
	s.rec.cur = nil
	for slot, body := range [2]*http1.Body{reqBody(tx), respBody(tx)} {
		switch {
		case !pending[slot]:
		case body.Pending():
			body.Rebind(s.dec, slot)
		default:
			body.Data = b.keep(body.Data)
		}
	}
}

func reqBody(tx *reassembly.Transaction) *http1.Body {
	if tx.Request == nil {
		return nil
	}
	return &tx.Request.Body
}

func respBody(tx *reassembly.Transaction) *http1.Body {
	if tx.Response == nil {
		return nil
	}
	return &tx.Response.Body
}

// stage2Folder folds the findings of the flow analyzers' ordered parts
// (analyzer.Env.Folder) with the ones their stage-one instances send.
type stage2Folder struct{ s *stage2 }

// Fold implements analyzer.Folder.
func (f stage2Folder) Fold(spec analyzer.FoldSpec, k analyzer.FoldKey, d *event.Detection) {
	if f.s.cur != nil && f.s.cur.Flow.Confirmed {
		d.Confirmed = true
	}
	f.s.aggregator(spec).Fold(k, d, f.s)
}

// FoldLazy implements analyzer.LazyFolder: the ordered parts run in
// capture order, so the occurrence is folded at once.
func (f stage2Folder) FoldLazy(spec analyzer.FoldSpec, k analyzer.FoldKey, d *event.Detection, ev analyzer.Evidencer, arg []byte) {
	if f.s.cur != nil && f.s.cur.Flow.Confirmed {
		d.Confirmed = true
	}
	f.s.aggregator(spec).FoldLazy(k, d, ev, arg, f.s)
}

// process handles one observation. tx is the transaction itself when
// stage two runs inline with the only worker (nothing was copied), nil
// otherwise (o.tx is the copy, when hasTx).
func (s *stage2) process(o *obs, tx *reassembly.Transaction) {
	if o.kind == obsTick {
		if o.key == s.ticked {
			return // the other workers' markers of the same tick
		}
		s.ticked = o.key
	}
	s.last = o.key
	s.advance(o.ts)
	if len(o.line) > 0 {
		typ := "transaction"
		if o.lineType != "" {
			typ = o.lineType
		}
		s.write(o.line, typ, flowKey(o, tx))
	}
	if o.server.IsValid() {
		s.p.Block.NoteServer(o.server, o.client)
	}
	if o.principal != 0 {
		s.p.Block.NoteClientID(o.resolved, o.principal, o.ts)
	}
	for i := range o.dets {
		s.detection(&o.dets[i])
	}
	for i := range o.folds {
		f := &o.folds[i]
		if f.ev != nil {
			s.aggregator(f.spec).FoldLazy(f.key, &f.d, f.ev, f.arg, s)
		} else {
			s.aggregator(f.spec).Fold(f.key, &f.d, s)
		}
	}
	if tx == nil && o.hasTx {
		tx = &o.tx
	}
	switch {
	case o.kind == obsTx && tx != nil && (s.chain.Len() > 0 || len(o.pre) > 0):
		s.cur = tx
		for i := range o.pre { // the pre-stage's, as the one chain would have made them
			f := &o.pre[i]
			switch {
			case f.det:
				s.Detection(&f.d)
			case f.ev != nil:
				stage2Folder{s}.FoldLazy(f.spec, f.key, &f.d, f.ev, f.arg)
			default:
				stage2Folder{s}.Fold(f.spec, f.key, &f.d)
			}
		}
		s.chain.Analyze(tx, s)
		s.cur = nil
	case o.kind == obsHello && o.hello != nil:
		s.chain.TLSHello(&o.rare.flow, o.rare.helloAt, o.hello)
	}
	s.flushOut()
}

func flowKey(o *obs, tx *reassembly.Transaction) string {
	if tx != nil {
		return tx.Flow.ID
	}
	return o.flowID // set whether or not the transaction was copied
}

// advance moves the capture clock: every second of capture time the
// windows of the ordered analyzers and the folds are flushed and blocklist
// entries expire.
func (s *stage2) advance(ts time.Time) {
	if !ts.After(s.clock) {
		return
	}
	s.clock = ts
	if sec := ts.Unix(); sec != s.second {
		s.second = sec
		s.p.Block.Tick(ts) // entries expire in capture time
	}
	if s.flush.IsZero() {
		s.flush = ts.Add(analyzerFlushEvery)
		return
	}
	if ts.Before(s.flush) {
		return
	}
	s.flush = ts.Add(analyzerFlushEvery)
	for _, k := range slices.Sorted(maps.Keys(s.folds)) {
		s.folds[k].Flush(ts, s, false)
	}
	s.chain.Flush(ts, s)
}

// finish ends the input: folds and windows report what is pending.
func (s *stage2) finish(now time.Time) {
	if now.Before(s.clock) {
		now = s.clock
	}
	for _, k := range slices.Sorted(maps.Keys(s.folds)) {
		s.folds[k].Flush(now, s, true)
	}
	if s.pre != nil { // its goroutine has finished: it hands on at once
		s.pre.Finish(now, s.rec)
	}
	s.chain.Finish(now, s)
	s.flushOut()
}

// aggregator returns the aggregator folding spec's findings.
func (s *stage2) aggregator(spec analyzer.FoldSpec) *aggregate.Aggregator {
	a := s.folds[spec.Prefix]
	if a == nil {
		a = aggregate.FromSpec(spec)
		s.folds[spec.Prefix] = a
	}
	return a
}

// Detection implements analyzer.Emitter for the ordered analyzers and the
// folds: the detection is checked against the blocklist policy, logged,
// counted and written.
func (s *stage2) Detection(d *event.Detection) {
	if s.cur != nil && s.cur.Flow.Confirmed {
		d.Confirmed = true
	}
	s.detection(d)
}

func (s *stage2) detection(d *event.Detection) {
	s.p.Block.Detection(d)
	s.p.Detections.Add(d)
	s.dets[d.Class]++
	if !s.p.emitDet {
		return
	}
	start := len(s.buf)
	s.buf = s.enc.AppendDetection(s.buf, d)
	if s.p.Export != nil {
		s.p.Export("detection", d.Actor.Key(), s.buf[start:len(s.buf)-1])
	}
}

// write appends one event line (with its newline) and exports it.
func (s *stage2) write(line []byte, typ, key string) {
	s.buf = append(s.buf, line...)
	if s.p.Export != nil {
		s.p.Export(typ, key, line[:len(line)-1])
	}
}

func (s *stage2) flushOut() {
	if len(s.buf) >= outFlush {
		s.out()
	}
}

// out hands the buffered events to the output.
func (s *stage2) out() {
	if len(s.buf) > 0 {
		s.p.out.write(s.buf)
		s.buf = s.buf[:0]
	}
}

// publish copies the counters for the stats of a live pipeline.
func (s *stage2) publish() {
	s.snapMu.Lock()
	if s.snapDets == nil {
		s.snapDets = map[string]uint64{}
	}
	maps.Copy(s.snapDets, s.dets)
	s.snapMu.Unlock()
}

// detections returns the published counts by class.
func (s *stage2) detections() map[string]uint64 {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	return maps.Clone(s.snapDets)
}

// merge runs stage two behind several workers: it takes their batches from
// one channel (so that no worker waits for another) and processes the
// observations in key order, an observation only once every other worker
// has either a later one queued or a mark past it. live bounds how long it
// waits for a lagging worker: after maxLate, what is queued is processed
// and what arrives older than that is processed on arrival and counted.
type merge struct {
	s     *stage2
	q     [][]*obsBatch // per worker, oldest first
	pos   []int         // next item of each worker's first batch
	mark  []uint64
	done  []bool
	held  int // observations queued
	free  chan *obsBatch
	live  bool
	since time.Time // when the merge started waiting for a lagging worker
	last  orderKey  // the last key handed on
	// With a pre-stage (stage2.pre) the merge runs it and hands what it
	// processed to stage two's own goroutine through pipe, in order, in
	// chunks (out); batches are recycled and live ticks run there too.
	pipe  chan []stageItem
	out   []stageItem
	spare chan []stageItem
}

// stageItem is one step for stage two behind the pre-stage: an
// observation to process, a batch to recycle (all its observations
// processed), or a live tick.
type stageItem struct {
	o       *obs
	recycle *obsBatch
	tick    time.Time
}

// stageChunk bounds the items handed over at once.
const stageChunk = 256

// send hands what the merge processed to stage two.
func (m *merge) send() {
	if m.pipe == nil || len(m.out) == 0 {
		return
	}
	m.pipe <- m.out
	select {
	case m.out = <-m.spare:
	default:
		m.out = make([]stageItem, 0, stageChunk)
	}
}

// consume is stage two behind the pre-stage: it processes what the merge
// hands on until the pipe closes.
func (m *merge) consume(tick func(now time.Time)) {
	for chunk := range m.pipe {
		for i := range chunk {
			it := &chunk[i]
			switch {
			case it.o != nil:
				m.s.process(it.o, nil)
			case it.recycle != nil:
				m.recycle(it.recycle)
			case tick != nil:
				tick(it.tick)
			}
		}
		clear(chunk)
		select {
		case m.spare <- chunk[:0]:
		default:
		}
	}
}

// maxLate bounds how long (wall time) a live merge waits for a worker
// whose mark lags.
const maxLate = 500 * time.Millisecond

func newMerge(s *stage2, workers int, free chan *obsBatch, live bool) *merge {
	return &merge{s: s, q: make([][]*obsBatch, workers), pos: make([]int, workers), mark: make([]uint64, workers), done: make([]bool, workers), free: free, live: live}
}

// run processes batches from in until every worker has sent its final
// batch. tick, when set (live), is called about every second.
func (m *merge) run(in <-chan *obsBatch, tick func(now time.Time)) {
	var timer <-chan time.Time
	if m.live {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		timer = t.C
	}
	lastTick := time.Now()
	for !m.finished() {
		select {
		case b := <-in:
			m.add(b)
			m.drain(false)
		case now := <-timer:
			m.drain(!m.since.IsZero() && now.Sub(m.since) >= maxLate)
			if now.Sub(lastTick) >= time.Second && tick != nil {
				lastTick = now
				if m.pipe != nil {
					m.out = append(m.out, stageItem{tick: now})
				} else {
					tick(now)
				}
			}
		}
		m.send()
	}
	m.drain(true)
	m.send()
}

func (m *merge) finished() bool {
	for i, d := range m.done {
		if !d || len(m.q[i]) > 0 {
			return false
		}
	}
	return true
}

func (m *merge) add(b *obsBatch) {
	i := b.worker
	if b.mark > m.mark[i] {
		m.mark[i] = b.mark
	}
	if b.final {
		m.done[i] = true
		m.mark[i] = ^uint64(0)
	}
	if b.n == 0 {
		m.recycle(b)
		return
	}
	m.q[i] = append(m.q[i], b)
	m.held += b.n
	if uint64(m.held) > m.s.buffered.Load() {
		m.s.buffered.Store(uint64(m.held))
	}
}

// drain processes what is safe to process; force (live, a worker lagged
// too long, or the end) processes everything queued in key order.
func (m *merge) drain(force bool) {
	for {
		best := -1
		var key orderKey
		for i := range m.q {
			if len(m.q[i]) == 0 {
				continue
			}
			k := m.q[i][0].items[m.pos[i]].key
			if best < 0 || k.less(key) {
				best, key = i, k
			}
		}
		if best < 0 {
			m.since = time.Time{}
			return
		}
		if !force {
			for j := range m.q {
				if j != best && len(m.q[j]) == 0 && !m.done[j] && m.mark[j] <= key.at {
					if m.since.IsZero() {
						m.since = time.Now()
					}
					return // worker j may still send something earlier
				}
			}
		}
		m.since = time.Time{}
		b := m.q[best][0]
		o := b.items[m.pos[best]]
		if m.live && o.key.less(m.last) {
			m.s.late.Add(1)
		}
		m.last = o.key
		if m.s.pre != nil {
			m.s.preAnalyze(o, b)
		}
		if m.pipe != nil {
			m.out = append(m.out, stageItem{o: o})
		} else {
			m.s.process(o, nil)
		}
		m.held--
		m.pos[best]++
		if m.pos[best] == b.n {
			m.q[best] = m.q[best][1:]
			m.pos[best] = 0
			if m.pipe != nil {
				m.out = append(m.out, stageItem{recycle: b})
			} else {
				m.recycle(b)
			}
		}
		if len(m.out) >= stageChunk {
			m.send()
		}
	}
}

// recycle returns a batch to the workers' pool. It runs on the merge's
// goroutine, or on stage two's behind a pre-stage (the pool is a channel).
func (m *merge) recycle(b *obsBatch) {
	b.n, b.final, b.mark = 0, false, 0
	b.clearArenas()
	select {
	case m.free <- b:
	default:
	}
}
