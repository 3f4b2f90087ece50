package attack

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/types"

	"github.com/apitap/apitap/reassembly"
)

// DeepConfig is the optional deep check: Coraza with the OWASP Core Rule
// Set (detection only) on the transactions the fast engine flags and on a
// sample of the others, within a budget per second of capture time.
type DeepConfig struct {
	// Enabled turns it on (off by default: see the README for its cost).
	Enabled bool `yaml:"enabled"`
	// Flagged checks the transactions the fast engine flagged; their
	// detections get the CRS rules that matched as more evidence.
	Flagged *bool `yaml:"flagged"`
	// SamplePerMille also checks this many of every 1000 other
	// transactions (chosen by a hash of the connection, so replays
	// check the same ones); CRS matches there become detections.
	SamplePerMille int `yaml:"sample_per_mille"`
	// MaxPerSecond bounds the checks per worker and second of capture
	// time; the rest are counted as skipped.
	MaxPerSecond int `yaml:"max_per_second"`
	// Paranoia is the CRS paranoia level, 1 to 4.
	Paranoia int `yaml:"paranoia"`
}

func (d *DeepConfig) flagged() bool { return d.Flagged == nil || *d.Flagged }

func (d *DeepConfig) validate() error {
	if !d.Enabled {
		return nil
	}
	if d.SamplePerMille < 0 || d.SamplePerMille > 1000 || d.MaxPerSecond < 0 || d.Paranoia < 0 || d.Paranoia > 4 {
		return errors.New("deep_check: sample_per_mille 0-1000, max_per_second not negative, paranoia 1-4")
	}
	return nil
}

// deep is the shared Coraza instance (goroutine-safe).
type deep struct {
	cfg              DeepConfig
	waf              coraza.WAF
	checked, skipped atomic.Uint64
}

// newDeep compiles the Core Rule Set, tuned for APIs: PUT, PATCH and
// DELETE are allowed methods and JSON an allowed content type.
func newDeep(cfg DeepConfig) (*deep, error) {
	if cfg.MaxPerSecond == 0 {
		cfg.MaxPerSecond = 200
	}
	if cfg.Paranoia == 0 {
		cfg.Paranoia = 1
	}
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
`, cfg.Paranoia)
	waf, err := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(directives))
	if err != nil {
		return nil, fmt.Errorf("deep_check: loading the Core Rule Set: %w", err)
	}
	return &deep{cfg: cfg, waf: waf}, nil
}

// crsMatch is one CRS rule that matched.
type crsMatch struct {
	id       int
	class    string // "" when the rule's tags name no class of ours
	severity string
	msg      string
	loc      string
	name     string
	value    string
}

// crsClass maps CRS attack tags to detection classes.
func crsClass(tags []string, msg string) string {
	for _, t := range tags {
		switch t {
		case "attack-sqli":
			return "sqli"
		case "attack-xss":
			return "xss"
		case "attack-lfi":
			return "path_traversal"
		case "attack-rfi":
			return "ssrf"
		case "attack-rce", "attack-injection-php", "attack-injection-generic", "attack-nodejs":
			return "cmd_injection"
		case "attack-java":
			if strings.Contains(strings.ToLower(msg), "log4j") || strings.Contains(strings.ToLower(msg), "jndi") {
				return "log4shell"
			}
			return "cmd_injection"
		case "attack-reputation-scanner":
			return "scanner"
		}
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
	case strings.HasPrefix(v, "REQUEST_FILENAME"), strings.HasPrefix(v, "REQUEST_URI"), strings.HasPrefix(v, "REQUEST_BASENAME"):
		return "path"
	}
	return "body"
}

// check runs the Core Rule Set over one request.
func (d *deep) check(tx *reassembly.Transaction, maxBody int) []crsMatch {
	d.checked.Add(1)
	req := tx.Request
	ctx := d.waf.NewTransaction()
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
	if body := req.Body.Data; len(body) > 0 {
		if len(body) > maxBody {
			body = body[:maxBody]
		}
		ctx.WriteRequestBody(body)
	}
	ctx.ProcessRequestBody()
	var out []crsMatch
	for _, mr := range ctx.MatchedRules() {
		r := mr.Rule()
		attack := false
		for _, t := range r.Tags() {
			attack = attack || strings.HasPrefix(t, "attack-")
		}
		if !attack { // setup, paranoia-level markers and anomaly scoring are not findings
			continue
		}
		m := crsMatch{id: r.ID(), class: crsClass(r.Tags(), mr.Message()), severity: crsSeverity(r.Severity()), msg: mr.Message()}
		if ds := mr.MatchedDatas(); len(ds) > 0 {
			m.loc, m.name, m.value = locationOf(ds[0].Variable().Name()), ds[0].Key(), ds[0].Value()
		}
		out = append(out, m)
	}
	return out
}

// deepDue decides whether this transaction is checked: flagged ones (if
// configured) and the sample, within the per-second budget of the worker.
func (w *worker) deepDue(tx *reassembly.Transaction, flagged bool) bool {
	d := w.st.deep
	due := flagged && d.cfg.flagged()
	if !due && d.cfg.SamplePerMille > 0 {
		h := fnv.New32a()
		h.Write([]byte(tx.Flow.ID))
		h.Write([]byte(strconv.Itoa(tx.Seq)))
		due = int(h.Sum32()%1000) < d.cfg.SamplePerMille
	}
	if !due {
		return false
	}
	if sec := tx.Request.Start.Unix(); sec != w.deepSec {
		w.deepSec, w.deepN = sec, 0
	}
	if w.deepN >= d.cfg.MaxPerSecond {
		d.skipped.Add(1)
		return false
	}
	w.deepN++
	return true
}

// DeepStats reports the deep check's checked and skipped (over budget)
// transactions; both 0 when it is off.
func (s *State) DeepStats() (checked, skipped uint64) {
	if s.deep == nil {
		return 0, 0
	}
	return s.deep.checked.Load(), s.deep.skipped.Load()
}
