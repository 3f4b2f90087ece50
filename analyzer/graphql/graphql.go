package graphql

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/aggregate"
	"github.com/apitap/apitap/analyzer/attack"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/graphql/gqlreq"
	"github.com/apitap/apitap/analyzer/redact"
	"github.com/apitap/apitap/analyzer/sensitive"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// Name is the analyzer's name and configuration key.
const Name = "graphql"

// Limits are what one GraphQL request may do before it is reported. In
// a hosts entry, unset (zero) keys take the section's values.
type Limits struct {
	// MaxDepth of a selection (root fields are depth 1).
	MaxDepth int `yaml:"max_depth"`
	// MaxAliases per operation; MaxRepeat: times one field may be selected
	// in one selection set (the same field under many aliases: brute
	// force in one request).
	MaxAliases int `yaml:"max_aliases"`
	MaxRepeat  int `yaml:"max_repeat"`
	// MaxBatch: operations per request (a JSON array).
	MaxBatch int `yaml:"max_batch"`
	// MaxDirectives on one field or fragment use.
	MaxDirectives int `yaml:"max_directives"`
	// Introspection: report __schema and __type queries ("report" or
	// "allow"; allow for APIs that publish their schema).
	Introspection string `yaml:"introspection"`
}

// Config is the `analyzers.graphql` section.
type Config struct {
	Limits `yaml:",inline"`
	// Hosts override the limits per host (the Host header, lower case,
	// without port).
	Hosts map[string]Limits `yaml:"hosts"`
	// RepeatInterval and MaxTracked aggregate repeats per actor.
	RepeatInterval time.Duration `yaml:"repeat_interval"`
	MaxTracked     int           `yaml:"max_tracked"`
	// AttackInputs hands argument literals (and GET variables) to the
	// attack analyzer.
	AttackInputs bool `yaml:"attack_inputs"`
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{Limits: Limits{MaxDepth: 10, MaxAliases: 30, MaxRepeat: 10, MaxBatch: 10, MaxDirectives: 5, Introspection: "report"},
		RepeatInterval: 5 * time.Minute, MaxTracked: 20000, AttackInputs: true}
}

// Validate checks the section.
func (c *Config) Validate() error {
	var errs []error
	check := func(where string, l Limits, top bool) {
		if l.MaxDepth < 0 || l.MaxAliases < 0 || l.MaxRepeat < 0 || l.MaxBatch < 0 || l.MaxDirectives < 0 {
			errs = append(errs, fmt.Errorf("%s: limits must not be negative", where))
		}
		if top && (l.MaxDepth == 0 || l.MaxAliases == 0 || l.MaxRepeat == 0 || l.MaxBatch == 0 || l.MaxDirectives == 0) {
			errs = append(errs, fmt.Errorf("%s: max_depth, max_aliases, max_repeat, max_batch and max_directives must be positive", where))
		}
		if l.Introspection != "" && l.Introspection != "report" && l.Introspection != "allow" || top && l.Introspection == "" {
			errs = append(errs, fmt.Errorf("%s: introspection: want report or allow, got %q", where, l.Introspection))
		}
	}
	check("analyzers.graphql", c.Limits, true)
	for h, l := range c.Hosts {
		check("analyzers.graphql.hosts."+h, l, false)
	}
	if c.RepeatInterval <= 0 || c.MaxTracked < 1 {
		errs = append(errs, errors.New("analyzers.graphql: repeat_interval and max_tracked must be positive"))
	}
	return errors.Join(errs...)
}

// limitsFor merges a host's overrides over the section's limits.
func (c *Config) limitsFor(host string) Limits {
	l := c.Limits
	if len(c.Hosts) == 0 {
		return l
	}
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	o, ok := c.Hosts[h]
	if !ok {
		return l
	}
	set := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	set(&l.MaxDepth, o.MaxDepth)
	set(&l.MaxAliases, o.MaxAliases)
	set(&l.MaxRepeat, o.MaxRepeat)
	set(&l.MaxBatch, o.MaxBatch)
	set(&l.MaxDirectives, o.MaxDirectives)
	if o.Introspection != "" {
		l.Introspection = o.Introspection
	}
	return l
}

func init() {
	analyzer.Register(analyzer.Descriptor{
		Name: Name,
		// the sensitive analyzer's verdict on a WebSocket answer
		// (Notes.SensitiveResponse) is attributed to its operation
		After:     []string{"sensitive"},
		Provides:  []string{"Notes.GraphQL", "Notes.GraphQLOps"},
		Default:   true,
		NewConfig: func() any { return NewConfig() },
		New: func(cfg any, env analyzer.Env) (analyzer.Analyzer, error) {
			c := cfg.(*Config)
			inputsOn.Store(c.AttackInputs)
			return &worker{cfg: c, p: gqlreq.NewParser(gqlreq.Limits{}), agg: aggregate.New(c.RepeatInterval, c.MaxTracked, "gq-")}, nil
		},
	})
	attack.AddInputs(inputs)
}

// worker is one worker's instance.
type worker struct {
	cfg  *Config
	p    *gqlreq.Parser
	agg  *aggregate.Aggregator
	scan *sensitive.Scanner // batch responses, per element (note.go); made on first use
}

// Name implements analyzer.Analyzer.
func (w *worker) Name() string { return Name }

// AnalyzesMessages implements analyzer.MessageAnalyzer: GraphQL over
// WebSocket is examined too.
func (w *worker) AnalyzesMessages() bool { return true }

// Flush re-emits aggregated detections.
func (w *worker) Flush(now time.Time, emit analyzer.Emitter) { w.agg.Flush(now, emit, false) }

// Finish emits what is pending.
func (w *worker) Finish(now time.Time, emit analyzer.Emitter) { w.agg.Flush(now, emit, true) }

// finding is one thing a request did.
type finding struct {
	class, rule, severity string
	conf                  float64
	loc, name, value      string
}

// Analyze examines one transaction (or WebSocket message).
func (w *worker) Analyze(tx *reassembly.Transaction, emit analyzer.Emitter) {
	req := tx.Request
	if req == nil {
		return
	}
	var r *gqlreq.Request
	if m := tx.Message; m != nil {
		if !m.FromClient {
			if resp, ok := w.p.ParseMessageResponse(respBody(tx)); ok {
				w.response(tx, resp, nil, emit)
			}
			return
		}
		r = w.p.ParseMessage(req.Body.Bytes())
	} else {
		r = w.p.Parse(req)
	}
	if r == nil {
		return
	}
	if tx.Message == nil {
		tx.Notes.GraphQL = w.note(tx, r)
		tx.Notes.GraphQLOps = opsHash(r)
	}
	lim := w.cfg.limitsFor(req.Host)
	var fs []finding
	loc := "body"
	if r.Via == gqlreq.ViaGET {
		loc = "query"
	}
	if r.Batch > lim.MaxBatch {
		sev := "medium"
		if r.Batch >= 5*lim.MaxBatch {
			sev = "high"
		}
		fs = append(fs, finding{"graphql_batching", "graphql:max_batch", sev, 0.85, loc, "batch", over(r.Batch, lim.MaxBatch)})
	}
	for i := range r.Ops {
		o := &r.Ops[i]
		name := opName(o)
		if o.Introspection && lim.Introspection == "report" {
			fs = append(fs, finding{"graphql_introspection", "graphql:introspection", "medium", 0.9, loc, name, "__schema/__type"})
		}
		if o.Depth > lim.MaxDepth {
			sev := "medium"
			if o.Depth >= 2*lim.MaxDepth {
				sev = "high"
			}
			fs = append(fs, finding{"graphql_depth", "graphql:max_depth", sev, 0.85, loc, name, over(o.Depth, lim.MaxDepth)})
		}
		if o.MaxRepeat > lim.MaxRepeat {
			fs = append(fs, finding{"graphql_alias_abuse", "graphql:max_repeat", "high", 0.85, loc, name, over(o.MaxRepeat, lim.MaxRepeat)})
		} else if o.Aliases > lim.MaxAliases {
			fs = append(fs, finding{"graphql_alias_abuse", "graphql:max_aliases", "medium", 0.8, loc, name, over(o.Aliases, lim.MaxAliases)})
		}
		if o.MaxDirectives > lim.MaxDirectives {
			fs = append(fs, finding{"graphql_directive_overload", "graphql:max_directives", "medium", 0.85, loc, name, over(o.MaxDirectives, lim.MaxDirectives)})
		}
		if o.FragmentCycle {
			fs = append(fs, finding{"graphql_circular_fragment", "graphql:fragment_cycle", "high", 0.9, loc, name, "cycle"})
		}
		if o.Type == "mutation" && tx.Message == nil && csrfable(req, r.Via) {
			fs = append(fs, finding{"graphql_csrf", "graphql:csrf_" + r.Via, "medium", 0.8, loc, name, req.Method + " " + r.Via})
		}
	}
	w.report(tx, fs, emit)
	if tx.Message == nil && tx.Response != nil {
		if b := tx.Response.Body.Bytes(); mayHaveErrors(b) {
			if resp, ok := w.p.ParseResponse(b); ok {
				w.response(tx, resp, r, emit)
			}
		}
	}
}

// mayHaveErrors says whether a response body may hold an errors member,
// the only part of a response this analyzer reports on: the key in any
// case (encoding/json matches keys without case), or escapes that could
// spell it. Most responses are data only, and are not decoded.
func mayHaveErrors(b []byte) bool {
	for i := 0; i+6 <= len(b); i++ {
		if c := b[i]; c == '\\' && b[i+1] == 'u' || (c|0x20) == 'e' && (b[i+1]|0x20) == 'r' && (b[i+2]|0x20) == 'r' && (b[i+3]|0x20) == 'o' && (b[i+4]|0x20) == 'r' && (b[i+5]|0x20) == 's' {
			return true
		}
	}
	return false
}

// response reports what a GraphQL response leaks.
func (w *worker) response(tx *reassembly.Transaction, resp gqlreq.Response, r *gqlreq.Request, emit analyzer.Emitter) {
	name := ""
	if r != nil && len(r.Ops) > 0 {
		name = opName(&r.Ops[0])
	}
	var fs []finding
	if resp.Suggestions {
		fs = append(fs, finding{"graphql_field_suggestion", "graphql:did_you_mean", "low", 0.9, "response_body", name, "suggestion"})
	}
	if resp.Verbose {
		fs = append(fs, finding{"graphql_verbose_error", "graphql:verbose_error", "low", 0.8, "response_body", name, "internals"})
	}
	w.report(tx, fs, emit)
}

// csrfable: a mutation a cross-site page can make a browser send without a
// preflight: by GET, or a POST whose content type a form can have.
func csrfable(req *http1.Request, via string) bool {
	if via == gqlreq.ViaGET {
		return true
	}
	if req.Method != "POST" {
		return false
	}
	ct := strings.ToLower(http1.Get(req.Headers, http1.IDContentType))
	mt, _, _ := strings.Cut(ct, ";")
	switch strings.TrimSpace(mt) {
	case "text/plain", "application/x-www-form-urlencoded", "multipart/form-data":
		return true
	}
	return false
}

func over(v, limit int) string {
	return strconv.Itoa(v) + " (limit " + strconv.Itoa(limit) + ")"
}

// opName is how evidence names an operation (bounded; anonymous ones by
// type).
func opName(o *gqlreq.Operation) string {
	n := o.Name
	if n == "" {
		n = "(anonymous)"
	}
	if len(n) > 64 {
		n = n[:64]
	}
	return o.Type + " " + n
}

func respBody(tx *reassembly.Transaction) []byte {
	if tx.Response != nil {
		return tx.Response.Body.Bytes()
	}
	return nil
}

// report emits the findings (aggregated per actor, class and endpoint).
func (w *worker) report(tx *reassembly.Transaction, fs []finding, emit analyzer.Emitter) {
	if len(fs) == 0 {
		return
	}
	req := tx.Request
	actor := event.ClientActor(tx)
	ep := event.Endpoint{Host: bounded(strings.ToLower(req.Host)), Method: bounded(req.Method), Path: redact.Path(discovery.Template(req.Path))}
	at, last := req.Start, req.End
	if r := tx.Response; r != nil && r.End.After(last) {
		last = r.End
	}
	if last.Before(at) {
		last = at
	}
	for _, f := range fs {
		key := aggregate.Key{Class: f.class, Rule: f.rule, Host: ep.Host, Method: ep.Method, Path: ep.Path, Name: actor.IP}
		conf := f.conf
		if tx.Flags&(http1.FlagGap|http1.FlagTruncated) != 0 {
			conf -= 0.1
		}
		w.agg.Emit(key, event.Detection{Class: f.class, Severity: f.severity, Confidence: conf, Actor: actor, Endpoint: ep,
			Evidence: []event.Evidence{{Location: f.loc, Name: bounded(f.name), Value: f.value, Rule: f.rule}}, FirstSeen: at, LastSeen: last, Count: 1, Action: "log"}, emit)
	}
}

func bounded(s string) string {
	if len(s) > 128 {
		return s[:128]
	}
	return s
}

// inputs is the attack analyzer's hook: the string literals of GraphQL
// arguments, and the variables of GET requests (a JSON object in the
// query string, which the attack analyzer reads as one value).
func inputs(tx *reassembly.Transaction, add func(loc, name, value string)) {
	req := tx.Request
	if !inputsOn.Load() || req == nil || tx.Message != nil && !tx.Message.FromClient || tx.Message == nil && !gqlreq.Looks(req) {
		return
	}
	p := parsers.Get().(*gqlreq.Parser)
	defer parsers.Put(p)
	var r *gqlreq.Request
	if tx.Message != nil {
		r = p.ParseMessage(req.Body.Bytes())
	} else {
		r = p.Parse(req)
	}
	if r == nil {
		return
	}
	for i := range r.Ops {
		o := &r.Ops[i]
		for _, l := range o.Literals {
			add("body", "graphql:"+l.Name, l.Value)
		}
		if r.Via == gqlreq.ViaGET && len(o.VariablesJSON) > 0 {
			var vars map[string]any
			if json.Unmarshal(o.VariablesJSON, &vars) == nil {
				n := 0
				walkStrings("variables", vars, func(name, v string) {
					if n < 64 {
						n++
						add("query", name, v)
					}
				}, 0)
			}
		}
	}
}

func walkStrings(name string, v any, fn func(name, v string), depth int) {
	if depth > 8 {
		return
	}
	switch v := v.(type) {
	case string:
		fn(name, v)
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) { // a stable order: the same evidence every run
			walkStrings(name+"."+k, v[k], fn, depth+1)
		}
	case []any:
		for _, c := range v {
			walkStrings(name, c, fn, depth+1)
		}
	}
}

var parsers = sync.Pool{New: func() any { return gqlreq.NewParser(gqlreq.Limits{}) }}

// inputsOn is attack_inputs of the running configuration (the hook is
// registered once, from init).
var inputsOn atomic.Bool

// opsHash identifies what a GraphQL request asks for (Notes.GraphQLOps):
// a hash of its operations' types, names and root fields (a persisted
// query's hash when there is no text). One endpoint serves every
// operation, so analyzers that learn per endpoint key on it too.
func opsHash(r *gqlreq.Request) uint64 {
	h := fnv.New64a()
	add := func(s string) {
		io.WriteString(h, s)
		h.Write([]byte{0xff}) // a separator no name contains
	}
	for i := range r.Ops {
		o := &r.Ops[i]
		add(o.Type)
		add(o.Name)
		add(o.Hash)
		for _, f := range o.RootFields {
			add(f)
		}
	}
	return h.Sum64() | 1
}
