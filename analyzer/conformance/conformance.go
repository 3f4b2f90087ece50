package conformance

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/aggregate"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/reassembly"
)

// Name is the analyzer's name and configuration key.
const Name = "conformance"

// Violation bits of reassembly.Notes.Violations.
const (
	VParameter uint8 = 1 << iota
	VHeader
	VStatus
	VSchema
)

// Config is the `analyzers.conformance` section.
type Config struct {
	// Specs are OpenAPI 3.0/3.1 or Swagger 2.0 files or directories (--spec).
	Specs []string `yaml:"specs"`
	// Bindings bind specs to hosts and base paths instead of their servers.
	Bindings []BindingConfig `yaml:"bindings"`
	// IgnoreHeaders are request headers never reported as undocumented,
	// on top of the standard ones (Host, User-Agent, Accept*, ...).
	IgnoreHeaders []string `yaml:"ignore_headers"`
	// CheckCookies reports cookies the operation does not document.
	CheckCookies bool `yaml:"check_cookies"`
	// ValidateSamples transactions per operation are validated against
	// the schemas, then one in ValidateEvery.
	ValidateSamples int `yaml:"validate_samples"`
	ValidateEvery   int `yaml:"validate_every"`
	// RepeatInterval is the least capture time between two updates of one
	// finding (an update also needs its count to have doubled);
	// MaxTracked bounds the findings kept (more are counted, not reported).
	RepeatInterval time.Duration `yaml:"repeat_interval"`
	MaxTracked     int           `yaml:"max_tracked"`
	// ReloadCheck is how often a live sensor looks for changed spec files.
	ReloadCheck time.Duration `yaml:"reload_check"`
	// ReportInterval (capture time) between shadow endpoint reports live.
	ReportInterval time.Duration `yaml:"report_interval"`
}

// BindingConfig binds one spec (file name, path or title).
type BindingConfig struct {
	Spec     string   `yaml:"spec"`
	Hosts    []string `yaml:"hosts"`
	BasePath string   `yaml:"base_path"`
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{ValidateSamples: 16, ValidateEvery: 100, RepeatInterval: 10 * time.Minute, MaxTracked: 100000,
		ReloadCheck: 5 * time.Second, ReportInterval: 30 * time.Second}
}

// Validate checks the section.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Specs) == 0 {
		errs = append(errs, errors.New("specs: no spec given (use --spec FILE|DIR or analyzers.conformance.specs)"))
	}
	if c.ValidateSamples < 0 {
		errs = append(errs, errors.New("validate_samples: must not be negative"))
	}
	if c.ValidateEvery < 1 {
		errs = append(errs, errors.New("validate_every: must be at least 1"))
	}
	if c.RepeatInterval <= 0 || c.ReloadCheck <= 0 || c.ReportInterval <= 0 {
		errs = append(errs, errors.New("repeat_interval, reload_check and report_interval must be positive"))
	}
	if c.MaxTracked < 1 {
		errs = append(errs, errors.New("max_tracked: must be at least 1"))
	}
	for i, b := range c.Bindings {
		if b.Spec == "" {
			errs = append(errs, fmt.Errorf("bindings[%d]: spec is required", i))
		}
	}
	return errors.Join(errs...)
}

func init() {
	analyzer.Register(analyzer.Descriptor{
		Name:      Name,
		After:     []string{"attack"}, // its verdict tells probes and attacks apart
		Provides:  []string{"Notes.Conformance", "Notes.Violations"},
		Default:   false,
		NewConfig: func() any { return NewConfig() },
		NewShared: func(cfg any, env analyzer.Env) (any, error) {
			return NewState(cfg.(*Config), env.Log, env.Lookup)
		},
		New: func(cfg any, env analyzer.Env) (analyzer.Analyzer, error) {
			st, ok := env.Shared.(*State)
			if !ok {
				return nil, errors.New("conformance: no shared state")
			}
			return st.newWorker(), nil
		},
	})
}

// State is the conformance analyzer's shared state: the specs' router
// (replaced atomically on reload) and the findings for the diff report.
type State struct {
	cfg    *Config
	log    zerolog.Logger
	lookup func(string) any
	router atomic.Pointer[Router]
	ignore map[string]bool

	mu       sync.Mutex
	loadErrs []error
	items    map[itemKey]*Item // findings, all workers
	dropped  uint64            // findings not kept: maxItems reached
	shadows  map[shadowKey]*shadowAgg
	reported map[string]bool // shadow endpoints reported
	every    analyzer.Every  // live reports
	check    time.Time       // next spec change check (wall clock)
	last     time.Time       // latest capture time
	diff     *Diff           // set by the final report
}

// NewState loads the specs. Invalid specs are reported (LoadErrors) and
// skipped; it fails only when no spec at all is usable.
func NewState(cfg *Config, log zerolog.Logger, lookup func(string) any) (*State, error) {
	s := &State{cfg: cfg, log: log, lookup: lookup, items: map[itemKey]*Item{}, shadows: map[shadowKey]*shadowAgg{}, reported: map[string]bool{}}
	s.ignore = map[string]bool{}
	for _, h := range standardHeaders {
		s.ignore[h] = true
	}
	for _, h := range cfg.IgnoreHeaders {
		s.ignore[strings.ToLower(h)] = true
	}
	r, errs := load(cfg)
	s.loadErrs = errs
	for _, err := range errs {
		log.Error().Err(err).Msg("conformance: spec skipped")
	}
	if len(r.Specs) == 0 {
		return nil, fmt.Errorf("no usable spec: %w", errors.Join(errs...))
	}
	s.router.Store(r)
	return s, nil
}

func load(cfg *Config) (*Router, []error) {
	files, errs := specFiles(cfg.Specs)
	var specs []*Spec
	for _, f := range files {
		sp, err := LoadSpec(f, cfg.Bindings)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		specs = append(specs, sp)
	}
	return NewRouter(specs), errs
}

// LoadErrors are the specs that could not be used.
func (s *State) LoadErrors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.loadErrs...)
}

// Router is the current router.
func (s *State) Router() *Router { return s.router.Load() }

// Reload reads the specs again; on success the new router replaces the
// old one at once (workers pick it up with their next transaction).
func (s *State) Reload() error {
	r, errs := load(s.cfg)
	s.mu.Lock()
	s.loadErrs = errs
	s.mu.Unlock()
	if len(r.Specs) == 0 {
		return fmt.Errorf("no usable spec, keeping the previous ones: %w", errors.Join(errs...))
	}
	s.router.Store(r)
	for _, err := range errs {
		s.log.Error().Err(err).Msg("conformance: spec skipped")
	}
	s.log.Info().Int("specs", len(r.Specs)).Msg("conformance: specs reloaded")
	return nil
}

// standardHeaders are request headers no API documents.
var standardHeaders = []string{
	"host", "user-agent", "accept", "accept-encoding", "accept-language", "accept-charset", "connection",
	"content-length", "content-type", "content-encoding", "transfer-encoding", "te", "trailer", "upgrade",
	"keep-alive", "cache-control", "pragma", "expect", "via", "forwarded", "x-forwarded-for", "x-forwarded-proto",
	"x-forwarded-host", "x-forwarded-port", "x-real-ip", "x-request-id", "x-correlation-id", "traceparent",
	"tracestate", "x-amzn-trace-id", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "b3",
	"origin", "referer", "cookie", "if-none-match", "if-modified-since", "if-match", "if-unmodified-since",
	"dnt", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest", "sec-fetch-user", "sec-ch-ua", "sec-ch-ua-mobile",
	"sec-ch-ua-platform", "upgrade-insecure-requests", "x-requested-with", "range", "date", "authorization",
}

// itemKey identifies one finding: a class, an endpoint (host and spec
// operation), where and what.
type itemKey struct {
	class, host, op, location, name, reason string
}

// Item is one finding of the diff report, counted across workers. It is
// reported as one detection when first seen and updated with its count
// (when the count has doubled, and at the end): never an event per
// request.
type Item struct {
	Class       string    `json:"class"`
	Host        string    `json:"host,omitempty"`
	Op          string    `json:"operation"` // "GET /users/{id}" or "host METHOD template"
	Spec        string    `json:"spec,omitempty"`
	Location    string    `json:"location,omitempty"`
	Name        string    `json:"name,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Replacement string    `json:"replacement,omitempty"` // zombie: the operation that supersedes it
	Count       uint64    `json:"count"`
	First       time.Time `json:"first_seen"`
	Last        time.Time `json:"last_seen"`

	severity string
	actor    event.Actor // the client of the earliest occurrence
	emitted  uint64      // count last reported
	at       time.Time   // capture time it was last reported
	method   string
	path     string
	rule     string
}

// finding is what a worker found on one transaction.
type finding struct {
	class, severity, rule string
	ev                    event.Evidence
	replacement           string
}

func (s *State) record(k itemKey, op *Op, f *finding, tx *reassembly.Transaction) {
	at := tx.Request.Start
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.items[k]
	if it == nil {
		if len(s.items) >= s.cfg.MaxTracked {
			s.dropped++
			return
		}
		it = &Item{Class: k.class, Host: k.host, Op: k.op, Spec: specName(op.Spec), Location: k.location, Name: k.name, Reason: k.reason,
			Replacement: f.replacement, First: at, severity: f.severity, actor: event.ClientActor(tx),
			method: op.Method, path: op.Path, rule: f.rule}
		s.items[k] = it
	}
	it.Count++
	it.severity = aggregate.MaxSeverity(it.severity, f.severity)
	// the client of the earliest occurrence, whichever worker saw it first
	if a := event.ClientActor(tx); at.Before(it.First) || at.Equal(it.First) && a.IP < it.actor.IP {
		it.actor = a
	}
	if at.Before(it.First) {
		it.First = at
	}
	if at.After(it.Last) {
		it.Last = at
	}
	if at.After(s.last) {
		s.last = at
	}
}

// reportItems emits a detection for each new finding and an update for
// those whose count has doubled since, repeat_interval of capture time
// later at least (every changed one when final): at most 2 + log2(count)
// events per finding, all with one id.
func (s *State) reportItems(now time.Time, final bool, out analyzer.EventSink) {
	s.mu.Lock()
	keys := make([]itemKey, 0, len(s.items))
	for k, it := range s.items {
		if it.emitted == 0 || it.Count > it.emitted && (final || it.Count >= 2*it.emitted && now.Sub(it.at) >= s.cfg.RepeatInterval) {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
	var dets []event.Detection
	for _, k := range keys {
		it := s.items[k]
		it.emitted, it.at = it.Count, now
		ev := []event.Evidence{{Location: k.location, Name: k.name, Value: k.reason, Rule: it.rule}}
		if it.Replacement != "" {
			ev = append(ev, event.Evidence{Location: "path", Name: "replacement", Value: it.Replacement, Rule: "superseded"})
		}
		dets = append(dets, event.Detection{ID: "cf-" + hashString(k.class+"\x00"+k.host+"\x00"+k.op+"\x00"+k.location+"\x00"+k.name+"\x00"+k.reason),
			Class: k.class, Severity: it.severity, Confidence: 0.9, Actor: it.actor,
			Endpoint: event.Endpoint{Host: k.host, Method: it.method, Path: it.path}, Evidence: ev,
			FirstSeen: it.First, LastSeen: it.Last, Count: int(min(it.Count, 1<<31)), Action: "log"})
	}
	s.mu.Unlock()
	for i := range dets {
		out.Detection(&dets[i])
	}
}

func keyLess(a, b itemKey) bool {
	for _, p := range [...][2]string{{a.host, b.host}, {a.op, b.op}, {a.class, b.class}, {a.location, b.location}, {a.name, b.name}, {a.reason, b.reason}} {
		if p[0] != p[1] {
			return p[0] < p[1]
		}
	}
	return false
}

// shadowKey is an unmatched request's online template (used when the
// discovery analyzer is off).
type shadowKey struct {
	host, method, path, status string
}

type shadowAgg struct {
	count       uint64
	first, last time.Time
}

func (s *State) recordShadow(k shadowKey, at time.Time) {
	s.mu.Lock()
	a := s.shadows[k]
	if a == nil {
		if len(s.shadows) >= 10000 {
			s.mu.Unlock()
			return
		}
		a = &shadowAgg{first: at}
		s.shadows[k] = a
	}
	a.count++
	if at.After(a.last) {
		a.last = at
	}
	if at.After(s.last) {
		s.last = at
	}
	s.mu.Unlock()
}

// worker is one worker's instance.
type worker struct {
	st   *State
	segs []string
}

func (s *State) newWorker() *worker {
	return &worker{st: s, segs: make([]string, 0, maxSegs)}
}

// Name implements analyzer.Analyzer.
func (w *worker) Name() string { return Name }

// Analyze matches the transaction to the specs and checks it. Findings
// are counted in the shared state, which reports each once (State.Report)
// and updates its count: a request does not make an event.
func (w *worker) Analyze(tx *reassembly.Transaction, _ analyzer.Emitter) {
	req := tx.Request
	if req == nil {
		return
	}
	r := w.st.router.Load()
	host := normHost(req.Host)
	if host == "" {
		host = tx.Flow.Server.String()
	}
	m := r.MatchRequest(host, req, w.segs)
	tx.Notes.Conformance = m.Status
	at := req.Start
	// a probe (payload syntax in the path, or an attack the server
	// refused) is the attack analyzer's: no shadow endpoint, no findings
	failed := tx.Response == nil || tx.Response.Status >= 400
	probe := discovery.ProbePath(req.Path) || tx.Notes.Attacks != 0 && failed
	switch m.Status {
	case Unbound:
		return
	case Shadow, UndocumentedMethod:
		if !probe {
			w.st.recordShadow(shadowKey{host, boundedName(req.Method), templateOf(req.Path), m.Status}, at)
		}
		return
	}
	op := m.Op
	if m.Superseded {
		// a version or host the spec no longer documents: a zombie of the
		// operation that replaced it, nothing else to check
		if !probe {
			w.find(tx, host, &Op{Spec: op.Spec, Method: op.Method, Path: strings.TrimPrefix(m.Called, op.Method+" ")}, &finding{class: "zombie_endpoint",
				severity: "medium", rule: "zombie", replacement: m.Replacement, ev: event.Evidence{Location: "path", Name: m.Called, Value: m.Reason}})
		}
		return
	}
	op.Calls.Add(1)
	if m.Status == Zombie {
		w.find(tx, host, op, &finding{class: "zombie_endpoint", severity: "medium", rule: "zombie", replacement: m.Replacement,
			ev: event.Evidence{Location: "path", Name: op.ID(), Value: m.Reason}})
	}
	w.check(tx, host, op, m.Segs, probe || tx.Notes.Attacks != 0)
}

// find counts one finding of a transaction.
func (w *worker) find(tx *reassembly.Transaction, host string, op *Op, f *finding) {
	w.st.record(itemKey{class: f.class, host: host, op: op.ID(), location: f.ev.Location, name: f.ev.Name, reason: f.ev.Value}, op, f, tx)
}

func specName(s *Spec) string {
	name := s.Title
	if name == "" {
		name = s.File
	}
	if s.Version != "" {
		name += " " + s.Version
	}
	return name
}

// boundedName keeps a name from traffic short and printable.
func boundedName(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, s)
}

func statusText(st int) string { return strconv.Itoa(st) }
