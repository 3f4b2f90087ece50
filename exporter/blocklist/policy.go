// Package blocklist turns detections into mitigation requests for the
// enforcement points apitap feeds (WAFs, gateways, load balancers): a
// policy maps detection class and severity to an action and a TTL; entries
// are keyed by actor (ip, cidr, user, api_key, session, fingerprint), are
// refreshed while the actor keeps misbehaving, expire with a revoke (on
// Kafka: a tombstone on the compacted apitap.blocklist topic), never target
// allowlisted actors, and are rate limited so a flood of attackers cannot
// flood the WAF.
//
// Pipeline position: the sensor hands every detection (from workers and
// shared analyzer state) to one Manager, under its mutex; Tick is called
// with capture time. The consumer side, `apitap blocklist`, lives in
// sensor/cli and materialises the topic into files and an HTTP feed.
package blocklist

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apitap/apitap/analyzer/event"
)

// Config is the `blocklist:` section of the sensor configuration.
type Config struct {
	// Enabled turns the policy on (default true; it acts only on
	// detections whose rule asks for more than log).
	Enabled *bool `yaml:"enabled"`
	// Rules map detections to actions, first match wins. Without rules,
	// DefaultRules apply.
	Rules []Rule `yaml:"rules"`
	// ActorTypes is the order in which an actor's identities are keyed
	// (the first one the detection has): ip, user, api_key, session,
	// fingerprint. CIDR entries come from rules with cidr_prefix.
	ActorTypes []string `yaml:"actor_types"`
	// Allow lists CIDRs or addresses (health checkers, internal
	// scanners, trusted networks) and user, API key or session values
	// ("user:alice") that are never blocked.
	Allow []string `yaml:"allow"`
	// MaxNewPerSecond bounds new entries per second of capture time
	// (refreshes are free); the excess is counted and dropped.
	MaxNewPerSecond int `yaml:"max_new_per_second"`
	// MaxEntries bounds the active entries.
	MaxEntries int `yaml:"max_entries"`
}

// Rule maps detections to an action.
type Rule struct {
	Classes     []string      `yaml:"classes"`      // empty: any class
	MinSeverity string        `yaml:"min_severity"` // default low
	Action      string        `yaml:"action"`       // log, rate_limit, block, deceive
	TTL         time.Duration `yaml:"ttl"`
	// CIDRPrefix > 0 blocks the actor's network (/24) instead of its address.
	CIDRPrefix int `yaml:"cidr_prefix"`
	// MinCount is the detection count needed (aggregated detections).
	MinCount int `yaml:"min_count"`
}

// DefaultRules block exploits and abuse that succeeded or are severe, and
// rate-limit the rest of the injection and abuse classes.
var DefaultRules = []Rule{
	{Classes: []string{"cve", "log4shell", "cmd_injection", "request_smuggling"}, MinSeverity: "high", Action: "block", TTL: time.Hour},
	{Classes: []string{"sqli", "xss", "path_traversal", "ssrf", "xxe", "ssti", "nosqli", "prototype_pollution"}, MinSeverity: "high", Action: "block", TTL: 30 * time.Minute},
	{Classes: []string{"credential_stuffing", "brute_force", "account_takeover", "bola", "exfiltration"}, MinSeverity: "high", Action: "block", TTL: time.Hour},
	{Classes: []string{"scanner", "bot", "scraping", "rate_abuse", "dos", "user_enumeration", "low_and_slow"}, MinSeverity: "medium", Action: "rate_limit", TTL: 15 * time.Minute},
}

// WithDefaults fills unset fields.
func (c Config) WithDefaults() Config {
	if c.Enabled == nil {
		t := true
		c.Enabled = &t
	}
	if len(c.Rules) == 0 {
		c.Rules = DefaultRules
	}
	if len(c.ActorTypes) == 0 {
		c.ActorTypes = []string{"ip"}
	}
	if c.MaxNewPerSecond == 0 {
		c.MaxNewPerSecond = 100
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = 100000
	}
	for i := range c.Rules {
		if c.Rules[i].MinSeverity == "" {
			c.Rules[i].MinSeverity = "low"
		}
		if c.Rules[i].TTL == 0 {
			c.Rules[i].TTL = 15 * time.Minute
		}
	}
	return c
}

// Validate checks the section (after WithDefaults).
func (c Config) Validate() error {
	var errs []error
	for i, r := range c.Rules {
		switch r.Action {
		case "log", "rate_limit", "block", "deceive":
		default:
			errs = append(errs, fmt.Errorf("blocklist.rules[%d].action: %q, want log, rate_limit, block or deceive", i, r.Action))
		}
		if rank(r.MinSeverity) < 0 {
			errs = append(errs, fmt.Errorf("blocklist.rules[%d].min_severity: %q, want one of %s", i, r.MinSeverity, strings.Join(event.Severities, ", ")))
		}
		if r.TTL < time.Second {
			errs = append(errs, fmt.Errorf("blocklist.rules[%d].ttl: at least 1s", i))
		}
		if r.CIDRPrefix < 0 || r.CIDRPrefix > 128 {
			errs = append(errs, fmt.Errorf("blocklist.rules[%d].cidr_prefix: 0 to 128", i))
		}
	}
	for _, t := range c.ActorTypes {
		switch t {
		case "ip", "user", "api_key", "session", "fingerprint":
		default:
			errs = append(errs, fmt.Errorf("blocklist.actor_types: %q, want ip, user, api_key, session or fingerprint", t))
		}
	}
	for _, a := range c.Allow {
		if _, _, ok := strings.Cut(a, ":"); ok && !strings.Contains(a, "::") && strings.IndexByte(a, '.') < 0 {
			continue // user:alice and the like
		}
		if _, err := parsePrefix(a); err != nil {
			errs = append(errs, fmt.Errorf("blocklist.allow: %q is not a CIDR, address or type:value", a))
		}
	}
	if c.MaxNewPerSecond < 1 || c.MaxEntries < 1 {
		errs = append(errs, errors.New("blocklist.max_new_per_second and max_entries must be positive"))
	}
	return errors.Join(errs...)
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.IndexByte(s, '/') < 0 {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.ParsePrefix(s)
}

func rank(sev string) int {
	for i, s := range event.Severities {
		if s == sev {
			return i
		}
	}
	return -1
}

// Entry is one active blocklist entry.
type Entry struct {
	Type, Value string // ip, cidr, user, api_key, session, fingerprint
	Action      string
	Reason      string // the detection class (and rule)
	Detections  []string
	Since       time.Time
	Expires     time.Time
	TTL         time.Duration
	emitted     time.Time // capture time of the last event
}

// Key is the entry's Kafka key: "<type>:<value>".
func (e *Entry) Key() string { return e.Type + ":" + e.Value }

// Out receives blocklist events: line is the event (without newline), or
// nil for a Kafka tombstone that revokes the key.
type Out func(key string, line []byte, tombstone bool)

// Manager applies the policy; safe for concurrent use.
type Manager struct {
	cfg    Config
	sensor string
	allow  []netip.Prefix
	allowV map[string]bool
	out    Out

	mu      sync.Mutex
	entries map[string]*Entry
	second  int64 // capture second of the rate window
	newIn   int
	// Counters.
	Limited, Allowed, Full uint64
}

// New returns a manager emitting through out.
func New(cfg Config, sensor string, out Out) *Manager {
	cfg = cfg.WithDefaults()
	m := &Manager{cfg: cfg, sensor: sensor, out: out, entries: map[string]*Entry{}, allowV: map[string]bool{}}
	for _, a := range cfg.Allow {
		if p, err := parsePrefix(a); err == nil {
			m.allow = append(m.allow, p)
		} else {
			m.allowV[a] = true
		}
	}
	return m
}

// Enabled says whether the policy acts.
func (m *Manager) Enabled() bool { return *m.cfg.Enabled }

// Detection applies the policy to one detection.
func (m *Manager) Detection(d *event.Detection) {
	if !m.Enabled() {
		return
	}
	r := m.match(d)
	if r == nil || r.Action == "log" {
		return
	}
	typ, val := m.actor(d, r)
	if val == "" {
		return
	}
	now := d.LastSeen
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.allowed(typ, val) {
		m.Allowed++
		return
	}
	key := typ + ":" + val
	e := m.entries[key]
	fresh := e == nil
	if e == nil {
		if sec := now.Unix(); sec != m.second {
			m.second, m.newIn = sec, 0
		}
		if m.newIn >= m.cfg.MaxNewPerSecond {
			m.Limited++
			return
		}
		if len(m.entries) >= m.cfg.MaxEntries {
			m.Full++
			return
		}
		m.newIn++
		e = &Entry{Type: typ, Value: val, Since: now}
		m.entries[key] = e
	} else if rank(actionRank(r.Action)) < rank(actionRank(e.Action)) {
		// a weaker action does not downgrade an entry; it refreshes it
		r = &Rule{Action: e.Action, TTL: max(r.TTL, e.TTL)}
	}
	changed := fresh || e.Action != r.Action
	e.Action, e.TTL, e.Expires = r.Action, r.TTL, now.Add(r.TTL)
	e.Reason = d.Class
	if len(d.Evidence) > 0 && d.Evidence[0].Rule != "" {
		e.Reason += ":" + d.Evidence[0].Rule
	}
	if len(e.Detections) < 16 && (len(e.Detections) == 0 || e.Detections[len(e.Detections)-1] != d.ID) {
		e.Detections = append(e.Detections, d.ID)
	}
	// refreshes are announced when the expiry moved by a tenth of the TTL:
	// an attacker's every request must not become an event
	if changed || now.Sub(e.emitted) >= e.TTL/10 {
		e.emitted = now
		m.out(key, m.encode(e, now, false), false)
	}
}

// actionRank maps actions to severities so they compare.
func actionRank(a string) string {
	switch a {
	case "block":
		return "critical"
	case "deceive":
		return "high"
	case "rate_limit":
		return "medium"
	}
	return "info"
}

func (m *Manager) match(d *event.Detection) *Rule {
	for i := range m.cfg.Rules {
		r := &m.cfg.Rules[i]
		if rank(d.Severity) < rank(r.MinSeverity) || d.Count < r.MinCount {
			continue
		}
		if len(r.Classes) == 0 {
			return r
		}
		for _, c := range r.Classes {
			if c == d.Class {
				return r
			}
		}
	}
	// a rule pack may ask for an action itself (class cve, action block)
	if d.Action != "" && d.Action != "log" {
		return &Rule{Action: d.Action, TTL: time.Hour}
	}
	return nil
}

// actor picks the identity to key the entry by.
func (m *Manager) actor(d *event.Detection, r *Rule) (string, string) {
	for _, t := range m.cfg.ActorTypes {
		var v string
		switch t {
		case "ip":
			v = d.Actor.IP
			if v != "" && r.CIDRPrefix > 0 {
				if a, err := netip.ParseAddr(v); err == nil {
					if p, err := a.Prefix(min(r.CIDRPrefix, a.BitLen())); err == nil {
						return "cidr", p.String()
					}
				}
			}
		case "user":
			v = d.Actor.User
		case "api_key":
			v = d.Actor.APIKey
		case "session":
			v = d.Actor.Session
		case "fingerprint":
			v = d.Actor.Fingerprint
		}
		if v != "" {
			return t, v
		}
	}
	return "", ""
}

func (m *Manager) allowed(typ, val string) bool {
	if m.allowV[typ+":"+val] {
		return true
	}
	if typ != "ip" && typ != "cidr" {
		return false
	}
	var addr netip.Addr
	if typ == "ip" {
		a, err := netip.ParseAddr(val)
		if err != nil {
			return false
		}
		addr = a
	} else {
		p, err := netip.ParsePrefix(val)
		if err != nil {
			return false
		}
		addr = p.Addr()
	}
	for _, p := range m.allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Tick expires entries whose TTL passed by capture time now: each gets a
// revoked event and a tombstone.
func (m *Manager) Tick(now time.Time) {
	if now.IsZero() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var due []string
	for k, e := range m.entries {
		if !now.Before(e.Expires) {
			due = append(due, k)
		}
	}
	sort.Strings(due)
	for _, k := range due {
		e := m.entries[k]
		delete(m.entries, k)
		m.out(k, m.encode(e, now, true), false)
		m.out(k, nil, true)
	}
}

// Dropped returns the entries not made: over the rate limit, or full.
func (m *Manager) Dropped() (limited, full uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Limited, m.Full
}

// Active lists the active entries, by key.
func (m *Manager) Active() []Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Entry, 0, len(m.entries))
	for _, e := range m.entries {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// encode writes a blocklist event (docs/schema/blocklist.schema.json).
func (m *Manager) encode(e *Entry, now time.Time, revoked bool) []byte {
	var b []byte
	b = append(b, `{"schema":"`+event.SchemaVersion+`","type":"blocklist","time":"`...)
	b = now.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","sensor":`...)
	b = event.AppendString(b, m.sensor)
	b = append(b, `,"key":`...)
	b = event.AppendString(b, e.Key())
	b = append(b, `,"actor":{"type":`...)
	b = event.AppendString(b, e.Type)
	b = append(b, `,"value":`...)
	b = event.AppendString(b, e.Value)
	b = append(b, `},"action":`...)
	b = event.AppendString(b, e.Action)
	b = append(b, `,"reason":`...)
	b = event.AppendString(b, e.Reason)
	b = append(b, `,"detection_ids":[`...)
	for i, id := range e.Detections {
		if i > 0 {
			b = append(b, ',')
		}
		b = event.AppendString(b, id)
	}
	b = append(b, `],"since":"`...)
	b = e.Since.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","ttl_seconds":`...)
	ttl := int64(e.TTL / time.Second)
	if revoked {
		ttl = 0
	}
	b = strconv.AppendInt(b, ttl, 10)
	b = append(b, `,"expires_at":"`...)
	b = e.Expires.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","revoked":`...)
	b = strconv.AppendBool(b, revoked)
	return append(b, '}')
}
