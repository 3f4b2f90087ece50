package attack

import (
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

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
	// DeepCheck runs Coraza with the OWASP Core Rule Set (off by default).
	DeepCheck DeepConfig `yaml:"deep_check"`
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	flagged := true
	return &Config{ScannerPaths: true, RepeatInterval: 5 * time.Minute, MaxTracked: 20000, MaxBodyBytes: 65536,
		DeepCheck: DeepConfig{Flagged: &flagged, MaxPerSecond: 200, Paranoia: 1}}
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
	if _, err := LoadRules(c.Rules, c.NoStarterRules); err != nil {
		errs = append(errs, fmt.Errorf("rules: %w", err))
	}
	return errors.Join(errs...)
}

func init() {
	analyzer.Register(analyzer.Descriptor{
		Name:      Name,
		Provides:  []string{"Notes.Attacks", "Notes.AttackSucceeded"},
		Default:   true,
		NewConfig: func() any { return NewConfig() },
		NewShared: func(cfg any, env analyzer.Env) (any, error) { return NewState(cfg.(*Config), env.Log) },
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
	rules, err := LoadRules(cfg.Rules, cfg.NoStarterRules)
	if err != nil {
		return nil, err
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
}

// worker is one worker's instance.
type worker struct {
	st     *State
	off    int // disabled class bits
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
	once    [1024]uint64          // hashes of header values seen once
	// last are the short clean header values of the requests before, by
	// position: the same client sends the same Host and Accept in the
	// same place, and hashing them would cost what scanning them does
	last [8]shortClean
	seed maphash.Seed
	crs  []crsMatch // the deep check's matches for this transaction
	// the request's bigrams, for the rules' gates: per gate target, and
	// of the path as sent (made by the path's scan)
	grams    [numGateTargets]grams
	rawGrams grams
	// deep check budget: checks made in the current second of capture time
	deepSec int64
	deepN   int
}

// kv is a named value of the request, for rules.
type kv struct{ loc, name, value string }

func newWorker(st *State) *worker {
	w := &worker{st: st, agg: aggregate.New(st.cfg.RepeatInterval, st.cfg.MaxTracked, "at-"), agents: map[string]string{}, clean: map[string]cleanValue{},
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
	w.request(req)
	w.rulesCheck(tx)
	w.crs = w.crs[:0]
	if w.st.deep != nil && w.deepDue(tx, len(w.hits) > 0) {
		w.crs = w.st.deep.check(tx, w.st.cfg.MaxBodyBytes)
		if len(w.hits) == 0 { // sampled: the Core Rule Set's findings are the detections
			for _, m := range w.crs {
				if m.class == "" || w.off&classMask(m.class) != 0 || w.hasClass(m.class) {
					continue
				}
				w.hits = append(w.hits, hit{class: m.class, rule: "crs:" + strconv.Itoa(m.id), severity: m.severity, action: "log", loc: m.loc, name: m.name, value: m.value})
			}
		}
	}
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

// value examines one input value; name is its parameter or header name.
func (w *worker) value(loc, name, raw string, plus bool) {
	if raw == "" {
		return
	}
	v, bits := w.scan(raw, plus)
	w.values = append(w.values, kv{loc, name, v})
	w.detect(loc, name, v, bits)
}

// scan normalises a value and runs the prefilter over the result. The
// prefilter also finds the bytes that call for decoding, so a value that
// needs none (most) is read once.
func (w *worker) scan(raw string, plus bool) (v string, bits int) {
	v = raw
	if len(v) > maxValue {
		v = v[:maxValue]
	}
	bits = w.st.pre.scan(v)
	if bits&pNorm != 0 || plus && bits&pPlus != 0 {
		v = w.norm.norm(raw, plus)
		bits = w.st.pre.scan(v)
	}
	return v, bits
}

// detect runs the detectors of the classes in bits (prefilter bits of the
// normalised value v) and says whether any matched, including classes
// this transaction already has a hit of.
func (w *worker) detect(loc, name, v string, bits int) (found bool) {
	bits &= classBits &^ w.off
	if bits == 0 {
		return false
	}
	if opaque(v) {
		bits &= cLog4Shell
	}
	lv := ""
	lower := func() string {
		if lv == "" {
			lv = strings.ToLower(v)
		}
		return lv
	}
	if bits&cLog4Shell != 0 {
		if ok, rule := log4shell(lower()); ok {
			found = true
			w.add(cLog4Shell, rule, loc, name, v)
		}
	}
	if bits&cSQLi != 0 {
		if ok, fp := sqli(v); ok {
			found = true
			w.add(cSQLi, "libinjection:"+fp, loc, name, v)
		}
	}
	if bits&cXSS != 0 {
		if xss(v) {
			found = true
			w.add(cXSS, "libinjection", loc, name, v)
		} else if scriptURL(lower()) {
			found = true
			w.add(cXSS, "script_url", loc, name, v)
		}
	}
	if bits&cTraversal != 0 {
		if ok, rule := traversal(lower()); ok {
			found = true
			w.add(cTraversal, rule, loc, name, v)
		}
	}
	if bits&cCmd != 0 {
		if ok, rule := cmdInjection(lower()); ok {
			found = true
			w.add(cCmd, rule, loc, name, v)
		}
	}
	if bits&cSSRF != 0 {
		// the Host header names the server the request went to: internal
		// names and addresses are normal there (in-cluster calls, health
		// checks); only a cloud metadata address is an attack (routing-based
		// SSRF through a proxy that forwards by Host)
		if ok, rule := ssrf(lower(), name); ok && (loc != "header" || rule == "cloud_metadata" || http1.LookupHeader(name) != http1.IDHost) {
			found = true
			w.add(cSSRF, rule, loc, name, v)
		}
	}
	if bits&cXXE != 0 {
		if ok, rule := xxe(lower()); ok {
			found = true
			w.add(cXXE, rule, loc, name, v)
		}
	}
	if bits&cSSTI != 0 {
		if ok, rule := ssti(lower()); ok {
			found = true
			w.add(cSSTI, rule, loc, name, v)
		}
	}
	if bits&cNoSQLi != 0 && (strings.HasPrefix(v, "$where") || strings.HasPrefix(v, "{\"$")) {
		found = true
		w.add(cNoSQLi, "operator_in_value", loc, name, v)
	}
	return found
}

var rareProto = rarest("proto")

// key examines a parameter or JSON key name.
func (w *worker) key(loc, k string) {
	if k == "" {
		return
	}
	w.names = append(w.names, kv{loc, k, k})
	// every operator has a '$', and both pollution keys have "proto" (no
	// other rune lower-cases to one of its letters): most names are
	// passed over without the lower-casing the detectors do
	if w.off&cNoSQLi == 0 && strings.IndexByte(k, '$') >= 0 {
		if ok, rule := nosqliKey(k); ok {
			w.add(cNoSQLi, rule, loc, k, k)
		}
	}
	if w.off&cProto == 0 && containsFoldAt(k, "proto", rareProto) {
		if ok, rule := protoKey(k); ok {
			w.add(cProto, rule, loc, k, k)
		}
	}
}

func (w *worker) add(class int, rule, loc, name, v string) {
	i := 0
	for class>>i != 1 {
		i++
	}
	if w.seen&class != 0 {
		return // one hit per class and transaction
	}
	w.seen |= class
	if loc == "body" { // the body's bytes are not ours to keep (see view)
		name, v = strings.Clone(name), strings.Clone(v)
	}
	w.hits = append(w.hits, hit{class: classNames[i], rule: rule, severity: classSeverity[i], action: "log", loc: loc, name: name, value: v})
}

// request walks the inputs: path, query, headers, cookies, body.
func (w *worker) request(req *http1.Request) {
	// the path as sent is scanned for keywords and summarised for the
	// rules' gates in one pass
	path := req.Path
	if len(path) > maxValue {
		path = path[:maxValue]
	}
	bits, g := w.st.pre.scanGrams(path)
	w.rawGrams = g
	if bits&pNorm != 0 {
		path = w.norm.norm(req.Path, false)
		bits = w.st.pre.scan(path)
	}
	w.path = path
	if path != "" { // traversal runs when its keywords occur
		if bits&pNorm != 0 || len(path) > maxValue {
			// the decoded path is examined as a value, and values are
			// normalised: decode it again
			path, bits = w.scan(path, false)
		}
		if w.rs.anyValue {
			w.values = append(w.values, kv{"path", "", path})
		}
		w.detect("path", "", path, bits)
	}
	for q := req.Query; q != ""; {
		var p string
		p, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(p, "=")
		name := w.norm.norm(k, true)
		w.key("query", name)
		w.value("query", name, v, true)
	}
	w.ua, w.framing = "", false
	ua := false
	for i := range req.Headers {
		h := &req.Headers[i]
		if h.Name == "" {
			w.header(i, h)
			continue
		}
		id := h.Known()
		if id == http1.IDOther && !isASCII(h.Name) {
			id = foldedHeader(h.Name)
		}
		switch id {
		case http1.IDCookie:
			for c := h.Value; c != ""; {
				var p string
				p, c, _ = strings.Cut(c, ";")
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				w.value("cookie", k, v, true) // frameworks URL-encode cookie values
			}
			continue
		case http1.IDContentLength, http1.IDTransferEncoding:
			w.framing = true
		case http1.IDAuthorization:
			// credentials: only log4shell-style lookups are looked for
			if w.off&cLog4Shell == 0 && strings.Contains(h.Value, "${") {
				if ok, rule := log4shell(strings.ToLower(h.Value)); ok {
					w.add(cLog4Shell, rule, "header", h.Name, h.Value)
				}
			}
			continue
		case http1.IDUserAgent:
			if !ua {
				w.ua, ua = h.Value, true
			}
		}
		w.header(i, h)
	}
	body := req.Body.Data
	if len(body) > w.st.cfg.MaxBodyBytes {
		body = body[:w.st.cfg.MaxBodyBytes]
	}
	if len(body) == 0 {
		return
	}
	ct := strings.ToLower(http1.Get(req.Headers, http1.IDContentType))
	switch {
	case strings.Contains(ct, "json") || body[0] == '{' || body[0] == '[':
		walkJSON(body, func(key string, val []byte, isKey bool) {
			if isKey {
				w.key("body", key)
				return
			}
			w.value("body", key, view(val), false)
		})
	case strings.Contains(ct, "x-www-form-urlencoded"):
		for q := view(body); q != ""; {
			var p string
			p, q, _ = strings.Cut(q, "&")
			k, v, _ := strings.Cut(p, "=")
			name := w.norm.norm(k, true)
			w.key("body", name)
			w.value("body", name, v, true)
		}
	case strings.Contains(ct, "xml"):
		lb := strings.ToLower(view(body))
		if ok, rule := xxe(lb); ok && w.off&cXXE == 0 {
			w.add(cXXE, rule, "body", "", view(body))
		}
	default:
		w.value("body", "", view(body), false)
	}
}

// Header values repeat (User-Agent, Accept, a client's X-Forwarded-For),
// so the worker remembers the values the detectors found nothing in, with
// their normalised form. The memory is a cache: a value found in it
// yields what examining it again would.
const (
	// shortHeader is the length up to which a value is examined rather
	// than looked up first: scanning a short value costs what hashing it
	// does.
	shortHeader = 32
	// maxClean values of at most maxCleanLen bytes are remembered.
	maxClean, maxCleanLen = 4096, 512
)

// cleanValue is a remembered header value.
type cleanValue struct {
	norm string // the value normalised
	// ssrf: the SSRF detector looked at it, and its verdict depends on
	// whether the header's name is one whose value the server fetches
	// (fetch, the name it was examined under)
	ssrf, fetch bool
}

// header examines the value of the request's i-th header, through the
// memory of clean values.
func (w *worker) header(i int, h *http1.Header) {
	if h.Value == "" {
		return
	}
	long := len(h.Value) > shortHeader
	if long && w.remembered(h) {
		return
	}
	if !long && i < len(w.last) && w.last[i].is(h.Value) {
		// as in the last request: nothing to decode or look for
		if w.rs.anyValue {
			w.values = append(w.values, kv{"header", h.Name, h.Value})
		}
		return
	}
	v, bits := w.scan(h.Value, false)
	if w.rs.anyValue {
		w.values = append(w.values, kv{"header", h.Name, v})
	}
	if bits&classBits&^w.off == 0 {
		if long {
			w.remember(h, v, bits)
		} else if v == h.Value && i < len(w.last) {
			w.last[i].set(h.Value)
		}
		return
	}
	if !long {
		if c, ok := w.clean[h.Value]; ok && w.cleanFor(c, h) {
			return
		}
	}
	// a Host value is not remembered: its SSRF exemption (see detect) would
	// make it clean for other headers too
	if !w.detect("header", h.Name, v, bits) && h.Known() != http1.IDHost {
		w.remember(h, v, bits)
	}
}

// shortClean is a short header value that needs no decoding and has no
// keyword (a copy: the request's bytes are not ours to keep).
type shortClean struct {
	b [shortHeader]byte
	n uint8
}

func (c *shortClean) is(v string) bool { return string(c.b[:c.n]) == v }

func (c *shortClean) set(v string) { c.n = uint8(copy(c.b[:], v)) }

// remembered looks a header value up in the memory of clean ones.
func (w *worker) remembered(h *http1.Header) bool {
	c, ok := w.clean[h.Value]
	if !ok || !w.cleanFor(c, h) {
		return false
	}
	if w.rs.anyValue {
		w.values = append(w.values, kv{"header", h.Name, c.norm})
	}
	return true
}

// cleanFor says whether a remembered value is clean under h's name.
func (w *worker) cleanFor(c cleanValue, h *http1.Header) bool {
	return !c.ssrf || fetchParam(h.Name) == c.fetch
}

// remember keeps a clean header value when it has been seen before (by
// a table of hashes: values seen once, like request and trace ids, cost
// no copy and do not crowd out the ones that repeat).
func (w *worker) remember(h *http1.Header, v string, bits int) {
	if len(h.Value) > maxCleanLen {
		return
	}
	sum := maphash.String(w.seed, h.Value)
	if i := sum % uint64(len(w.once)); w.once[i] != sum {
		w.once[i] = sum
		return
	}
	if len(w.clean) >= maxClean {
		clear(w.clean)
	}
	k := strings.Clone(h.Value)
	if v == h.Value {
		v = k // not the reassembly buffer's bytes
	}
	c := cleanValue{norm: v}
	if bits&cSSRF&^w.off != 0 {
		c.ssrf, c.fetch = true, fetchParam(h.Name)
	}
	w.clean[k] = c
}

// header is the value of the first header named name (lower case).

// foldedHeader is the ID of a name that only folds (strings.EqualFold) to
// a header the request walk treats apart: the Kelvin sign folds to k and ſ
// to s (of the others, Authorization and Content-Length have neither
// letter, and Transfer-Encoding's ſ spelling is too long for the framing
// checks). Parsed names are ASCII tokens: only headers built by hand get
// here.
func foldedHeader(name string) http1.HeaderID {
	switch {
	case strings.EqualFold(name, "cookie"):
		return http1.IDCookie
	case strings.EqualFold(name, "user-agent"):
		return http1.IDUserAgent
	}
	return http1.IDOther
}

// nameIs is strings.EqualFold(name, lower) for an ASCII lower-case
// lower (a header or parameter name), quick to say no. A name can only
// match when it is at least as long (runes that fold to ASCII letters, K
// and ſ, take more bytes) and its first byte, when ASCII, is lower's in
// either case.
func nameIs(name, lower string) bool {
	if len(name) < len(lower) || len(lower) == 0 {
		return len(name) == len(lower)
	}
	if c := name[0]; c < utf8.RuneSelf && lowerTab[c] != lower[0] {
		return false
	}
	if len(name) == len(lower) {
		// names are ASCII: compare bytes, and leave others to EqualFold
		for i := 0; i < len(name); i++ {
			if lowerTab[name[i]] != lower[i] {
				return name[i] >= utf8.RuneSelf && strings.EqualFold(name, lower)
			}
		}
		return true
	}
	return strings.EqualFold(name, lower)
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
		if tx.Flags&(http1.FlagGap|http1.FlagTruncated) != 0 {
			conf -= 0.1
		}
		key := aggregate.Key{Class: h.class, Rule: h.rule, Host: ep.Host, Method: ep.Method, Path: ep.Path, Name: ip}
		if h.class == "scanner" {
			key.Method, key.Path = "", "" // a scanner is one detection per actor and tool, not per probed path
		}
		if w.agg.Seen(key) {
			w.agg.Add(key, 1, last, sev)
			continue
		}
		ev := []event.Evidence{{Location: h.loc, Name: boundedName(h.name), Value: redact.Snippet(h.value, 160), Rule: h.rule}}
		if !strings.HasPrefix(h.rule, "crs:") { // the deep check's matches of the same class back the finding
			n := 0
			for _, m := range w.crs {
				if m.class != h.class || n == 2 {
					continue
				}
				n++
				ev = append(ev, event.Evidence{Location: m.loc, Name: boundedName(m.name), Value: redact.Snippet(m.value, 80), Rule: "crs:" + strconv.Itoa(m.id) + " " + redact.Snippet(m.msg, 80)})
				conf = min(conf+0.05, 0.99)
			}
		}
		if succeeded {
			ev = append(ev, event.Evidence{Location: "response_body", Rule: "succeeded:" + why})
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
