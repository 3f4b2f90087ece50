package blocklist

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/apitap/apitap/analyzer/event"
)

// Config is the `blocklist:` section of the sensor configuration.
type Config struct {
	// Enabled turns the policy on (default true; it acts only on
	// detections whose rule asks for more than log).
	Enabled *bool `yaml:"enabled"`
	// DryRun makes every entry a would_<action> entry (would_block,
	// would_rate_limit, would_deceive): `apitap blocklist` writes them to
	// the same files under another name (FILE.dry-run), so operators can
	// watch what would be enforced before they enforce it.
	DryRun bool `yaml:"dry_run"`
	// Rules map detections to actions, first match wins. Without rules,
	// DefaultRules apply. A rule's action is the most the policy does:
	// confidence can lower it (Policy).
	Rules []Rule `yaml:"rules"`
	// ActorTypes is the order in which an actor's identities are keyed
	// (the first one the detection has): ip, user, api_key, session,
	// fingerprint. CIDR entries come from rules with cidr_prefix.
	ActorTypes []string `yaml:"actor_types"`
	// Allow lists CIDRs or addresses (health checkers, internal
	// scanners, trusted networks) and user, API key or session values
	// ("user:alice") that are never blocked: it extends the built-in
	// never-block set.
	Allow []string `yaml:"allow"`
	// NeverBlock configures the never-block set beyond Allow.
	NeverBlock NeverBlockConfig `yaml:"never_block"`
	// Policy sets how confidence turns into actions.
	Policy PolicyConfig `yaml:"policy"`
	// MaxNewPerSecond bounds new entries per second of capture time
	// (refreshes are free); the excess is counted and dropped.
	MaxNewPerSecond int `yaml:"max_new_per_second"`
	// MaxEntries bounds the active entries.
	MaxEntries int `yaml:"max_entries"`
}

// NeverBlockConfig is `blocklist.never_block`: what is never blocked
// besides the built-in set (loopback, unspecified, broadcast, multicast,
// link-local, documentation and reserved ranges), which is always on.
type NeverBlockConfig struct {
	// Private keeps private ranges (10/8, 172.16/12, 192.168/16, the
	// shared CGNAT range 100.64/10, fc00::/7) out of the blocklist; set
	// false to block clients on those networks. Default true.
	Private *bool `yaml:"private"`
	// Gateways are CIDRs or addresses of routers, NAT gateways and load
	// balancers: never blocked (reason gateway).
	Gateways []string `yaml:"gateways"`
	// LearnServers never blocks the monitored servers: addresses that
	// answered HTTP requests of ServerMinClients distinct clients (the
	// sensor learns them from traffic). Default true.
	LearnServers *bool `yaml:"learn_servers"`
	// ServerMinClients is how many distinct clients a server must have
	// answered before it is never blocked (one answered client is not
	// enough: an attacker's own web server answering one request would
	// make the attacker unblockable). Default 2.
	ServerMinClients int `yaml:"server_min_clients"`
	// MaxServers bounds the learned servers (and the candidates); beyond
	// it new ones are not learned, and counted. Default 4096.
	MaxServers int `yaml:"max_servers"`
}

// PolicyConfig is `blocklist.policy`: confidence, repeat offenders and
// shared addresses.
type PolicyConfig struct {
	// HighConfidence is the detection confidence of a high-confidence
	// signature: on a confirmed flow it alone allows the rule's action.
	// Default 0.9. A detection whose response shows the attack worked
	// (succeeded: likely) counts as high too.
	HighConfidence float64 `yaml:"high_confidence"`
	// MediumConfidence is the least confidence that counts as a signal:
	// below it a detection is only logged. Default 0.5.
	MediumConfidence float64 `yaml:"medium_confidence"`
	// MinSignals distinct signals (class and rule) of one actor within
	// SignalWindow make its confidence high. Default 2.
	MinSignals int `yaml:"min_signals"`
	// SignalWindow is how long an actor's signals are remembered
	// (capture time). Default 1h.
	SignalWindow time.Duration `yaml:"signal_window"`
	// TTLFactor multiplies the TTL of an actor's entry for each earlier
	// offence (an entry that expired less than MaxTTL ago). Default 2;
	// 1 turns growth off.
	TTLFactor float64 `yaml:"ttl_factor"`
	// MaxTTL is the ceiling of a grown TTL. Default 24h.
	MaxTTL time.Duration `yaml:"max_ttl"`
	// SharedIdentities distinct authenticated identities (users, API
	// keys) seen from one address within SignalWindow make it shared (a
	// NAT, a corporate proxy): its entries are keyed by the identity the
	// detection names, and an anonymous detection from it blocks
	// nothing. Default 5; a negative value turns it off.
	SharedIdentities int `yaml:"shared_identities"`
	// MaxTracked bounds the actors and addresses whose signals,
	// offences and identities are remembered. Default 100000.
	MaxTracked int `yaml:"max_tracked"`
}

// Rule maps detections to an action.
type Rule struct {
	Classes     []string      `yaml:"classes"`      // empty: any class
	MinSeverity string        `yaml:"min_severity"` // default low
	Action      string        `yaml:"action"`       // log, rate_limit, block, deceive
	TTL         time.Duration `yaml:"ttl"`
	// CIDRPrefix > 0 blocks the actor's IPv4 network (/24) instead of
	// its address; IPv6 addresses use CIDRPrefix6.
	CIDRPrefix int `yaml:"cidr_prefix"`
	// CIDRPrefix6 is the IPv6 network length when CIDRPrefix is set
	// (default 64).
	CIDRPrefix6 int `yaml:"cidr_prefix6"`
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

// Minimum prefix lengths of CIDR entries: anything wider would deny a
// provider, not an attacker (and a /0 denies everyone).
const (
	MinPrefix4 = 16
	MinPrefix6 = 32
)

// WithDefaults fills unset fields.
func (c Config) WithDefaults() Config {
	t := true
	if c.Enabled == nil {
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
	rules := make([]Rule, len(c.Rules))
	copy(rules, c.Rules)
	for i := range rules {
		if rules[i].MinSeverity == "" {
			rules[i].MinSeverity = "low"
		}
		if rules[i].TTL == 0 {
			rules[i].TTL = 15 * time.Minute
		}
		if rules[i].CIDRPrefix > 0 && rules[i].CIDRPrefix6 == 0 {
			rules[i].CIDRPrefix6 = 64
		}
	}
	c.Rules = rules
	nb := &c.NeverBlock
	if nb.Private == nil {
		nb.Private = &t
	}
	if nb.LearnServers == nil {
		nb.LearnServers = &t
	}
	if nb.ServerMinClients == 0 {
		nb.ServerMinClients = 2
	}
	if nb.MaxServers == 0 {
		nb.MaxServers = 4096
	}
	p := &c.Policy
	if p.HighConfidence == 0 {
		p.HighConfidence = 0.9
	}
	if p.MediumConfidence == 0 {
		p.MediumConfidence = 0.5
	}
	if p.MinSignals == 0 {
		p.MinSignals = 2
	}
	if p.SignalWindow == 0 {
		p.SignalWindow = time.Hour
	}
	if p.TTLFactor == 0 {
		p.TTLFactor = 2
	}
	if p.MaxTTL == 0 {
		p.MaxTTL = 24 * time.Hour
	}
	if p.SharedIdentities == 0 {
		p.SharedIdentities = 5
	}
	if p.MaxTracked == 0 {
		p.MaxTracked = 100000
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
		if r.CIDRPrefix != 0 && (r.CIDRPrefix < MinPrefix4 || r.CIDRPrefix > 32) {
			errs = append(errs, fmt.Errorf("blocklist.rules[%d].cidr_prefix: %d to 32", i, MinPrefix4))
		}
		if r.CIDRPrefix6 != 0 && (r.CIDRPrefix6 < MinPrefix6 || r.CIDRPrefix6 > 128) {
			errs = append(errs, fmt.Errorf("blocklist.rules[%d].cidr_prefix6: %d to 128", i, MinPrefix6))
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
		if isTypeValue(a) {
			continue // user:alice and the like
		}
		if _, err := parsePrefix(a); err != nil {
			errs = append(errs, fmt.Errorf("blocklist.allow: %q is not a CIDR, address or type:value", a))
		}
	}
	for _, a := range c.NeverBlock.Gateways {
		if _, err := parsePrefix(a); err != nil {
			errs = append(errs, fmt.Errorf("blocklist.never_block.gateways: %q is not a CIDR or address", a))
		}
	}
	if c.NeverBlock.ServerMinClients < 1 || c.NeverBlock.MaxServers < 1 {
		errs = append(errs, errors.New("blocklist.never_block.server_min_clients and max_servers must be positive"))
	}
	p := c.Policy
	if p.MediumConfidence < 0 || p.HighConfidence > 1 || p.MediumConfidence > p.HighConfidence {
		errs = append(errs, errors.New("blocklist.policy: want 0 <= medium_confidence <= high_confidence <= 1"))
	}
	if p.MinSignals < 1 {
		errs = append(errs, errors.New("blocklist.policy.min_signals must be positive"))
	}
	if p.SignalWindow < time.Second {
		errs = append(errs, errors.New("blocklist.policy.signal_window: at least 1s"))
	}
	if p.TTLFactor < 1 {
		errs = append(errs, errors.New("blocklist.policy.ttl_factor: at least 1"))
	}
	if p.MaxTTL < time.Second {
		errs = append(errs, errors.New("blocklist.policy.max_ttl: at least 1s"))
	}
	if p.SharedIdentities > 64 || p.MaxTracked < 1 {
		errs = append(errs, errors.New("blocklist.policy.shared_identities: at most 64; max_tracked must be positive"))
	}
	if c.MaxNewPerSecond < 1 || c.MaxEntries < 1 {
		errs = append(errs, errors.New("blocklist.max_new_per_second and max_entries must be positive"))
	}
	return errors.Join(errs...)
}

// isTypeValue says whether an allow entry is "type:value" for a non-address
// actor type.
func isTypeValue(s string) bool {
	t, _, ok := strings.Cut(s, ":")
	if !ok {
		return false
	}
	switch t {
	case "user", "api_key", "session", "fingerprint":
		return true
	}
	return false
}

// parsePrefix parses a CIDR or an address (as a one-address prefix),
// normalised: zone dropped, IPv4-mapped IPv6 unmapped, host bits cleared.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.IndexByte(s, '/') < 0 {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.WithZone("").Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

func rank(sev string) int {
	for i, s := range event.Severities {
		if s == sev {
			return i
		}
	}
	return -1
}
