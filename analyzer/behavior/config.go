package behavior

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	ident "github.com/apitap/apitap/analyzer/identity"
)

// Config is the `analyzers.behavior` section.
type Config struct {
	// TrustedProxies are CIDRs of load balancers and proxies whose
	// X-Forwarded-For, Forwarded and X-Real-IP headers are believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// SessionCookies name the cookies that carry a session; unset (the
	// default): the sensor's rule (identity.SessionCookie), the one the
	// catalog uses; an empty list: no session cookies.
	SessionCookies []string `yaml:"session_cookies"`
	// APIKeyHeaders name the request headers that carry an API key.
	APIKeyHeaders []string `yaml:"api_key_headers"`
	// UserFields are the login body fields (JSON or form) naming the user.
	UserFields []string `yaml:"user_fields"`
	// LoginPaths are path templates of login endpoints, besides the
	// inferred ones (POST to .../login, /signin, /auth, /token, /session
	// with a password field).
	LoginPaths []string `yaml:"login_paths"`
	// HashKeyFile holds a key (16 bytes or more) for the hashes that name
	// sessions and API keys in events (HMAC-SHA256); without one they are
	// plain SHA-256, which a short or guessable token does not resist.
	HashKeyFile string `yaml:"hash_key_file"`
	// Allowlist are CIDRs, users and User-Agent substrings never flagged
	// (a legitimate crawler, health checkers, internal scanners).
	Allowlist []string `yaml:"allowlist"`
	// Crawlers are the search engines' crawlers: User-Agent tokens and
	// the address ranges their operators publish. A client naming one
	// from inside its ranges is verified (the volume detectors leave it
	// alone); from outside, the false claim is a bot detection. Unset: the
	// defaults (Google, Bing, Apple); an empty list turns verification off.
	Crawlers []Crawler `yaml:"crawlers"`
	// SharedPrincipals: an address used by this many principals (users, API
	// keys, sessions) is shared (a NAT gateway, a proxy): it is never
	// treated as one actor, nor named in another actor's detection.
	SharedPrincipals int `yaml:"shared_principals"`
	// MaxActors bounds the actor table (least recently seen go first).
	MaxActors int `yaml:"max_actors"`
	// Window is the span over which counts are compared with thresholds.
	Window time.Duration `yaml:"window"`
	// ScoreHalfLife is how fast an actor's threat score decays.
	ScoreHalfLife time.Duration `yaml:"score_half_life"`
	// Thresholds of the detectors, per actor and window.
	StuffingUsers     int     `yaml:"stuffing_users"`      // distinct usernames tried
	StuffingFailRatio float64 `yaml:"stuffing_fail_ratio"` // share of failed logins
	BruteForce        int     `yaml:"brute_force"`         // failed logins for one username
	TakeoverFailures  int     `yaml:"takeover_failures"`   // failures before a success
	BOLAObjects       int     `yaml:"bola_objects"`        // objects of other owners read, at least
	BOLAFactor        float64 `yaml:"bola_factor"`         // times the owners its peers read
	IDWalk            int     `yaml:"id_walk"`             // distinct ids of one endpoint, densely
	RatePerMinute     int     `yaml:"rate_per_minute"`     // requests per minute, at least
	RateFactor        float64 `yaml:"rate_factor"`         // times the actors' usual rate
	BotRequests       int     `yaml:"bot_requests"`        // requests with automation signals
	ExfilResponses    int     `yaml:"exfil_responses"`     // responses with sensitive data, at least
	ExfilFactor       float64 `yaml:"exfil_factor"`        // times what its peers (or itself) usually take
	ScrapeObjects     int     `yaml:"scrape_objects"`      // distinct catalog objects read in scrape_window, at least
	ScrapeFactor      float64 `yaml:"scrape_factor"`       // times what its readers usually read
	CampaignFactor    float64 `yaml:"campaign_factor"`     // failed usernames at a login endpoint, times the usual
	DosPerMinute      int     `yaml:"dos_per_minute"`      // requests per minute to one endpoint, at least
	DosFactor         float64 `yaml:"dos_factor"`          // times the endpoint's usual rate
	// ScrapeWindow is the window of scraping (objects read by one actor or
	// a campaign).
	ScrapeWindow time.Duration `yaml:"scrape_window"`
	// SlowWindow is the long window of low_and_slow; SlowProbes the probes
	// (requests the attack analyzer flagged) one fingerprint or principal
	// makes in it from several addresses.
	SlowWindow time.Duration `yaml:"slow_window"`
	SlowProbes int           `yaml:"slow_probes"`
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		APIKeyHeaders:     slices.Clone(ident.APIKeyHeaders),
		UserFields:        []string{"username", "user", "email", "login", "user_name", "userName", "account"},
		MaxActors:         200000,
		SharedPrincipals:  3,
		Window:            10 * time.Minute,
		ScoreHalfLife:     time.Hour,
		StuffingUsers:     10,
		StuffingFailRatio: 0.8,
		BruteForce:        10,
		TakeoverFailures:  5,
		BOLAObjects:       5,
		BOLAFactor:        3,
		IDWalk:            20,
		RatePerMinute:     300,
		RateFactor:        10,
		BotRequests:       50,
		ExfilResponses:    100,
		ExfilFactor:       8,
		ScrapeObjects:     100,
		ScrapeFactor:      5,
		ScrapeWindow:      time.Hour,
		CampaignFactor:    5,
		DosPerMinute:      1000,
		DosFactor:         10,
		SlowWindow:        6 * time.Hour,
		SlowProbes:        6,
	}
}

// Validate checks the section.
func (c *Config) Validate() error {
	var errs []error
	for _, p := range c.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			errs = append(errs, fmt.Errorf("trusted_proxies: %w", err))
		}
	}
	for _, p := range c.LoginPaths {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("login_paths: %q must start with /", p))
		}
	}
	if c.HashKeyFile != "" {
		if _, err := readKey(c.HashKeyFile); err != nil {
			errs = append(errs, err)
		}
	}
	for _, e := range c.Allowlist {
		if err := validAllowEntry(e); err != nil {
			errs = append(errs, err)
		}
	}
	if c.MaxActors < 100 {
		errs = append(errs, errors.New("max_actors must be at least 100"))
	}
	if c.Window < time.Second || c.ScoreHalfLife < time.Second || c.SlowWindow < time.Second || c.ScrapeWindow < time.Second {
		errs = append(errs, errors.New("window, scrape_window, slow_window and score_half_life must be at least 1s"))
	}
	if c.SharedPrincipals < 2 {
		errs = append(errs, fmt.Errorf("shared_principals must be at least 2, got %d", c.SharedPrincipals))
	}
	for i, cr := range c.Crawlers {
		if cr.Name == "" || len(cr.Agents) == 0 || len(cr.Ranges) == 0 {
			errs = append(errs, fmt.Errorf("crawlers[%d]: name, agents and ranges are required", i))
		}
		for _, r := range cr.Ranges {
			if _, err := parsePrefix(r); err != nil {
				errs = append(errs, fmt.Errorf("crawlers[%d] (%s): range %q: %w", i, cr.Name, r, err))
			}
		}
		for _, a := range cr.Agents {
			if strings.TrimSpace(a) == "" {
				errs = append(errs, fmt.Errorf("crawlers[%d] (%s): an empty agent matches every client", i, cr.Name))
			}
		}
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"stuffing_users", c.StuffingUsers}, {"brute_force", c.BruteForce}, {"takeover_failures", c.TakeoverFailures}, {"bola_objects", c.BOLAObjects},
		{"id_walk", c.IDWalk}, {"rate_per_minute", c.RatePerMinute}, {"bot_requests", c.BotRequests}, {"exfil_responses", c.ExfilResponses},
		{"scrape_objects", c.ScrapeObjects}, {"dos_per_minute", c.DosPerMinute}, {"slow_probes", c.SlowProbes}} {
		if v.n < 2 {
			errs = append(errs, fmt.Errorf("%s must be at least 2, got %d", v.name, v.n))
		}
	}
	if c.StuffingFailRatio <= 0 || c.StuffingFailRatio > 1 {
		errs = append(errs, fmt.Errorf("stuffing_fail_ratio must be in (0,1], got %v", c.StuffingFailRatio))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"rate_factor", c.RateFactor}, {"dos_factor", c.DosFactor}, {"bola_factor", c.BOLAFactor}, {"exfil_factor", c.ExfilFactor}, {"scrape_factor", c.ScrapeFactor},
		{"campaign_factor", c.CampaignFactor}} {
		if f.v < 1 {
			errs = append(errs, fmt.Errorf("%s must be at least 1, got %v", f.name, f.v))
		}
	}
	return errors.Join(errs...)
}

// parsePrefix reads a CIDR or a bare address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// readKey reads hash_key_file: its bytes, trailing newline removed.
func readKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("hash_key_file: %w", err)
	}
	b = []byte(strings.TrimRight(string(b), "\r\n"))
	if len(b) < 16 {
		return nil, fmt.Errorf("hash_key_file %s: the key must have at least 16 bytes", path)
	}
	return b, nil
}

// TrustedProxyList is trusted_proxies: the sensor adds it to
// sensor.trusted_proxies, where the setting now lives (one client address
// for every analyzer).
func (c *Config) TrustedProxyList() []string { return c.TrustedProxies }
