package analyzer

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/tlshello"
)

// Emitter receives what analyzers decide. The sensor worker that runs a
// chain implements it; d is encoded before Detection returns, so an
// analyzer may reuse it.
type Emitter interface {
	Detection(d *event.Detection)
}

// FoldKey identifies one folded (aggregated) detection: see package
// aggregate.
type FoldKey struct {
	Class, Rule, Host, Method, Path, Name string
}

// FoldSpec is how occurrences of one analyzer's findings fold: the prefix
// of the detection ids, the interval between updates of an open
// detection (capture time) and the bound on open detections.
type FoldSpec struct {
	Prefix   string
	Interval time.Duration
	Max      int
	// Clients > 0 lists up to that many clients (actor addresses) of a
	// folded detection in its evidence, with their counts (posture
	// findings: who sends credentials in clear text).
	Clients int
}

// Folder is implemented by Emitters that fold repeated findings
// elsewhere: the sensor's stage-one workers hand each occurrence to stage
// two, which folds them in capture order. d is only valid during the call.
type Folder interface {
	Fold(spec FoldSpec, k FoldKey, d *event.Detection)
}

// LazyFolder is implemented by Folders (stage one's workers, stage two
// for the ordered parts): FoldLazy hands over an occurrence d without its
// evidence, which ev builds from arg only if the occurrence opens a
// detection (most occurrences of a repeated finding are counted and
// dropped; aggregate.Aggregator.FoldLazy). ev may run on another goroutine
// than the caller: it must be a function of arg and of state that does
// not change. d and arg are only valid during the call.
type LazyFolder interface {
	FoldLazy(spec FoldSpec, k FoldKey, d *event.Detection, ev Evidencer, arg []byte)
}

// Evidencer builds a detection's evidence from what its analyzer
// encoded into arg (see LazyFolder).
type Evidencer interface {
	Evidence(arg []byte) []event.Evidence
}

// Analyzer looks at transactions, synchronously, on the worker goroutine
// that reassembled them. It must not keep tx (strings inside may be kept).
type Analyzer interface {
	Name() string
	Analyze(tx *reassembly.Transaction, emit Emitter)
}

// Flusher is implemented by analyzers with windows or pending state:
// Flush is called as capture time advances and once at the end.
type Flusher interface {
	Flush(now time.Time, emit Emitter)
}

// Finisher is implemented by analyzers with pending state to report at
// the end of the input (aggregated counts): the sensor calls Finish once,
// instead of the last Flush.
type Finisher interface {
	Finish(now time.Time, emit Emitter)
}

// Env is what an analyzer gets from the sensor.
type Env struct {
	Log    zerolog.Logger
	Sensor string // sensor id
	Worker int    // index of the worker running this instance
	// Shared is what the descriptor's NewShared returned (nil without
	// one): state every worker's instance updates, such as the catalog.
	Shared any
	// Lookup returns another enabled analyzer's shared state by name (nil
	// if it is off). Call it when running, not from NewShared: the states
	// are built in chain order.
	Lookup func(name string) any
	// Live is set when the input is a live source (apitap run): bounds
	// that depend on the machine's speed (the attack analyzer's deep check
	// per worker) apply only then, so that a capture file gives the same
	// output with any number of workers.
	Live bool
	// Split is set when the pipeline runs the descriptors' NewOrdered
	// parts in stage two: a flow analyzer with one leaves that part's
	// work to it.
	Split bool
	// Folder, for a NewOrdered part, folds repeated findings with the
	// ones stage one sends (the same aggregators, by FoldSpec), so that a
	// finding reported by both parts is one detection.
	Folder Folder
}

// EventSink takes finished event lines (without the trailing newline) of
// a type, with the key Kafka partitions them by, and detections made by
// shared state (encoded, exported and counted like the workers').
type EventSink interface {
	Event(typ, key string, line []byte)
	Detection(d *event.Detection)
}

// EventFilter is implemented by an EventSink that drops some event types:
// a Reporter skips building the events of a type the sink does not want.
type EventFilter interface {
	Wants(typ string) bool
}

// Reporter is implemented by shared state that emits events of its own
// (endpoint events of the catalog). The sensor calls Report from one
// goroutine: periodically on live sources (final false; now is the latest
// capture time) and once at the end (final true), after every worker has
// finished. Report decides itself what is due.
type Reporter interface {
	Report(now time.Time, final bool, out EventSink)
}

// Stage says where an analyzer runs.
type Stage uint8

const (
	// StageFlow analyzers (stage one) run on the worker that reassembled
	// the transaction, in parallel with other workers. They may keep state
	// per flow (a flow always reaches the same worker) and caches that
	// never change an answer, but nothing that spans flows: what they find
	// repeatedly goes to stage two through Emitter's folding (see
	// aggregate.Aggregator), so that the output does not depend on how
	// flows were spread over workers.
	StageFlow Stage = iota
	// StageOrdered analyzers (stage two) run on one goroutine that sees
	// every transaction of every worker in capture order: state that spans
	// flows (actors, the catalog) lives here, without locks on the hot
	// path. They get a transaction that stage one has finished with (its
	// verdicts set) and own it only during the call.
	StageOrdered
)

func (s Stage) String() string {
	if s == StageOrdered {
		return "ordered"
	}
	return "flow"
}

// Descriptor registers an analyzer (from its package's init function).
type Descriptor struct {
	Name string // = its folder name, the key of its configuration section
	// Stage is where the analyzer runs: StageFlow (the default) or
	// StageOrdered.
	Stage Stage
	// After lists the analyzers whose verdicts (Transaction.Notes) this one
	// reads: when they are enabled they run first. A StageFlow analyzer can
	// not come after a StageOrdered one. The chain order is the stage, then
	// these constraints, then the name; Registered and `apitap config
	// check` show it.
	After []string
	// Provides names the verdicts the analyzer writes (documentation,
	// shown by `apitap config check`).
	Provides []string
	Default  bool // enabled when the configuration does not mention it
	// NewConfig returns the analyzer's configuration with its defaults;
	// the YAML section is decoded strictly over it.
	NewConfig func() any
	// New builds one instance from a decoded configuration: one per worker
	// for StageFlow, one for StageOrdered.
	New func(cfg any, env Env) (Analyzer, error)
	// NewShared, if set, builds the analyzer's state shared by its
	// instances (once per pipeline, before New); New finds it in
	// Env.Shared. The admin API and reports read it from other
	// goroutines, so it must be safe for concurrent use. If it implements
	// Reporter, the sensor calls Report.
	NewShared func(cfg any, env Env) (any, error)
	// NewOrdered, if set on a StageFlow analyzer, builds its part that
	// runs in stage two, on the same configuration: work that is cheaper
	// with what all connections taught (the sensitive analyzer learns per
	// endpoint which responses to scan). Stage two runs these parts
	// before its StageOrdered analyzers, so those read their notes.
	// Without it the flow instance does everything (Env.Split false).
	// Behind several workers the sensor runs the parts on a goroutine of
	// their own, ahead of the rest of stage two, and calls their Finish at
	// the end but not their Flush in between: a part hands its findings to
	// Env.Folder and keeps no window of its own that Flush would report.
	NewOrdered func(cfg any, env Env) (Analyzer, error)
}

var registry = map[string]Descriptor{}

// Register adds an analyzer. It panics on a duplicate or incomplete
// descriptor: that is a programming error found at start-up.
func Register(d Descriptor) {
	if d.Name == "" || d.New == nil || d.NewConfig == nil {
		panic(fmt.Sprintf("analyzer.Register: incomplete descriptor %+v", d))
	}
	if _, dup := registry[d.Name]; dup {
		panic("analyzer.Register: duplicate analyzer " + d.Name)
	}
	registry[d.Name] = d
}

// Registered lists the analyzers in chain order: stage one before stage
// two, each analyzer after those it declares in After, ties by name. It
// panics when the declarations are inconsistent (an unknown name, a cycle,
// stage one after stage two): a programming error found at start-up.
func Registered() []Descriptor {
	out, err := order(registry)
	if err != nil {
		panic("analyzer: " + err.Error())
	}
	return out
}

// order sorts descriptors topologically (see Registered).
func order(reg map[string]Descriptor) ([]Descriptor, error) {
	names := slices.Sorted(maps.Keys(reg))
	for _, n := range names {
		d := reg[n]
		for _, a := range d.After {
			b, ok := reg[a]
			if !ok {
				return nil, fmt.Errorf("%s runs after %q, which is not registered", n, a)
			}
			if b.Stage > d.Stage {
				return nil, fmt.Errorf("%s (stage %s) can not run after %s (stage %s)", n, d.Stage, a, b.Stage)
			}
		}
	}
	var out []Descriptor
	done := map[string]bool{}
	for len(out) < len(names) {
		progress := false
		for _, stage := range []Stage{StageFlow, StageOrdered} {
			for _, n := range names {
				d := reg[n]
				if done[n] || d.Stage != stage {
					continue
				}
				ready := true
				for _, a := range d.After {
					ready = ready && done[a]
				}
				if ready {
					out = append(out, d)
					done[n] = true
					progress = true
					break
				}
			}
			if progress {
				break
			}
		}
		if !progress {
			var left []string
			for _, n := range names {
				if !done[n] {
					left = append(left, n)
				}
			}
			return nil, fmt.Errorf("the After declarations of %s form a cycle", strings.Join(left, ", "))
		}
	}
	return out, nil
}

// MessageAnalyzer is an optional Analyzer interface: analyzers that
// implement it (and return true) also see WebSocket messages, transactions
// whose Message is set (the client's message is the request body, the
// server's the response body; the request names the upgraded endpoint and
// has no headers). Other analyzers never see them.
type MessageAnalyzer interface {
	AnalyzesMessages() bool
}

// Chain runs the enabled analyzers of one worker in order.
type Chain struct {
	list     []Analyzer
	msgs     []Analyzer // those that take WebSocket messages
	flushers []Flusher
	tls      []TLSObserver
	// one transaction in costEvery is timed, analyzer by analyzer
	n       uint64
	sampled atomic.Uint64
	nanos   []atomic.Uint64
}

// costEvery: the chain times one transaction in this many.
const costEvery = 64

// Cost is the time analyzers spent on the sampled transactions.
type Cost struct {
	Analyzer string
	Sampled  uint64 // transactions timed
	Nanos    uint64 // time spent on them by this analyzer
}

// Costs reports the sampled cost of each analyzer (safe from any
// goroutine).
func (c *Chain) Costs() []Cost {
	out := make([]Cost, len(c.list))
	n := c.sampled.Load()
	for i, a := range c.list {
		out[i] = Cost{Analyzer: a.Name(), Sampled: n, Nanos: c.nanos[i].Load()}
	}
	return out
}

// TLSObserver is an optional Analyzer interface: it sees the ClientHello
// of every TLS connection (which the sensor cannot decrypt), with the
// flow whose Client sent it, at the capture time of the hello. The hello
// is only valid during the call.
type TLSObserver interface {
	TLSHello(flow *reassembly.Flow, at time.Time, h *tlshello.Hello)
}

// ObservesTLS says whether an analyzer of the chain wants ClientHellos.
func (c *Chain) ObservesTLS() bool { return len(c.tls) > 0 }

// TLSHello hands a ClientHello to the analyzers that observe TLS.
func (c *Chain) TLSHello(flow *reassembly.Flow, at time.Time, h *tlshello.Hello) {
	for _, o := range c.tls {
		o.TLSHello(flow, at, h)
	}
}

// NewShared builds the shared state of the enabled analyzers that have
// one, by analyzer name.
func NewShared(enabled []Enabled, env Env) (map[string]any, error) {
	out := map[string]any{}
	env.Lookup = func(name string) any { return out[name] }
	for _, e := range enabled {
		if e.Desc.NewShared == nil {
			continue
		}
		s, err := e.Desc.NewShared(e.Config, env)
		if err != nil {
			return nil, fmt.Errorf("analyzer %s: %w", e.Desc.Name, err)
		}
		out[e.Desc.Name] = s
	}
	return out, nil
}

// NewChain builds one instance of every enabled analyzer; shared is what
// NewShared returned.
func NewChain(enabled []Enabled, shared map[string]any, env Env) (*Chain, error) {
	c := &Chain{}
	env.Lookup = func(name string) any { return shared[name] }
	for _, e := range enabled {
		env.Shared = shared[e.Desc.Name]
		a, err := e.Desc.New(e.Config, env)
		if err != nil {
			return nil, fmt.Errorf("analyzer %s: %w", e.Desc.Name, err)
		}
		c.list = append(c.list, a)
		if f, ok := a.(Flusher); ok {
			c.flushers = append(c.flushers, f)
		}
		if o, ok := a.(TLSObserver); ok {
			c.tls = append(c.tls, o)
		}
		if m, ok := a.(MessageAnalyzer); ok && m.AnalyzesMessages() {
			c.msgs = append(c.msgs, a)
		}
	}
	c.nanos = make([]atomic.Uint64, len(c.list))
	return c, nil
}

// Len is the number of analyzers in the chain.
func (c *Chain) Len() int { return len(c.list) }

// Names lists the chain's analyzers in order.
func (c *Chain) Names() []string {
	var n []string
	for _, a := range c.list {
		n = append(n, a.Name())
	}
	return n
}

// Analyze hands tx to every analyzer in order.
func (c *Chain) Analyze(tx *reassembly.Transaction, emit Emitter) {
	if tx.Message != nil {
		for _, a := range c.msgs {
			a.Analyze(tx, emit)
		}
		return
	}
	c.n++
	if c.n%costEvery != 0 {
		for _, a := range c.list {
			a.Analyze(tx, emit)
		}
		return
	}
	for i, a := range c.list {
		start := time.Now()
		a.Analyze(tx, emit)
		c.nanos[i].Add(uint64(time.Since(start)))
	}
	c.sampled.Add(1)
}

// Flush lets windowed analyzers report what is due at capture time now.
func (c *Chain) Flush(now time.Time, emit Emitter) {
	for _, f := range c.flushers {
		f.Flush(now, emit)
	}
}

// Finish ends the input: analyzers implementing Finisher report what is
// pending, the other Flushers flush once more.
func (c *Chain) Finish(now time.Time, emit Emitter) {
	for _, a := range c.list {
		switch f := a.(type) {
		case Finisher:
			f.Finish(now, emit)
		case Flusher:
			f.Flush(now, emit)
		}
	}
}

// Enabled is an analyzer to run with its decoded configuration.
type Enabled struct {
	Desc   Descriptor
	Config any
}

// Names of the enabled analyzers.
func Names(e []Enabled) []string {
	var n []string
	for _, x := range e {
		n = append(n, x.Desc.Name)
	}
	return n
}

func knownNames() []string {
	var n []string
	for _, d := range Registered() {
		n = append(n, d.Name)
	}
	return slices.Clip(n)
}

// Every paces periodic work in capture time (reports of shared state).
type Every struct {
	D    time.Duration
	next time.Time
}

// Due says whether D has passed since the last time it was due; the first
// call starts the clock. A zero now or D is never due.
func (e *Every) Due(now time.Time) bool {
	if e.D <= 0 || now.IsZero() {
		return false
	}
	if e.next.IsZero() {
		e.next = now.Add(e.D)
		return false
	}
	if now.Before(e.next) {
		return false
	}
	e.next = now.Add(e.D)
	return true
}
