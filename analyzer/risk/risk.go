// Package risk is the risk analyzer: a 0-100 score per catalog endpoint,
// explained as weighted factors: authentication strength, sensitive data
// exposed (most when the endpoint answers without authentication),
// plaintext credentials, conformance (shadow, zombie, violations),
// security misconfiguration seen in responses (CORS allowing any origin
// with credentials, missing security headers on browser-facing endpoints,
// version banners, stack traces), attack activity and whether attacks
// seemed to succeed.
//
// Pipeline position: its per-transaction part runs before discovery and
// marks response misconfigurations in tx.Notes (discovery counts them per
// endpoint, with the other analyzers' notes); its shared part decorates
// every catalog entry with the score when the catalog is written, so the
// score always reflects the whole catalog. Deterministic for a capture.
package risk

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/vocab"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// Name is the analyzer's name and configuration key.
const Name = "risk"

// MisconfigNames name the bits of reassembly.Notes.Misconfig (package vocab).
var MisconfigNames = vocab.Misconfigs

const (
	mCORSCreds = 1 << iota
	mCORSAny
	mMissingHeaders
	mBanner
	mStackTrace
)

func init() {
	analyzer.Register(analyzer.Descriptor{
		Name:      Name,
		Provides:  []string{"Notes.Misconfig"},
		Default:   true,
		NewConfig: func() any { return NewConfig() },
		NewShared: func(cfg any, env analyzer.Env) (any, error) {
			return &state{cfg: cfg.(*Config), lookup: env.Lookup}, nil
		},
		New: func(cfg any, env analyzer.Env) (analyzer.Analyzer, error) {
			st, ok := env.Shared.(*state)
			if !ok {
				return nil, errors.New("risk: no shared state")
			}
			st.attach()
			return &worker{}, nil
		},
	})
}

// Config is the `analyzers.risk` section: factor weights (points out of 100).
type Config struct {
	Weights map[string]int `yaml:"weights"`
}

// DefaultWeights are the points each factor adds, at full strength.
var DefaultWeights = map[string]int{
	"auth_none":                        30, // no authentication seen
	"auth_basic":                       20, // Basic credentials
	"auth_api_key_query":               18, // API key in the URL
	"auth_api_key":                     10, // API key header
	"auth_session":                     8,  // session cookie
	"auth_bearer":                      4,  // bearer token / JWT
	"sensitive_response":               15, // personal data in responses
	"sensitive_response_critical":      25, // cards, SSNs, IBANs, secrets in responses
	"unauthenticated_sensitive":        15, // ... to callers without credentials
	"sensitive_in_request_url":         10, // personal data or secrets in URLs
	"plaintext_credentials":            10, // credentials seen in clear text
	"shadow":                           15, // not in any published spec
	"zombie":                           15, // deprecated or from an older spec version
	"conformance_violations":           5,  // undocumented parameters, statuses, schema violations
	"cors_any_origin_with_credentials": 15,
	"cors_any_origin":                  3,
	"missing_security_headers":         4,
	"version_banner":                   3,
	"stack_trace":                      10,
	"attacked":                         10, // attacks against the endpoint
	"attack_succeeded":                 25, // ... that seemed to work
	"abused":                           15, // calls by actors the behaviour analyzer detected
}

// NewConfig returns the defaults.
func NewConfig() *Config { return &Config{Weights: map[string]int{}} }

// Validate checks the weights.
func (c *Config) Validate() error {
	for k, v := range c.Weights {
		if _, ok := DefaultWeights[k]; !ok {
			keys := slices.Sorted(maps.Keys(DefaultWeights))
			return fmt.Errorf("weights: unknown factor %q (known: %s)", k, strings.Join(keys, ", "))
		}
		if v < 0 || v > 100 {
			return fmt.Errorf("weights.%s: 0 to 100, not %d", k, v)
		}
	}
	return nil
}

func (c *Config) weight(f string) int {
	if w, ok := c.Weights[f]; ok {
		return w
	}
	return DefaultWeights[f]
}

type state struct {
	cfg        *Config
	lookup     func(string) any
	lastReport time.Time
	bands      map[string]int // endpoint id -> highest band reported
}

// attach registers the scoring on the discovery catalog (once it exists).
func (s *state) attach() {
	if cat, ok := s.lookup(discovery.Name).(*discovery.Catalog); ok && cat != nil {
		cat.SetDecorator(func(j *discovery.EndpointJSON) { j.Risk = Score(j, s.cfg) })
	}
}

// worker marks response misconfigurations.
type worker struct{}

func (w *worker) Name() string { return Name }

// The response headers risk looks at.
const (
	rhNone = iota
	rhOrigin
	rhCreds
	rhContentType
	rhServer
	rhPowered
	rhHSTS
	rhNosniff
	rhCSP
)

// riskHeader classifies a lower-case response header name.
func riskHeader(name string) uint8 {
	switch name {
	case "access-control-allow-origin":
		return rhOrigin
	case "access-control-allow-credentials":
		return rhCreds
	case "content-type":
		return rhContentType
	case "server":
		return rhServer
	case "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version":
		return rhPowered
	case "strict-transport-security":
		return rhHSTS
	case "x-content-type-options":
		return rhNosniff
	case "content-security-policy":
		return rhCSP
	}
	return rhNone
}

// riskByID is riskHeader of each well-known name.
var riskByID = func() (t [http1.NumHeaderIDs]uint8) {
	for id := range t {
		t[id] = riskHeader(http1.KnownName(http1.HeaderID(id)))
	}
	return
}()

// Analyze looks at the response headers and the start of the body.
func (w *worker) Analyze(tx *reassembly.Transaction, _ analyzer.Emitter) {
	resp := tx.Response
	if resp == nil {
		return
	}
	var origin, creds, ctype, server, powered string
	hsts, nosniff, csp := false, false, false
	for i := range resp.Headers {
		h := &resp.Headers[i]
		// every name risk reads is well-known (and ASCII: no other
		// spelling lower-cases to one), so the ID decides
		switch riskByID[h.Known()] {
		case rhOrigin:
			origin = h.Value
		case rhCreds:
			creds = strings.ToLower(strings.TrimSpace(h.Value))
		case rhContentType:
			ctype = strings.ToLower(h.Value)
		case rhServer:
			server = h.Value
		case rhPowered:
			powered = h.Value
		case rhHSTS:
			hsts = true
		case rhNosniff:
			nosniff = true
		case rhCSP:
			csp = true
		}
	}
	var m uint8
	if strings.TrimSpace(origin) == "*" || origin != "" && tx.Request != nil && origin == http1.Get(tx.Request.Headers, http1.IDOrigin) && creds == "true" {
		if creds == "true" {
			m |= mCORSCreds
		} else {
			m |= mCORSAny
		}
	}
	if strings.Contains(ctype, "text/html") && !(nosniff && (csp || hsts)) {
		m |= mMissingHeaders // browser-facing without the basic security headers
	}
	if hasVersion(server) || powered != "" {
		m |= mBanner
	}
	if resp.Status >= 500 || strings.Contains(ctype, "html") || strings.Contains(ctype, "text/plain") {
		b := resp.Body.Bytes()
		if len(b) > 8192 {
			b = b[:8192]
		}
		lb := strings.ToLower(string(b))
		for _, s := range []string{"traceback (most recent call last)", "exception in thread", "\tat java.", "goroutine 1 [running]", "stack trace:", "at system.", ".php on line"} {
			if strings.Contains(lb, s) {
				m |= mStackTrace
				break
			}
		}
	}
	tx.Notes.Misconfig |= m
}

// hasVersion says whether a Server banner names a version (nginx/1.27).
func hasVersion(s string) bool {
	i := strings.IndexByte(s, '/')
	return i > 0 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9'
}
