package attack

import (
	"errors"
	"fmt"
	"github.com/apitap/apitap/analyzer/sensitive"
	"hash/maphash"
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
	"github.com/apitap/apitap/analyzer/redact"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// Name is the analyzer's name and configuration key.
const Name = "attack"

// Config is the `analyzers.attack` section.
type Config struct {
	// Rules are directories (or files) of YAML rule packs (--rules).
	Rules []string `yaml:"rules"`
	// NoStarterRules leaves the built-in CVE pack out.
	NoStarterRules bool `yaml:"no_starter_rules"`
	// Classes turns detectors off by name (all on by default).
	Disabled []string `yaml:"disabled"`
	// ScannerPaths reports requests for well-known probe paths.
	ScannerPaths bool `yaml:"scanner_paths"`
	// RepeatInterval and MaxTracked aggregate repeats per actor.
	RepeatInterval time.Duration `yaml:"repeat_interval"`
	MaxTracked     int           `yaml:"max_tracked"`
	// MaxBodyBytes of a body are examined.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// DeepCheck runs Coraza with the OWASP Core Rule Set (on by default for the transactions the fast engine flags).
	DeepCheck DeepConfig `yaml:"deep_check"`
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	flagged := true
	return &Config{ScannerPaths: true, RepeatInterval: 5 * time.Minute, MaxTracked: 20000, MaxBodyBytes: 65536,
		DeepCheck: DeepConfig{Enabled: true, Flagged: &flagged, MaxPerSecond: defaultDeepPerSecond, Paranoia: 1}}
}

// Validate checks the section and that the rule packs load.
func (c *Config) Validate() error {
	var errs []error
	for _, d := range c.Disabled {
		if !ruleClasses[d] || d == "cve" {
			errs = append(errs, fmt.Errorf("disabled: %q is not a detector class", d))
		}
	}
	if c.RepeatInterval <= 0 || c.MaxTracked < 1 || c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("repeat_interval, max_tracked must be positive and max_body_bytes not negative"))
	}
	if err := c.DeepCheck.validate(); err != nil {
		errs = append(errs, err)
	}
	if rules, err := LoadRules(c.Rules, c.NoStarterRules); err != nil {
		errs = append(errs, fmt.Errorf("rules: %w", err))
	} else {
		validated.keep(c, rules)
	}
	return errors.Join(errs...)
}

// validated holds the rules Validate loaded for the configuration it
// checked last, for NewState to take instead of parsing the packs again
// (parsing is most of the analyzer's start-up). It holds one list at most.
var validated lastRules

type lastRules struct {
	mu    sync.Mutex
	cfg   *Config
	rules []*Rule
}

func (l *lastRules) keep(cfg *Config, rules []*Rule) {
	l.mu.Lock()
	l.cfg, l.rules = cfg, rules
	l.mu.Unlock()
}

// take returns the rules validated for cfg (nil if it was not the last
// one validated) and forgets them: they are used once.
func (l *lastRules) take(cfg *Config) []*Rule {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg != cfg {
		return nil
	}
	rules := l.rules
	l.cfg, l.rules = nil, nil
	return rules
}

func init() {
	analyzer.Register(analyzer.Descriptor{
		Name:      Name,
		Provides:  []string{"Notes.Attacks", "Notes.AttackSucceeded"},
		Default:   true,
		NewConfig: func() any { return NewConfig() },
		NewShared: func(cfg any, env analyzer.Env) (any, error) {
			s, err := NewState(cfg.(*Config), env.Log)
			if err == nil && s.deep != nil {
				s.deep.live = env.Live
			}
			return s, err
		},
		New: func(cfg any, env analyzer.Env) (analyzer.Analyzer, error) {
			st, ok := env.Shared.(*State)
			if !ok {
				return nil, errors.New("attack: no shared state")
			}
			return newWorker(st), nil
		},
	})
}

// State holds what the workers share: the rules (swapped on reload).
type State struct {
	cfg   *Config
	log   zerolog.Logger
	rules atomic.Pointer[ruleSet]
	pre   *prefilter
	deep  *deep // the Coraza deep check, nil when off
}

// NewState loads the rule packs.
func NewState(cfg *Config, log zerolog.Logger) (*State, error) {
	var err error
	rules := validated.take(cfg)
	if rules == nil {
		if rules, err = LoadRules(cfg.Rules, cfg.NoStarterRules); err != nil {
			return nil, err
		}
	}
	s := &State{cfg: cfg, log: log, pre: newPrefilter()}
	s.rules.Store(newRuleSet(rules))
	if cfg.DeepCheck.Enabled {
		if s.deep, err = newDeep(cfg.DeepCheck); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Reload reads the rule packs again (SIGHUP); on an error the old rules stay.
func (s *State) Reload() error {
	rules, err := LoadRules(s.cfg.Rules, s.cfg.NoStarterRules)
	if err != nil {
		return fmt.Errorf("rules not reloaded: %w", err)
	}
	s.rules.Store(newRuleSet(rules))
	s.log.Info().Int("rules", len(rules)).Msg("attack: rules reloaded")
	return nil
}

// Rules returns the loaded rules.
func (s *State) Rules() []*Rule { return s.rules.Load().rules }

// hit is one detection candidate of a transaction.
type hit struct {
	class    string
	rule     string
	severity string
	action   string
	loc      string
	name     string
	value    string // normalized payload (redacted when reported)
	at       int    // where in value the attack starts
	cred     bool   // value is a credential: masked but for the match
	key      bool   // value is a parameter or key name
	crs      bool   // found by the deep check alone
}

// worker is one worker's instance.
type worker struct {
	st     *State
	off    int // disabled class bits
	det    detectors
	lbuf   []byte // the lower-cased value being examined
	jbuf   []byte // a JSON string value unescaped
	bsrc   []byte // Basic credentials as sent
	bbuf   []byte // and decoded
	host   string // the request's Host (lower case), for redirects
	norm   normalizer
	agg    *aggregate.Aggregator
	hits   []hit
	seen   int // class bits already hit in this transaction
	values []kv
	names  []kv
	// matched is where the last rule condition matched (scanner.go)
	matched kv
	path    string   // the decoded path of the transaction
	rs      *ruleSet // the rules, for the transaction
	ua      string   // the request's first User-Agent
	// framing: the request has a Content-Length or Transfer-Encoding
	framing bool
	agents  map[string]string     // user agent -> scanner tool ("" none), bounded
	clean   map[string]cleanValue // header values without findings, bounded
	whole   map[string]struct{}   // Cookie and Referer values without findings, bounded
	// wholeOnce are hashes of Cookie and Referer values seen once
	wholeOnce [256]uint64
	once      [1024]uint64 // hashes of header values seen once
	// last are the short clean header values of the requests before, by
	// position: the same client sends the same Host and Accept in the
	// same place, and hashing them would cost what scanning them does
	last [8]shortClean
	seed maphash.Seed
	crs  crsResult         // the deep check's findings for this transaction
	sens sensitive.Scanner // finds what evidence must mask
	// the request's bigrams, for the rules' gates: per gate target, and
	// of the path as sent (made by the path's scan)
	grams    [numGateTargets]grams
	rawGrams grams
	// deep check budget: checks made in the current second of capture
	// time, and how many of them were sampled
	deepSec     int64
	deepN       int
	addFn       func(loc, name, value string) // addInput, made once (hooks.go)
	deepSampled int
}

// kv is a named value of the request, for rules.
type kv struct{ loc, name, value string }

func newWorker(st *State) *worker {
	w := &worker{st: st, agg: aggregate.New(st.cfg.RepeatInterval, st.cfg.MaxTracked, "at-"), agents: map[string]string{}, clean: map[string]cleanValue{}, whole: map[string]struct{}{},
		seed: maphash.MakeSeed()}
	for _, d := range st.cfg.Disabled {
		for i, n := range classNames {
			if n == d {
				w.off |= 1 << i
			}
		}
	}
	return w
}

// Name implements analyzer.Analyzer.
func (w *worker) Name() string { return Name }

// Flush re-emits aggregated detections.
func (w *worker) Flush(now time.Time, emit analyzer.Emitter) { w.agg.Flush(now, emit, false) }

// Finish emits what is pending.
func (w *worker) Finish(now time.Time, emit analyzer.Emitter) { w.agg.Flush(now, emit, true) }

// Analyze examines every input of the request, then the response for
// signs of success.
func (w *worker) Analyze(tx *reassembly.Transaction, emit analyzer.Emitter) {
	req := tx.Request
	if req == nil {
		return
	}
	w.hits, w.seen = w.hits[:0], 0
	w.values, w.names = w.values[:0], w.names[:0]
	w.rs = w.st.rules.Load() // one rule set for the whole transaction
	w.host = req.Host
	w.request(req)
	if len(inputHooks) > 0 {
		w.hooked(tx)
	}
	w.rulesCheck(tx)
	w.oversize(tx)
	w.deepCheck(tx)
	if len(w.hits) == 0 {
		return
	}
	succeeded, why := responseEvidence(tx, w.hits)
	for _, h := range w.hits {
		tx.Notes.Attacks |= ClassBit(h.class)
	}
	tx.Notes.AttackSucceeded = succeeded
	w.report(tx, emit, succeeded, why)
}

// report emits the hits as detections (aggregated per actor).
func (w *worker) report(tx *reassembly.Transaction, emit analyzer.Emitter, succeeded bool, why string) {
	req := tx.Request
	actor := event.ClientActor(tx)
	ip := actor.IP
	ep := event.Endpoint{Host: boundedName(strings.ToLower(req.Host)), Method: boundedName(req.Method), Path: redact.Path(discovery.Template(req.Path))}
	at := req.Start
	last := at
	if r := tx.Response; r != nil && r.End.After(last) {
		last = r.End
	}
	for _, h := range w.hits {
		sev, conf := h.severity, 0.8
		if strings.HasPrefix(h.rule, "libinjection") {
			conf = 0.85
		}
		if succeeded {
			sev, conf = raise(sev), 0.95
		}
		if tx.Flags&(http1.FlagGap|http1.FlagTruncated|http1.FlagHeadersTruncated) != 0 {
			conf -= 0.1
		}
		key := aggregate.Key{Class: h.class, Rule: h.rule, Host: ep.Host, Method: ep.Method, Path: ep.Path, Name: ip}
		if actor.Peer != "" {
			// the same client seen through a proxy (a capture of both
			// legs) is its own detection, naming the proxy as peer
			key.Name = ip + " via " + actor.Peer
		}
		if h.class == "scanner" {
			key.Method, key.Path = "", "" // a scanner is one detection per actor and tool, not per probed path
		}
		if w.agg.Seen(key) {
			w.agg.Add(key, 1, last, sev)
			continue
		}
		value := w.evidence(h.value, h.at, h.cred, maxEvidence)
		if h.crs && h.cred {
			value = redact.Mask(h.value) // where in a credential CRS matched is not known
		}
		name := boundedName(h.name)
		if h.key && h.cred {
			name = value // the name is the credential (a cookie's name)
		}
		ev := []event.Evidence{{Location: h.loc, Name: name, Value: value, Rule: h.rule}}
		if h.crs {
			conf = 0.6
			if w.crs.score >= w.crs.threshold && w.crs.threshold > 0 {
				conf = 0.7
			}
			ev[0].Rule += " " + redact.Snippet(w.crsMessage(h.rule), 80)
		}
		// the deep check's matches of the same class back the finding
		n := 0
		for _, m := range w.crs.matches {
			if m.class != h.class || n == 2 || h.crs && "crs:"+strconv.Itoa(m.id) == h.rule {
				continue
			}
			n++
			v := w.evidence(m.value, 0, false, 80)
			if credentialLocation(m.loc, m.name) {
				v = redact.Mask(m.value)
			}
			ev = append(ev, event.Evidence{Location: m.loc, Name: boundedName(m.name), Value: v, Rule: "crs:" + strconv.Itoa(m.id) + " " + redact.Snippet(m.msg, 80)})
			conf = min(conf+0.05, 0.99)
		}
		if len(w.crs.matches) > 0 && (n > 0 || h.crs) {
			// the anomaly score and paranoia level of the check
			ev = append(ev, event.Evidence{Location: h.loc, Rule: fmt.Sprintf("crs:anomaly_score=%d threshold=%d paranoia=%d", w.crs.score, w.crs.threshold, w.crs.paranoia)})
		}
		if succeeded {
			ev = append(ev, event.Evidence{Location: "response_body", Rule: "succeeded:" + why})
		}
		if tx.Flags&http1.FlagHeadersTruncated != 0 {
			// analysed on what the parser read of an oversized head
			ev = append(ev, event.Evidence{Location: "header", Rule: "truncated:headers"})
		}
		w.agg.Emit(key, event.Detection{Class: h.class, Severity: sev, Confidence: conf, Actor: actor, Endpoint: ep,
			Evidence: ev, FirstSeen: at, LastSeen: last, Count: 1, Action: h.action, Succeeded: succeededText(succeeded)}, emit)
	}
}

func succeededText(ok bool) string {
	if ok {
		return "likely"
	}
	return ""
}

// raise is one severity level up.
func raise(s string) string {
	for i, v := range event.Severities {
		if v == s && i+1 < len(event.Severities) {
			return event.Severities[i+1]
		}
	}
	return s
}

func boundedName(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}

// crsMessage is the message of the CRS rule named crs:<id>.
func (w *worker) crsMessage(rule string) string {
	for _, m := range w.crs.matches {
		if "crs:"+strconv.Itoa(m.id) == rule {
			return m.msg
		}
	}
	return ""
}

// hasClass says a hit of class is already there.
func (w *worker) hasClass(class string) bool {
	for _, h := range w.hits {
		if h.class == class {
			return true
		}
	}
	return false
}

// classMask is the detector bit of a class (for the disabled list; 0 for
// the signature classes, which can not be disabled).
func classMask(class string) int {
	for i, n := range classNames {
		if n == class {
			return 1 << i
		}
	}
	return 0
}
