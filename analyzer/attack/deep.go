package attack

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/corazawaf/coraza/v3/types"

	"github.com/apitap/apitap/analyzer/redact"
	"github.com/apitap/apitap/reassembly"
)

// DeepConfig is the deep check: Coraza with the OWASP Core Rule Set
// (detection only), a second opinion on the transactions the fast engine
// flags and on a sample of the others, within a budget per second of
// capture time.
type DeepConfig struct {
	// Enabled turns it on.
	Enabled bool `yaml:"enabled"`
	// Flagged checks every transaction the fast engine flagged (within the
	// budget): CRS rules of the same class raise a detection's confidence,
	// CRS findings of other classes become detections of their own.
	Flagged *bool `yaml:"flagged"`
	// SamplePerMille also checks this many of every 1000 other
	// transactions (chosen by a hash of the connection, so replays
	// check the same ones); their CRS findings become detections.
	SamplePerMille int `yaml:"sample_per_mille"`
	// MaxPerConnection bounds the checks of one connection per second of
	// capture time (default 16): a flood on one connection can not take
	// the budget, and the output does not depend on the number of workers.
	MaxPerConnection int `yaml:"max_per_connection"`
	// MaxPerSecond bounds the checks per worker and second of capture
	// time on live sources (apitap run) only, where it keeps an attack
	// from taking the worker's CPU; sampled transactions take at most half
	// of it, so that flagged ones always have room. The rest are counted
	// as skipped. Capture files are read without it (their output would
	// otherwise depend on the number of workers).
	MaxPerSecond int `yaml:"max_per_second"`
	// Paranoia is the CRS paranoia level, 1 to 4.
	Paranoia int `yaml:"paranoia"`
	// ParanoiaFor sets the paranoia level of the transactions to some
	// hosts or paths (the first that matches).
	ParanoiaFor []ParanoiaRule `yaml:"paranoia_for"`
}

// ParanoiaRule is the paranoia level of the transactions to a host (an
// exact name, or *.suffix) and a path prefix; an empty field matches any.
type ParanoiaRule struct {
	Host       string `yaml:"host"`
	PathPrefix string `yaml:"path_prefix"`
	Paranoia   int    `yaml:"paranoia"`
}

func (d *DeepConfig) flagged() bool { return d.Flagged == nil || *d.Flagged }

func (d *DeepConfig) validate() error {
	if !d.Enabled {
		return nil
	}
	var errs []error
	if d.SamplePerMille < 0 || d.SamplePerMille > 1000 || d.MaxPerSecond < 0 || d.MaxPerConnection < 0 || d.Paranoia < 0 || d.Paranoia > 4 {
		errs = append(errs, errors.New("deep_check: sample_per_mille 0-1000, max_per_second and max_per_connection not negative, paranoia 1-4"))
	}
	for i, r := range d.ParanoiaFor {
		if r.Paranoia < 1 || r.Paranoia > 4 {
			errs = append(errs, fmt.Errorf("deep_check.paranoia_for[%d]: paranoia %d: want 1-4", i, r.Paranoia))
		}
		if r.Host == "" && r.PathPrefix == "" {
			errs = append(errs, fmt.Errorf("deep_check.paranoia_for[%d]: host or path_prefix is required", i))
		}
		if r.PathPrefix != "" && !strings.HasPrefix(r.PathPrefix, "/") {
			errs = append(errs, fmt.Errorf("deep_check.paranoia_for[%d]: path_prefix %q must start with /", i, r.PathPrefix))
		}
	}
	return errors.Join(errs...)
}

// deep is the deep check: one Coraza WAF (goroutine-safe) per paranoia
// level in use, compiled when the first transaction needs it (compiling
// the Core Rule Set takes about half a second and 17 MiB; a capture with
// nothing flagged pays neither). Compiling where the transaction is
// checked, not in the background, keeps the output the same on every
// run.
type deep struct {
	cfg              DeepConfig
	wafs             [5]lazyWAF // by paranoia level
	checked, skipped atomic.Uint64
	failed           atomic.Uint64 // checks not made: the rules did not compile
	// live: the per-worker budget applies (live sources only)
	live bool
}

// lazyWAF is a WAF compiled on first use.
type lazyWAF struct {
	once sync.Once
	waf  coraza.WAF
	err  error
}

func (l *lazyWAF) get(paranoia int) (coraza.WAF, error) {
	l.once.Do(func() { l.waf, l.err = compileCRS(paranoia) })
	return l.waf, l.err
}

// newDeep prepares the deep check.
func newDeep(cfg DeepConfig) (*deep, error) {
	if cfg.MaxPerSecond == 0 {
		cfg.MaxPerSecond = defaultDeepPerSecond
	}
	if cfg.MaxPerConnection == 0 {
		cfg.MaxPerConnection = defaultDeepPerConnection
	}
	if cfg.Paranoia == 0 {
		cfg.Paranoia = 1
	}
	return &deep{cfg: cfg}, nil
}

// defaultDeepPerSecond is the default budget of checks per worker and
// second of capture time (see the README for how it was chosen).
const defaultDeepPerSecond = 100

// defaultDeepPerConnection is the default budget of checks per connection
// and second of capture time.
const defaultDeepPerConnection = 16

func compileCRS(paranoia int) (coraza.WAF, error) {
	directives := fmt.Sprintf(`Include @coraza.conf-recommended
SecRuleEngine DetectionOnly
SecRequestBodyAccess On
SecResponseBodyAccess Off
SecAuditEngine Off
Include @crs-setup.conf.example
SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%d"
SecAction "id:900200,phase:1,pass,t:none,nolog,setvar:'tx.allowed_methods=GET HEAD POST OPTIONS PUT PATCH DELETE'"
SecAction "id:900220,phase:1,pass,t:none,nolog,setvar:'tx.allowed_request_content_type=|application/x-www-form-urlencoded| |multipart/form-data| |text/xml| |application/xml| |application/json| |application/x-ndjson| |text/plain|'"
Include @owasp_crs/*.conf
`, paranoia)
	waf, err := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(directives))
	if err != nil {
		return nil, fmt.Errorf("deep_check: loading the Core Rule Set at paranoia level %d: %w", paranoia, err)
	}
	return waf, nil
}

// paranoiaOf is the paranoia level for a transaction.
func (d *deep) paranoiaOf(host, path string) int {
	host = strings.ToLower(host)
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	for _, r := range d.cfg.ParanoiaFor {
		h := strings.ToLower(r.Host)
		hostOK := h == "" || h == host || strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:])
		if hostOK && strings.HasPrefix(path, r.PathPrefix) {
			return r.Paranoia
		}
	}
	return d.cfg.Paranoia
}

// crsMatch is one CRS rule that matched.
type crsMatch struct {
	id       int
	class    string // "" when the rule names no class of ours
	severity string
	msg      string
	loc      string
	name     string
	value    string
}

// crsResult is what the deep check found in one transaction.
type crsResult struct {
	matches   []crsMatch
	score     int // the inbound anomaly score at the paranoia level
	threshold int // the score CRS blocks at
	paranoia  int
}

// crsClass maps a CRS rule to a detection class, by the rule file its id
// is in (and the rule, where a file holds several kinds).
func crsClass(id int, tags []string) string {
	switch {
	case id >= 941000 && id < 942000:
		return "xss"
	case id == 942290:
		return "nosqli"
	case id >= 942000 && id < 943000:
		return "sqli"
	case id >= 930000 && id < 931000:
		return "path_traversal"
	case id >= 931000 && id < 932000:
		return "ssrf" // remote file inclusion: the server fetches a URL
	case id == 932180 || id == 933110 || id == 933111 || id == 944140:
		return "file_upload"
	case id >= 932000 && id < 934000:
		return "cmd_injection"
	case id == 934110 || id == 934120:
		return "ssrf"
	case id == 934130:
		return "prototype_pollution"
	case id == 934180:
		return "ssti"
	case id >= 934000 && id < 935000:
		return "cmd_injection"
	case id >= 944150 && id < 944160:
		return "log4shell"
	case id >= 944000 && id < 945000:
		return "deserialization"
	case id == 921110:
		return "request_smuggling"
	case id >= 921120 && id <= 921190:
		return "crlf_injection"
	case id == 921200:
		return "xpath_ldap_injection"
	case id >= 922000 && id < 923000:
		return "evasion"
	case id >= 913000 && id < 914000:
		return "scanner"
	}
	return ""
}

func crsSeverity(s types.RuleSeverity) string {
	switch {
	case s <= types.RuleSeverityCritical:
		return "high"
	case s <= types.RuleSeverityWarning:
		return "medium"
	}
	return "low"
}

// locationOf names where a matched CRS variable is, in our vocabulary.
func locationOf(v string) string {
	v = strings.ToUpper(v)
	switch {
	case strings.HasPrefix(v, "ARGS_GET"), strings.HasPrefix(v, "QUERY"):
		return "query"
	case strings.HasPrefix(v, "REQUEST_COOKIES"):
		return "cookie"
	case strings.HasPrefix(v, "REQUEST_HEADERS"):
		return "header"
	case strings.HasPrefix(v, "REQUEST_FILENAME"), strings.HasPrefix(v, "REQUEST_URI"), strings.HasPrefix(v, "REQUEST_BASENAME"), strings.HasPrefix(v, "REQUEST_LINE"):
		return "path"
	}
	return "body"
}

// inQuery says whether a query string has a parameter named name.
func inQuery(q, name string) bool {
	if name == "" {
		return false
	}
	for q != "" {
		var p string
		p, q, _ = strings.Cut(q, "&")
		k, _, _ := strings.Cut(p, "=")
		if k == name {
			return true
		}
	}
	return false
}

// check runs the Core Rule Set over one request.
func (d *deep) check(tx *reassembly.Transaction, maxBody int) crsResult {
	req := tx.Request
	res := crsResult{paranoia: d.paranoiaOf(req.Host, req.Path)}
	waf, err := d.wafs[res.paranoia].get(res.paranoia)
	if err != nil {
		d.failed.Add(1)
		return res
	}
	d.checked.Add(1)
	ctx := waf.NewTransaction()
	defer func() {
		ctx.ProcessLogging()
		ctx.Close()
	}()
	ctx.ProcessConnection(tx.Flow.Client.Addr().String(), int(tx.Flow.Client.Port()), tx.Flow.Server.Addr().String(), int(tx.Flow.Server.Port()))
	uri := req.Target
	if req.Query != "" && !strings.Contains(uri, "?") {
		uri = req.Path + "?" + req.Query
	}
	proto := req.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	ctx.ProcessURI(uri, req.Method, proto)
	host := false
	for _, h := range req.Headers {
		ctx.AddRequestHeader(h.Name, h.Value)
		host = host || strings.EqualFold(h.Name, "host")
	}
	if !host && req.Host != "" { // absolute-form targets carry it in the URI
		ctx.AddRequestHeader("Host", req.Host)
	}
	ctx.ProcessRequestHeaders()
	if body := req.Body.Bytes(); len(body) > 0 {
		if len(body) > maxBody {
			body = body[:maxBody]
		}
		_, _, _ = ctx.WriteRequestBody(body)
	}
	_, _ = ctx.ProcessRequestBody()
	for _, mr := range ctx.MatchedRules() {
		r := mr.Rule()
		attack := false
		for _, t := range r.Tags() {
			attack = attack || strings.HasPrefix(t, "attack-")
		}
		if !attack || mr.Message() == "" {
			// setup, paranoia-level markers, anomaly scoring and rules
			// that only keep count (nolog, no message) are not findings
			continue
		}
		m := crsMatch{id: r.ID(), class: crsClass(r.ID(), r.Tags()), severity: crsSeverity(r.Severity()), msg: mr.Message()}
		if ds := mr.MatchedDatas(); len(ds) > 0 {
			m.loc, m.name, m.value = locationOf(ds[0].Variable().Name()), ds[0].Key(), ds[0].Value()
			if m.loc == "body" && inQuery(req.Query, m.name) {
				m.loc = "query" // ARGS is query and body parameters alike
			}
			if m.loc == "path" {
				// the URI with its query: parameters that are secrets are masked
				if p, q, ok := strings.Cut(m.value, "?"); ok {
					m.value = p + "?" + redact.Query(q)
				}
			}
		}
		res.matches = append(res.matches, m)
	}
	if st, ok := ctx.(plugintypes.TransactionState); ok {
		res.score = txInt(st, "blocking_inbound_anomaly_score")
		res.threshold = txInt(st, "inbound_anomaly_score_threshold")
	}
	return res
}

// txInt reads a number from the transaction's TX collection.
func txInt(st plugintypes.TransactionState, key string) int {
	v := st.Variables().TX().Get(key)
	if len(v) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(v[0])
	return n
}

// deepDue decides whether this transaction is checked: flagged ones (if
// configured) and the sample, within the per-second budget of its
// connection and, on live sources, of the worker (of which the sample
// takes at most half).
func (w *worker) deepDue(tx *reassembly.Transaction, flagged bool) bool {
	d := w.st.deep
	due := flagged && d.cfg.flagged()
	sampled := false
	if !due && d.cfg.SamplePerMille > 0 {
		h := fnv.New32a()
		h.Write([]byte(tx.Flow.ID))
		h.Write([]byte(strconv.Itoa(tx.Seq)))
		due = int(h.Sum32()%1000) < d.cfg.SamplePerMille
		sampled = due
	}
	if !due {
		return false
	}
	sec := tx.Request.Start.Unix()
	if fs := tx.Flow.State; fs != nil {
		if fs.DeepSec != sec {
			fs.DeepSec, fs.DeepN = sec, 0
		}
		if int(fs.DeepN) >= d.cfg.MaxPerConnection {
			d.skipped.Add(1)
			return false
		}
	}
	if d.live {
		if sec != w.deepSec {
			w.deepSec, w.deepN, w.deepSampled = sec, 0, 0
		}
		if w.deepN >= d.cfg.MaxPerSecond || sampled && w.deepSampled >= max(d.cfg.MaxPerSecond/2, 1) {
			d.skipped.Add(1)
			return false
		}
	}
	w.deepN++
	if sampled {
		w.deepSampled++
	}
	if fs := tx.Flow.State; fs != nil {
		fs.DeepN++
	}
	return true
}

// deepCheck runs the deep check when it is due and merges its findings
// into the transaction's hits: a class the fast engine found gets the CRS
// rules as more evidence (report), a class it did not becomes a hit of
// its own with the first CRS rule of that class.
func (w *worker) deepCheck(tx *reassembly.Transaction) {
	w.crs = crsResult{matches: w.crs.matches[:0]}
	if w.st.deep == nil || !w.deepDue(tx, w.flagged()) {
		return
	}
	w.crs = w.st.deep.check(tx, w.st.cfg.MaxBodyBytes)
	for _, m := range w.crs.matches {
		if m.class == "" || w.off&classMask(m.class) != 0 || w.hasClass(m.class) {
			continue
		}
		w.hits = append(w.hits, hit{class: m.class, rule: "crs:" + strconv.Itoa(m.id), severity: m.severity, action: "log", loc: m.loc,
			name: m.name, value: m.value, crs: true, cred: credentialLocation(m.loc, m.name)})
	}
}

// flagged says whether the fast engine found something in the
// transaction (a scanner's requests carry its payloads: they are worth a
// second opinion too).
func (w *worker) flagged() bool { return len(w.hits) > 0 }

// DeepStats reports the deep check's checked and skipped (over budget)
// transactions; both 0 when it is off.
func (s *State) DeepStats() (checked, skipped uint64) {
	if s.deep == nil {
		return 0, 0
	}
	return s.deep.checked.Load(), s.deep.skipped.Load()
}
