package sensitive

import (
	"errors"
	"fmt"
	"math/bits"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/aggregate"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/identity"
	"github.com/apitap/apitap/analyzer/redact"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// Name is the analyzer's name and configuration key.
const Name = "sensitive"

func init() {
	if len(event.SensitiveTypes) != int(numTypes) {
		panic("sensitive: types out of step with event.SensitiveTypes")
	}
	analyzer.Register(analyzer.Descriptor{
		Name:      Name,
		Provides:  []string{"Notes.SensitiveRequest", "Notes.SensitiveResponse", "Notes.SensitiveInferred", "Notes.ResponseScanned", "Notes.Authenticated"},
		Default:   true,
		NewConfig: func() any { return NewConfig() },
		New: func(cfg any, env analyzer.Env) (analyzer.Analyzer, error) {
			a, err := New(cfg.(*Config))
			if err == nil {
				a.split = env.Split // response bodies are the stage-two part's
			}
			return a, err
		},
		NewOrdered: func(cfg any, env analyzer.Env) (analyzer.Analyzer, error) {
			return NewResponses(cfg.(*Config), env.Folder)
		},
	})
}

// Config is the `analyzers.sensitive` section.
type Config struct {
	// RepeatInterval (capture time): a detection is emitted when first
	// seen, then at most once per interval with the count since.
	RepeatInterval time.Duration `yaml:"repeat_interval"`
	// BulkThreshold personal values in one response make a bulk exposure.
	BulkThreshold int `yaml:"bulk_threshold"`
	// MaxTracked bounds the open detections per worker.
	MaxTracked int `yaml:"max_tracked"`
	// HashKeyFile holds a key: evidence then carries an HMAC of the value
	// so detections about the same value can be correlated.
	HashKeyFile string `yaml:"hash_key_file"`
	// TLSTerminated lists server CIDRs, and TLSTerminatedHosts Host names
	// ("api.example.com", "*.example.com"), whose traffic is mirrored after
	// TLS termination (as are requests that say so with X-Forwarded-Proto:
	// https or Forwarded: proto=https): their clients' leg was encrypted,
	// so bearer tokens, API key headers, session cookies and passwords in
	// bodies are expected in clear text there; Basic credentials and
	// credentials in the URL are still plaintext_credentials findings.
	TLSTerminated      []string `yaml:"tls_terminated_cidrs"`
	TLSTerminatedHosts []string `yaml:"tls_terminated_hosts"`
	// PostureInterval: a plaintext_credentials finding (one per host and
	// credential kind) is raised once and updated at most this often
	// (capture time) with its clients and counts. PostureClients bounds the
	// clients it lists.
	PostureInterval time.Duration `yaml:"posture_interval"`
	PostureClients  int           `yaml:"posture_clients"`
	// Custom data types.
	Custom []CustomConfig `yaml:"custom"`
	// LearnResponses: the first response bodies of every connection are
	// scanned; then one in SampleEvery (chosen by a hash of the
	// connection and the transaction's number in it, so the same capture
	// always scans the same ones), or one in HotSampleEvery once a
	// response on the connection held personal or secret data. Requests are always
	// scanned whole. The decision uses nothing but the transaction and its
	// connection, so it does not depend on how connections are spread
	// over workers.
	LearnResponses int `yaml:"learn_responses"`
	SampleEvery    int `yaml:"sample_every"`
	// HotSampleEvery is the sample on connections whose responses held
	// personal or secret data (1: all of them). On every connection the
	// first response of each endpoint, and responses odd for their
	// endpoint (a status class not scanned yet, a body over 1.5 times
	// the largest scanned), are scanned too.
	HotSampleEvery int `yaml:"hot_sample_every"`
}

// CustomConfig is one custom data type.
type CustomConfig struct {
	Name      string   `yaml:"name"`
	Pattern   string   `yaml:"pattern"`
	Validator string   `yaml:"validator"` // "", luhn, mod97, ssn
	Severity  string   `yaml:"severity"`
	Fields    []string `yaml:"fields"` // field-name hints; empty: everywhere
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{RepeatInterval: 10 * time.Minute, BulkThreshold: 10, MaxTracked: 10000, LearnResponses: 4, SampleEvery: 16, HotSampleEvery: 8, PostureInterval: time.Hour, PostureClients: 16}
}

// Validate checks the section, compiling the custom patterns.
func (c *Config) Validate() error {
	var errs []error
	if c.RepeatInterval <= 0 {
		errs = append(errs, errors.New("repeat_interval: must be positive"))
	}
	if c.BulkThreshold < 1 {
		errs = append(errs, errors.New("bulk_threshold: must be at least 1"))
	}
	if c.MaxTracked < 1 {
		errs = append(errs, errors.New("max_tracked: must be at least 1"))
	}
	if c.LearnResponses < 0 || c.SampleEvery < 1 || c.HotSampleEvery < 1 {
		errs = append(errs, errors.New("learn_responses must not be negative; sample_every and hot_sample_every must be at least 1"))
	}
	for _, cidr := range c.TLSTerminated {
		if _, err := parsePrefix(cidr); err != nil {
			errs = append(errs, fmt.Errorf("tls_terminated_cidrs: %w", err))
		}
	}
	for _, h := range c.TLSTerminatedHosts {
		if strings.TrimPrefix(h, "*.") == "" || strings.ContainsAny(h, " /:") {
			errs = append(errs, fmt.Errorf("tls_terminated_hosts: %q is not a host name or *.domain", h))
		}
	}
	if c.PostureInterval <= 0 {
		errs = append(errs, errors.New("posture_interval: must be positive"))
	}
	if c.PostureClients < 1 || c.PostureClients > 1000 {
		errs = append(errs, errors.New("posture_clients: 1 to 1000"))
	}
	seen := map[string]bool{}
	for i, ct := range c.Custom {
		where := fmt.Sprintf("custom[%d]", i)
		if ct.Name == "" {
			errs = append(errs, fmt.Errorf("%s: name is required", where))
		}
		if seen[ct.Name] {
			errs = append(errs, fmt.Errorf("%s: duplicate name %q", where, ct.Name))
		}
		seen[ct.Name] = true
		if _, err := regexp.Compile(ct.Pattern); err != nil || ct.Pattern == "" {
			errs = append(errs, fmt.Errorf("%s (%s): pattern: %v", where, ct.Name, errOr(err, "required")))
		}
		switch ct.Validator {
		case "", "luhn", "mod97", "ssn":
		default:
			errs = append(errs, fmt.Errorf("%s (%s): validator %q: want luhn, mod97, ssn or none", where, ct.Name, ct.Validator))
		}
		if ct.Severity != "" && !validSeverity(ct.Severity) {
			errs = append(errs, fmt.Errorf("%s (%s): severity %q: want one of %s", where, ct.Name, ct.Severity, strings.Join(event.Severities, ", ")))
		}
	}
	return errors.Join(errs...)
}

func errOr(err error, s string) any {
	if err != nil {
		return err
	}
	return s
}

func validSeverity(s string) bool {
	for _, v := range event.Severities {
		if v == s {
			return true
		}
	}
	return false
}

// Locations of findings, as detection evidence names them.
const (
	locPath = iota
	locQuery
	locHeader
	locCookie
	locBody
	locRespHeader
	locRespBody
	numLocs
)

var locNames = [numLocs]string{"path", "query", "header", "cookie", "body", "response_header", "response_body"}

// example is the first finding of a type in a location. Its raw value
// and field are kept in the analyzer's arena (reset per transaction) and
// masked only if a new detection needs them as evidence.
type example struct {
	set        bool
	weak       bool
	typ        Type
	rule       string
	n          int // the value's full length
	v0, v1, f1 int // arena offsets: value [v0:v1], field [v1:f1]
}

// maxKept bounds the bytes of a value kept for masking and hashing.
const maxKept = 512

// Analyzer is one worker's instance.
type Analyzer struct {
	cfg    *Config
	scan   Scanner
	hasher *redact.Hasher
	tls    []prefix
	sev    []string // custom severities

	// per transaction
	loc     int
	counts  [numLocs][numTypes]int
	ex      [numLocs][numTypes]example
	arena   []byte
	weakJWT int
	collect func(*Finding)

	agg        *aggregate.Aggregator
	posture    *aggregate.Aggregator // plaintext_credentials: per host and credential kind, with clients
	tlsHosts   []string              // lower case; "*.example.com" as ".example.com"
	templates  map[folded]string
	lazy       analyzer.Evidencer      // builds findings' evidence from encodeEvidence's bytes (fold)
	evArg      []byte                  // encodeEvidence's buffer
	det        event.Detection         // fold's, during the call
	hkinds     map[string]int          // header name as sent -> kind
	hostRaw    string                  // the Host of the last detection
	host       string                  // ... as detections name it
	seen       [numLocs]uint64         // types with findings in this transaction, by location
	types      [numLocs][numTypes]Type // typesIn's results
	clean      map[hdrKey]struct{}     // header values that had nothing, bounded
	tokens     map[string]tokenScan    // bearer tokens' findings, bounded (memo.go)
	memo       tokenScan               // scanToken's findings so far
	memoOK     bool                    // memo is replayable so far
	memoOf     string                  // the token scanToken scans
	collectTok func(*Finding)          // collectMemo, bound once
	found      int                     // findings so far (all transactions)
	out        []finding               // reused by decide
	split      bool                    // stage one of a split pipeline: response bodies are stage two's
	authedNote bool                    // stage two: the request carried credentials (Notes.Authenticated)
}

// New builds an instance.
func New(cfg *Config) (*Analyzer, error) {
	a := &Analyzer{cfg: cfg, agg: aggregate.New(cfg.RepeatInterval, cfg.MaxTracked, "sd-"), templates: map[folded]string{}, hkinds: map[string]int{}}
	a.posture = aggregate.New(cfg.PostureInterval, cfg.MaxTracked, "pc-")
	a.posture.Clients = cfg.PostureClients
	for _, h := range cfg.TLSTerminatedHosts {
		a.tlsHosts = append(a.tlsHosts, strings.TrimPrefix(strings.ToLower(h), "*"))
	}
	for _, c := range cfg.TLSTerminated {
		p, err := parsePrefix(c)
		if err != nil {
			return nil, err
		}
		a.tls = append(a.tls, p)
	}
	for _, ct := range cfg.Custom {
		var fields []string
		for _, f := range ct.Fields {
			fields = append(fields, strings.ToLower(f))
		}
		a.scan.Custom = append(a.scan.Custom, CustomType{Name: ct.Name, Re: regexp.MustCompile(ct.Pattern), Validator: ct.Validator, Fields: fields})
		sev := ct.Severity
		if sev == "" {
			sev = "medium"
		}
		a.sev = append(a.sev, sev)
	}
	if cfg.HashKeyFile != "" {
		key, err := os.ReadFile(cfg.HashKeyFile)
		if err != nil {
			return nil, fmt.Errorf("hash_key_file: %w", err)
		}
		key = []byte(strings.TrimSpace(string(key)))
		if len(key) < 16 {
			return nil, fmt.Errorf("hash_key_file %s: the key must have at least 16 bytes", cfg.HashKeyFile)
		}
		a.hasher = redact.NewHasher(key)
	}
	a.lazy = lazyEvidence{a.hasher}
	a.collect = a.onFinding
	a.collectTok = a.collectMemo
	return a, nil
}

// Name implements analyzer.Analyzer.
func (a *Analyzer) Name() string { return Name }

func (a *Analyzer) onFinding(f *Finding) {
	a.found++
	c := &a.counts[a.loc][f.Type]
	*c++
	a.seen[a.loc] |= 1 << f.Type
	if f.Weak {
		a.weakJWT++
	}
	e := &a.ex[a.loc][f.Type]
	if e.set && (e.weak || !f.Weak) {
		return
	}
	v0 := len(a.arena)
	a.arena = append(a.arena, f.Value[:min(len(f.Value), maxKept)]...)
	v1 := len(a.arena)
	if f.json != nil {
		a.arena = f.json.appendPointer(a.arena)
	} else {
		a.arena = append(a.arena, f.Field...)
	}
	f1 := min(len(a.arena), v1+128)
	a.arena = a.arena[:f1]
	rule := f.Rule
	if f.Type == TCustom {
		rule = a.scan.Custom[f.Custom].Name
	}
	*e = example{set: true, weak: f.Weak, typ: f.Type, rule: rule, n: len(f.Value), v0: v0, v1: v1, f1: f1}
}

func boundedField(f string) string {
	if len(f) > 128 {
		return f[:128]
	}
	return f
}

// Mask is the exported form of a finding's value.
func Mask(f *Finding) string { return mask(f.Type, f.Weak, f.Value, len(f.Value)) }

// mask masks raw (the first bytes of a value of length n) by type.
func mask(t Type, weak bool, raw []byte, n int) string {
	v := string(raw)
	switch t {
	case TCard:
		return redact.Card(v)
	case TSSN:
		return redact.SSN(v)
	case TIBAN:
		return redact.IBAN(v)
	case TEmail:
		return redact.Email(v)
	case TPhone, TIMEI:
		return redact.Tail(v, 2)
	case TIP:
		return redact.IPv4(v)
	case TDOB:
		return "[REDACTED date]"
	case TJWT:
		if weak {
			return "[REDACTED JWT, unsigned]"
		}
		return "[REDACTED JWT]"
	}
	return "[REDACTED len=" + strconv.Itoa(n) + "]"
}

// Analyze scans the transaction's request and response headers, and its
// response body unless the stage-two part does (Env.Split: it chooses
// which response bodies to scan with what every connection taught it,
// see responses.go). WebSocket messages are scanned here: the first ones
// of each connection, then a deterministic one in sample_every.
func (a *Analyzer) Analyze(tx *reassembly.Transaction, emit analyzer.Emitter) {
	req := tx.Request
	if req == nil {
		return
	}
	a.reset()
	a.scanRequest(req)
	if resp := tx.Response; resp != nil {
		body := !a.split
		if tx.Message != nil {
			body = tx.Seq < a.cfg.LearnResponses || sampled(tx, a.cfg.SampleEvery)
		}
		a.scanResponse(resp, body)
		tx.Notes.ResponseScanned = body && !resp.Body.Empty()
		if st := tx.Flow.State; tx.Message != nil && st != nil && !resp.Body.Empty() {
			if body {
				st.MessageTypes = a.seen[locRespBody]
			} else {
				tx.Notes.SensitiveInferred = st.MessageTypes // the estimate, as for responses
			}
		}
	}
	var reqBits, respBits uint64
	for l := 0; l < numLocs; l++ {
		if l >= locRespHeader {
			respBits |= a.seen[l]
		} else {
			reqBits |= a.seen[l]
		}
	}
	tx.Notes.SensitiveRequest |= reqBits
	tx.Notes.SensitiveResponse |= respBits
	tx.Notes.Authenticated = a.authed()
	if reqBits|respBits != 0 {
		a.decide(tx, 0, emit)
	}
}

// authed says whether the transaction's request carried credentials in
// a header or a cookie (in stage two: what stage one noted).
func (a *Analyzer) authed() bool {
	return a.authedNote || a.counts[locHeader][TCredentials]+a.counts[locCookie][TCredentials] > 0
}

func (a *Analyzer) scanRequest(req *http1.Request) {
	a.loc = locPath
	prev := ""
	for rest := req.Path; rest != ""; {
		var seg string
		seg, rest = cutSegment(rest)
		if seg == "" {
			continue
		}
		a.scan.Value(a.scan.percentDecode(bytesOf(seg)), prev, a.collect)
		prev = seg
	}
	if req.Query != "" {
		a.loc = locQuery
		a.scan.Form(bytesOf(req.Query), a.collect)
	}
	for i := range req.Headers {
		a.header(&req.Headers[i], false)
	}
	a.loc = locBody
	if len(req.Body.Bytes()) > 0 {
		a.body(req.Body.Bytes(), http1.Get(req.Headers, http1.IDContentType))
	}
}

func (a *Analyzer) scanResponse(resp *http1.Response, body bool) {
	for i := range resp.Headers {
		a.header(&resp.Headers[i], true)
	}
	if body {
		a.loc = locRespBody
		a.body(resp.Body.Bytes(), http1.Get(resp.Headers, http1.IDContentType))
	}
}

// sampled says whether the transaction is in the one-in-every sample of
// responses: a hash of its connection id and number, so that a capture
// always gives the same sample.
func sampled(tx *reassembly.Transaction, every int) bool {
	if every <= 1 {
		return true
	}
	h := (fnv1a(fnvOffset, tx.Flow.ID) ^ uint64(tx.Seq)) * fnvPrime
	h ^= h >> 29
	return h%uint64(every) == 0
}

// FNV-1a, 64 bits: deterministic hashes for the sampling decisions.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}

// Header kinds, by name.
const (
	hkOther = iota
	hkAuthorization
	hkAPIKey
	hkCookie
	hkSetCookie
	hkSkip
)

// byID is the kind of each well-known header name (http1.HeaderID).
var byID = func() (t [http1.NumHeaderIDs]int) {
	for id := range t {
		if id > int(http1.IDOther) {
			t[id] = classifyHeader(http1.KnownName(http1.HeaderID(id)))
		}
	}
	return
}()

// kindOf classifies a header: well-known names by their parse-time ID,
// others through a bounded per-worker cache keyed by the name as sent
// (names repeat, and a lookup costs less than folding).
func (a *Analyzer) kindOf(h *http1.Header) int {
	if id := h.Known(); id != http1.IDOther {
		return byID[id]
	}
	name := h.Name
	if k, ok := a.hkinds[name]; ok {
		return k
	}
	k := classifyHeader(name)
	if len(a.hkinds) < 1024 {
		a.hkinds[strings.Clone(name)] = k
	}
	return k
}

func classifyHeader(name string) int {
	switch {
	case strings.EqualFold(name, "authorization") || strings.EqualFold(name, "proxy-authorization"):
		return hkAuthorization
	case identity.IsAPIKeyHeader(&http1.Header{Name: name}): // identity.APIKeyHeaders, all well-known names
		return hkAPIKey
	case strings.EqualFold(name, "cookie"):
		return hkCookie
	case strings.EqualFold(name, "set-cookie"):
		return hkSetCookie
	case skipHeader(name):
		return hkSkip
	}
	return hkOther
}

// header scans one header; credentials are recognised by name.
func (a *Analyzer) header(h *http1.Header, resp bool) {
	name := h.Name
	a.loc = locHeader
	if resp {
		a.loc = locRespHeader
	}
	switch a.kindOf(h) {
	case hkAuthorization:
		scheme, cred, _ := strings.Cut(strings.TrimSpace(h.Value), " ")
		rule := "authorization_other"
		switch {
		case strings.EqualFold(scheme, "basic"):
			rule = "authorization_basic"
		case strings.EqualFold(scheme, "bearer"):
			rule = "authorization_bearer"
		case strings.EqualFold(scheme, "digest"):
			rule = "authorization_digest"
		}
		f := Finding{Type: TCredentials, Rule: rule, Value: bytesOf(cred), Field: "authorization"}
		a.onFinding(&f)
		if rule == "authorization_bearer" {
			a.scanToken(strings.TrimSpace(cred))
		}
	case hkAPIKey:
		f := Finding{Type: TCredentials, Rule: "api_key_header", Value: bytesOf(h.Value), Field: name}
		a.onFinding(&f)
	case hkCookie:
		a.loc = locCookie
		a.cookies(h.Value, ';', false)
	case hkSetCookie:
		a.cookies(h.Value, 0, true)
	case hkSkip:
	default:
		// header values repeat (User-Agent, Accept...): remember the clean
		// ones, by name too (a field-name hint can change the verdict)
		k := hdrKey{name, h.Value}
		if _, ok := a.clean[k]; ok {
			return
		}
		n := a.found
		a.scan.Value(bytesOf(h.Value), name, a.collect)
		if a.found == n && len(h.Value) <= 512 && len(name) <= 64 {
			if a.clean == nil || len(a.clean) >= 4096 {
				a.clean = make(map[hdrKey]struct{}, 256)
			}
			a.clean[hdrKey{strings.Clone(name), strings.Clone(h.Value)}] = struct{}{}
		}
	}
}

// hdrKey is a header field, for the cache of clean values.
type hdrKey struct{ name, value string }

// cookies scans cookie values under their names; session cookies count as
// credentials. sep 0: a Set-Cookie value (the first pair only).
func (a *Analyzer) cookies(v string, sep byte, set bool) {
	for v != "" {
		var kv string
		if sep == 0 {
			kv, _, _ = strings.Cut(v, ";")
			v = ""
		} else if i := strings.IndexByte(v, sep); i >= 0 {
			kv, v = v[:i], v[i+1:]
		} else {
			kv, v = v, ""
		}
		k, val, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if val == "" {
			continue
		}
		if credentialCookie(k) {
			rule := "session_cookie"
			if set {
				rule = "set_session_cookie"
			}
			f := Finding{Type: TCredentials, Rule: rule, Value: bytesOf(val), Field: k}
			a.onFinding(&f)
			continue
		}
		a.scan.Value(bytesOf(val), k, a.collect)
	}
}

// body scans a message body by its content type.
func (a *Analyzer) body(b []byte, ct string) {
	if len(b) == 0 {
		return
	}
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch {
	case strings.Contains(mt, "json") || (mt == "" || strings.HasPrefix(mt, "application/grpc")) && (b[0] == '{' || b[0] == '['):
		// (gRPC messages reach analyzers rendered as JSON: raw gRPC
		// bodies start with a 0 or 1 flag byte, see reassembly/grpc)
		a.scan.JSON(b, a.collect)
	case mt == "application/x-www-form-urlencoded":
		a.scan.Form(b, a.collect)
	case strings.HasPrefix(mt, "image/"), strings.HasPrefix(mt, "audio/"), strings.HasPrefix(mt, "video/"), strings.HasPrefix(mt, "font/"),
		mt == "application/octet-stream", mt == "application/zip", mt == "application/pdf", strings.Contains(mt, "protobuf"), mt == "application/grpc":
		// binary: nothing to read
	default:
		a.scan.Text(b, a.collect)
	}
}

func cutSegment(p string) (string, string) {
	p = strings.TrimLeft(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

func boundedWord(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		c := s[i]
		clean = c >= 0x21 && c <= 0x7e && c != '"' && c != '\\'
	}
	if clean {
		return s // the usual case: no copy
	}
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, s)
}

// skipHeaders carry protocol data, not user data (user agents hold
// version numbers that look like addresses; forwarding headers hold the
// client addresses apitap already reports).
var skipHeaders = map[string]bool{
	"host": true, "user-agent": true, "accept": true, "accept-encoding": true, "accept-language": true,
	"content-type": true, "content-length": true, "content-encoding": true, "transfer-encoding": true,
	"connection": true, "keep-alive": true, "date": true, "server": true, "etag": true, "if-none-match": true,
	"x-forwarded-for": true, "x-real-ip": true, "forwarded": true, "via": true, "cache-control": true,
	"last-modified": true, "if-modified-since": true, "vary": true, "expires": true, "age": true,
	"x-request-id": true, "traceparent": true, "tracestate": true, "x-amzn-trace-id": true, "x-b3-traceid": true,
	"x-b3-spanid": true, "content-security-policy": true, "strict-transport-security": true,
	// random request nonces and correlation ids (high entropy, not secrets)
	"postman-token": true, "x-correlation-id": true, "x-b3-parentspanid": true, "x-cloud-trace-context": true,
}

func skipHeader(name string) bool {
	if len(name) > 40 {
		return false
	}
	var buf [40]byte
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return skipHeaders[string(buf[:len(name)])]
}

// credentialCookie says whether a cookie carries credentials: a session
// cookie (identity.IsSessionCookie, the sensor's one rule) or a name
// holding "auth" (auth_token, .AspNetCore.Authentication).
func credentialCookie(name string) bool {
	if identity.IsSessionCookie(name) {
		return true
	}
	for i := 0; i+4 <= len(name); i++ {
		if strings.EqualFold(name[i:i+4], "auth") {
			return true
		}
	}
	return false
}

// sortedTypes are the types with findings in loc, in order.
func (a *Analyzer) typesIn(loc int) []Type {
	out := a.types[loc][:0]
	for m := a.seen[loc]; m != 0; m &= m - 1 {
		out = append(out, Type(bits.TrailingZeros64(m)))
	}
	return out
}

// reset forgets the previous transaction's findings (only the counts and
// examples it set: clearing all of them costs more than most scans) and
// what the transaction told.
func (a *Analyzer) reset() {
	a.weakJWT, a.authedNote = 0, false
	for l := range a.seen {
		for m := a.seen[l]; m != 0; m &= m - 1 {
			t := bits.TrailingZeros64(m)
			a.counts[l][t] = 0
			a.ex[l][t] = example{}
		}
		a.seen[l] = 0
	}
	a.arena = a.arena[:0]
}

// hotTypes are the types that put an endpoint's responses on the
// hot_sample_every sample (and each new client's first response scanned).
var hotTypes = func() (m uint64) {
	for t := Type(0); t < numTypes; t++ {
		if personal[t] || t == TSecret || t == TCustom {
			m |= 1 << t
		}
	}
	return
}()
