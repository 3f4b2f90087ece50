package conformance

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/aggregate"
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
	// RepeatInterval and MaxTracked aggregate repeated findings.
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
	return &Config{ValidateSamples: 16, ValidateEvery: 100, RepeatInterval: 10 * time.Minute, MaxTracked: 10000,
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
	items    map[itemKey]*Item // findings for the diff, all workers
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

// itemKey identifies one finding of the diff report.
type itemKey struct {
	class, op, location, name, reason string
}

// Item is one finding of the diff report, counted across workers.
type Item struct {
	Class    string    `json:"class"`
	Op       string    `json:"operation"` // "GET /users/{id}" or "host METHOD template"
	Spec     string    `json:"spec,omitempty"`
	Location string    `json:"location,omitempty"`
	Name     string    `json:"name,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Count    uint64    `json:"count"`
	First    time.Time `json:"first_seen"`
	Last     time.Time `json:"last_seen"`
}

func (s *State) record(k itemKey, spec string, at time.Time) {
	s.mu.Lock()
	it := s.items[k]
	if it == nil {
		if len(s.items) >= 100000 {
			s.mu.Unlock()
			return
		}
		it = &Item{Class: k.class, Op: k.op, Spec: spec, Location: k.location, Name: k.name, Reason: k.reason, First: at}
		s.items[k] = it
	}
	it.Count++
	if at.Before(it.First) {
		it.First = at
	}
	if at.After(it.Last) {
		it.Last = at
	}
	s.mu.Unlock()
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
	agg  *aggregate.Aggregator
	segs []string
}

func (s *State) newWorker() *worker {
	return &worker{st: s, agg: aggregate.New(s.cfg.RepeatInterval, s.cfg.MaxTracked, "cf-"), segs: make([]string, 0, maxSegs)}
}

// Name implements analyzer.Analyzer.
func (w *worker) Name() string { return Name }

// Flush re-emits aggregated findings.
func (w *worker) Flush(now time.Time, emit analyzer.Emitter) { w.agg.Flush(now, emit, false) }

// Finish emits what is pending.
func (w *worker) Finish(now time.Time, emit analyzer.Emitter) { w.agg.Flush(now, emit, true) }

// Analyze matches the transaction to the specs and checks it.
func (w *worker) Analyze(tx *reassembly.Transaction, emit analyzer.Emitter) {
	req := tx.Request
	if req == nil {
		return
	}
	r := w.st.router.Load()
	host := normHost(req.Host)
	if host == "" {
		host = tx.Flow.Server.String()
	}
	m := r.Match(host, req.Method, req.Path, w.segs)
	tx.Notes.Conformance = m.Status
	at := req.Start
	switch m.Status {
	case Unbound:
		return
	case Shadow, UndocumentedMethod:
		w.st.recordShadow(shadowKey{host, boundedName(req.Method), templateOf(req.Path), m.Status}, at)
		return
	}
	op := m.Op
	op.Calls.Add(1)
	ep := event.Endpoint{Host: host, Method: op.Method, Path: op.Path}
	if m.Status == Zombie {
		reason := "deprecated"
		if m.Older {
			reason = "only_in_older_version:" + op.Spec.Version
		}
		w.find(tx, emit, ep, op, "zombie_endpoint", "medium", reason, event.Evidence{Location: "path", Name: op.ID(), Value: reason, Rule: "zombie"})
	}
	w.check(tx, emit, ep, op, m.Segs)
}

// find reports one finding: a detection (aggregated) and a diff item.
func (w *worker) find(tx *reassembly.Transaction, emit analyzer.Emitter, ep event.Endpoint, op *Op, class, severity, rule string, ev event.Evidence) {
	at := tx.Request.Start
	w.st.record(itemKey{class: class, op: op.ID(), location: ev.Location, name: ev.Name, reason: ev.Value}, specName(op.Spec), at)
	key := aggregate.Key{Class: class, Rule: rule, Host: ep.Host, Method: ep.Method, Path: ep.Path, Name: ev.Location + ":" + ev.Name}
	if w.agg.Add(key, 1, at, severity) {
		return
	}
	last := at
	if r := tx.Response; r != nil && r.End.After(last) {
		last = r.End
	}
	w.agg.Emit(key, event.Detection{Class: class, Severity: severity, Confidence: 0.9, Actor: event.ClientActor(tx),
		Endpoint: ep, Evidence: []event.Evidence{ev}, FirstSeen: at, LastSeen: last, Count: 1, Action: "log"}, emit)
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
