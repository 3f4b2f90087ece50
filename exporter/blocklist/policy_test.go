package blocklist

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/internal/testutil/eventtest"
)

type sink struct {
	t           *testing.T
	lines, tomb []string
}

func (s *sink) out(key string, line []byte, tomb bool) {
	if tomb {
		s.tomb = append(s.tomb, key)
		return
	}
	if s.t != nil {
		eventtest.Validate(s.t, line)
	}
	s.lines = append(s.lines, string(line))
}

var t0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

// det is a confirmed, high-confidence detection (the signature alone may
// block).
func det(class, sev, ip string, at time.Time) *event.Detection {
	return &event.Detection{ID: "d-" + ip + class, Class: class, Severity: sev, Confidence: 0.95, Confirmed: true,
		Actor: event.Actor{IP: ip, User: "u-" + ip}, LastSeen: at, Count: 1, Evidence: []event.Evidence{{Rule: "r"}}}
}

func withheld(m *Manager, reason string) uint64 {
	for _, c := range m.Withheld() {
		if c.Name == reason {
			return c.N
		}
	}
	panic("no reason " + reason)
}

func TestPolicy(t *testing.T) {
	s := sink{t: t}
	cfg := Config{Allow: []string{"45.9.0.0/16", "user:monitor"}, MaxNewPerSecond: 3,
		Rules: []Rule{{Classes: []string{"sqli"}, MinSeverity: "high", Action: "block", TTL: time.Minute},
			{Classes: []string{"scanner"}, Action: "rate_limit", TTL: time.Minute, CIDRPrefix: 24}}}
	if err := cfg.WithDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
	m := New(cfg, "t", s.out)
	m.Detection(det("sqli", "medium", "45.0.2.1", t0)) // below the rule's severity
	m.Detection(det("sqli", "high", "45.9.1.1", t0))   // allowlisted network
	m.Detection(det("xss", "high", "45.0.2.2", t0))    // no rule
	if len(s.lines) != 0 || withheld(m, ReasonAllow) != 1 {
		t.Fatalf("unexpected entries %v (allowed %d)", s.lines, withheld(m, ReasonAllow))
	}
	m.Detection(det("sqli", "high", "45.0.2.1", t0))
	m.Detection(det("sqli", "high", "45.0.2.1", t0.Add(time.Second)))    // refresh within a tenth of the TTL: silent
	m.Detection(det("sqli", "high", "45.0.2.1", t0.Add(10*time.Second))) // announced refresh
	m.Detection(det("scanner", "medium", "45.51.100.77", t0))
	if len(s.lines) != 3 || !strings.Contains(s.lines[2], `"key":"cidr:45.51.100.0/24"`) || !strings.Contains(s.lines[2], `"action":"rate_limit"`) {
		t.Fatalf("entries:\n%s", strings.Join(s.lines, "\n"))
	}
	if !strings.Contains(s.lines[1], `"expires_at":"2026-01-01T10:01:10Z"`) || !strings.Contains(s.lines[0], `"confidence":"high"`) {
		t.Errorf("refresh: %s", s.lines[1])
	}
	// rate limit: 3 new entries per second, the scanner was the second
	for i := 3; i < 8; i++ {
		m.Detection(det("sqli", "high", fmt.Sprintf("45.0.2.%d", i), t0))
	}
	if limited, _ := m.Dropped(); limited != 4 || len(m.Active()) != 3 {
		t.Fatalf("limited %d, active %d", limited, len(m.Active()))
	}
	// expiry: revoked events and tombstones, in key order
	m.Tick(t0.Add(2 * time.Minute))
	if len(m.Active()) != 0 || len(s.tomb) != 3 || s.tomb[0] != "cidr:45.51.100.0/24" {
		t.Fatalf("after expiry: %d active, tombstones %v", len(m.Active()), s.tomb)
	}
	if !strings.Contains(s.lines[len(s.lines)-1], `"revoked":true`) {
		t.Errorf("last event %s", s.lines[len(s.lines)-1])
	}
}

func TestPolicyActorTypesAndActions(t *testing.T) {
	s := sink{t: t}
	m := New(Config{ActorTypes: []string{"user", "ip"}, Allow: []string{"user:monitor"}}, "t", s.out)
	d := det("credential_stuffing", "high", "45.0.2.9", t0)
	m.Detection(d)
	d2 := det("scanner", "medium", "45.0.2.9", t0.Add(time.Minute)) // rate_limit must not downgrade the block
	m.Detection(d2)
	mon := det("sqli", "critical", "45.0.2.10", t0)
	mon.Actor.User = "monitor"
	m.Detection(mon)
	a := m.Active()
	if len(a) != 1 || a[0].Key() != "user:u-45.0.2.9" || a[0].Action != "block" {
		t.Fatalf("active %+v", a)
	}
	// a rule pack's action applies when no policy rule matches
	m2 := New(Config{Rules: []Rule{{Classes: []string{"sqli"}, Action: "log", TTL: time.Minute}}}, "t", (&sink{t: t}).out)
	cve := det("cve", "critical", "45.0.2.11", t0)
	cve.Action = "block"
	m2.Detection(cve)
	if len(m2.Active()) != 1 {
		t.Errorf("rule pack action ignored")
	}
	bad := Config{Rules: []Rule{{Action: "nuke", MinSeverity: "loud", CIDRPrefix: 8}}, ActorTypes: []string{"shoe"}, Allow: []string{"not a cidr"},
		NeverBlock: NeverBlockConfig{Gateways: []string{"gw"}}, Policy: PolicyConfig{MediumConfidence: 0.95, HighConfidence: 0.9, TTLFactor: 0.5}}.WithDefaults()
	err := bad.Validate()
	for _, want := range []string{"action", "min_severity", "actor_types", "allow", "cidr_prefix", "gateways", "medium_confidence", "ttl_factor"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %s", err, want)
		}
	}
}

// TestNeverBlock: spoofed flows, special addresses, zones, the sensor, the
// proxies, the gateways, the servers and the allow list never get an
// entry, whatever the rules say, and each is counted by reason.
func TestNeverBlock(t *testing.T) {
	s := sink{t: t}
	cfg := Config{Rules: []Rule{{Action: "block", TTL: time.Hour}}, Allow: []string{"45.9.9.9"},
		NeverBlock: NeverBlockConfig{Gateways: []string{"45.1.1.1"}}}
	m := New(cfg, "t", s.out)
	m.NeverBlock(ReasonSensor, netip.MustParsePrefix("45.2.2.2/32"), netip.MustParsePrefix("2a01:1::5/128"))
	m.NeverBlock(ReasonTrustedProxy, netip.MustParsePrefix("45.3.3.0/24"))
	server := netip.MustParseAddr("45.4.4.4")
	if m.NoteServer(server, netip.MustParseAddr("45.7.0.1")) {
		t.Fatal("a server answering one client is not learned yet")
	}
	m.NoteServer(server, netip.MustParseAddr("45.7.0.1")) // the same client again
	if !m.NoteServer(server, netip.MustParseAddr("45.7.0.2")) {
		t.Fatal("a server answering two clients is learned")
	}
	cases := []struct{ ip, reason string }{
		{"127.0.0.1", ReasonLoopback}, {"127.1.2.3", ReasonLoopback}, {"::1", ReasonLoopback}, {"::ffff:127.0.0.1", ReasonLoopback},
		{"0.0.0.0", ReasonUnspecified}, {"::", ReasonUnspecified}, {"255.255.255.255", ReasonBroadcast},
		{"224.0.0.1", ReasonMulticast}, {"239.255.255.250", ReasonMulticast}, {"ff02::1", ReasonMulticast},
		{"169.254.169.254", ReasonLinkLocal}, {"fe80::1", ReasonLinkLocal}, {"fe80::1%eth0", ReasonLinkLocal},
		{"fe80::1%x;allow all", ReasonLinkLocal}, {"fe80::1%x\n}", ReasonLinkLocal},
		{"192.0.2.7", ReasonDocumentation}, {"198.51.100.7", ReasonDocumentation}, {"203.0.113.7", ReasonDocumentation},
		{"2001:db8::7", ReasonDocumentation}, {"240.0.0.1", ReasonReserved}, {"::127.0.0.1", ReasonReserved},
		{"10.1.2.3", ReasonPrivate}, {"172.16.0.1", ReasonPrivate}, {"192.168.1.1", ReasonPrivate}, {"100.64.0.1", ReasonPrivate},
		{"fd00::1", ReasonPrivate}, {"::ffff:10.0.0.1", ReasonPrivate},
		{"45.2.2.2", ReasonSensor}, {"2a01:1::5", ReasonSensor}, {"45.3.3.77", ReasonTrustedProxy}, {"45.1.1.1", ReasonGateway},
		{"45.4.4.4", ReasonServer}, {"45.9.9.9", ReasonAllow},
		{"1.2.3.4;allow all", ""}, {"1.2.3.4 allow", ""}, {"", ""}, {"::ffff:1.2.3.4%eth0" + strings.Repeat("x", 200), ""},
	}
	for _, c := range cases {
		d := det("sqli", "critical", c.ip, t0)
		d.Actor.User = ""
		if c.reason == "" {
			c.reason = ReasonInvalidActor
		}
		before := withheld(m, c.reason)
		m.Detection(d)
		after := withheld(m, c.reason)
		if after != before+1 {
			t.Errorf("%q: withheld %s %d -> %d", c.ip, c.reason, before, after)
		}
	}
	// unconfirmed: the source may be spoofed
	for _, ip := range []string{"45.8.8.8", "2a01:2::8"} {
		d := det("cmd_injection", "critical", ip, t0)
		d.Confirmed, d.Succeeded = false, "likely"
		m.Detection(d)
	}
	if withheld(m, ReasonUnconfirmed) != 2 {
		t.Errorf("unconfirmed: %d", withheld(m, ReasonUnconfirmed))
	}
	if len(s.lines) != 0 || len(m.Active()) != 0 {
		t.Fatalf("entries for never-block actors:\n%s", strings.Join(s.lines, "\n"))
	}
	// a network that holds the learned server, the sensor or a proxy is
	// never blocked either
	m3 := New(Config{Rules: []Rule{{Action: "block", TTL: time.Hour, CIDRPrefix: 24}}}, "t", s.out)
	m3.NeverBlock(ReasonTrustedProxy, netip.MustParsePrefix("45.3.3.3/32"))
	m3.NoteServer(server, netip.MustParseAddr("45.7.0.1"))
	m3.NoteServer(server, netip.MustParseAddr("45.7.0.2"))
	m3.Detection(det("sqli", "critical", "45.3.3.99", t0))
	m3.Detection(det("sqli", "critical", "45.4.4.99", t0))
	m3.Detection(det("sqli", "critical", "2a01:3::1", t0))
	if a := m3.Active(); len(a) != 1 || a[0].Key() != "cidr:2a01:3::/64" || withheld(m3, ReasonTrustedProxy) != 1 || withheld(m3, ReasonServer) != 1 {
		t.Fatalf("cidr entries %+v, withheld %v", a, m3.Withheld())
	}
	// private ranges are blockable once opted in
	f := false
	m4 := New(Config{NeverBlock: NeverBlockConfig{Private: &f}}, "t", (&sink{t: t}).out)
	m4.Detection(det("sqli", "critical", "10.1.2.3", t0))
	m4.Detection(det("sqli", "critical", "::ffff:10.1.2.4", t0))
	if a := m4.Active(); len(a) != 2 || a[0].Value != "10.1.2.3" || a[1].Value != "10.1.2.4" {
		t.Fatalf("private opt-in: %+v", a)
	}
}

// TestConfidence: a block needs a high-confidence signature or several
// distinct signals; medium confidence rate-limits at most; low only logs.
func TestConfidence(t *testing.T) {
	s := sink{t: t}
	m := New(Config{}, "t", s.out)
	at := t0
	one := func(ip, class, rule string, conf float64, succeeded string) {
		d := det(class, "high", ip, at)
		d.Confidence, d.Succeeded, d.Evidence = conf, succeeded, []event.Evidence{{Rule: rule}}
		d.ID = fmt.Sprintf("d%d", at.UnixNano())
		at = at.Add(time.Second)
		m.Detection(d)
	}
	entry := func(ip string) *Entry {
		for _, e := range m.Active() {
			if e.Value == ip {
				return &e
			}
		}
		return nil
	}
	one("45.0.0.1", "sqli", "libinjection", 0.3, "")
	if entry("45.0.0.1") != nil || withheld(m, ReasonLowConfidence) != 1 {
		t.Fatal("a low-confidence detection made an entry")
	}
	one("45.0.0.1", "sqli", "libinjection", 0.85, "")
	if e := entry("45.0.0.1"); e == nil || e.Action != "rate_limit" || e.Confidence != "medium" || e.Signals != 1 {
		t.Fatalf("one medium signal: %+v", e)
	}
	one("45.0.0.1", "sqli", "libinjection", 0.85, "") // the same signal again: still one
	if e := entry("45.0.0.1"); e.Action != "rate_limit" {
		t.Fatalf("a repeated signal blocked: %+v", e)
	}
	one("45.0.0.1", "xss", "xss-script", 0.8, "") // a second, distinct signal
	if e := entry("45.0.0.1"); e.Action != "block" || e.Confidence != "high" || e.Signals != 2 || len(e.Detections) != 3 {
		t.Fatalf("two signals: %+v", e)
	}
	one("45.0.0.2", "sqli", "x", 0.95, "")
	one("45.0.0.3", "sqli", "x", 0.8, "likely")
	for _, ip := range []string{"45.0.0.2", "45.0.0.3"} {
		if e := entry(ip); e == nil || e.Action != "block" || e.Confidence != "high" {
			t.Fatalf("%s: %+v", ip, e)
		}
	}
	// signals older than the window do not add up
	m2 := New(Config{Policy: PolicyConfig{SignalWindow: time.Minute}}, "t", (&sink{t: t}).out)
	d := det("sqli", "high", "45.0.0.4", t0)
	d.Confidence = 0.8
	m2.Detection(d)
	d = det("xss", "high", "45.0.0.4", t0.Add(time.Hour))
	d.Confidence, d.Evidence = 0.8, []event.Evidence{{Rule: "other"}}
	m2.Detection(d)
	if a := m2.Active(); len(a) != 1 || a[0].Action != "rate_limit" {
		t.Fatalf("old signals counted: %+v", a)
	}
}

func TestDryRunAndRepeatOffenders(t *testing.T) {
	s := sink{t: t}
	m := New(Config{DryRun: true, Rules: []Rule{{Action: "block", TTL: time.Hour}}, Policy: PolicyConfig{MaxTTL: 5 * time.Hour}}, "t", s.out)
	at := t0
	var ttls []time.Duration
	for i := 0; i < 5; i++ {
		m.Detection(det("sqli", "high", "45.0.0.9", at))
		a := m.Active()
		if len(a) != 1 || a[0].Shown() != "would_block" || a[0].Offences != i+1 {
			t.Fatalf("offence %d: %+v", i+1, a)
		}
		ttls = append(ttls, a[0].TTL)
		at = a[0].Expires
		m.Tick(at)
		at = at.Add(time.Minute)
	}
	if fmt.Sprint(ttls) != "[1h0m0s 2h0m0s 4h0m0s 5h0m0s 5h0m0s]" {
		t.Errorf("TTLs %v", ttls)
	}
	if !strings.Contains(s.lines[0], `"action":"would_block"`) || !strings.Contains(s.lines[len(s.lines)-1], `"offences":5`) {
		t.Errorf("events:\n%s", strings.Join(s.lines, "\n"))
	}
	// a record clean for as long as the ceiling starts over
	m.Detection(det("sqli", "high", "45.0.0.9", at.Add(6*time.Hour)))
	if a := m.Active(); a[0].Offences != 1 || a[0].TTL != time.Hour {
		t.Errorf("after a clean period: %+v", a[0])
	}
}

// TestSharedAddress: behind an address many users share, the identity is
// blocked, never the address.
func TestSharedAddress(t *testing.T) {
	s := sink{t: t}
	m := New(Config{}, "t", s.out)
	nat := netip.MustParseAddr("45.0.0.20")
	for i := 0; i < 5; i++ {
		if i < 3 {
			m.NoteClient(nat, fmt.Sprintf("user-%d", i), t0)
			m.NoteClient(nat, "user-0", t0) // repeats count once
		} else { // the sensor's form: a hash of the identity
			m.NoteClientID(nat, uint64(i), t0)
			m.NoteClientID(nat, 3, t0)
			m.NoteClientID(nat, 0, t0) // none
		}
	}
	d := det("sqli", "critical", "45.0.0.20", t0)
	d.Actor.User = "mallory"
	m.Detection(d)
	anon := det("sqli", "critical", "45.0.0.20", t0)
	anon.Actor.User = ""
	m.Detection(anon)
	a := m.Active()
	if len(a) != 1 || a[0].Key() != "user:mallory" || withheld(m, ReasonShared) != 1 {
		t.Fatalf("shared address: %+v, withheld %v", a, m.Withheld())
	}
	// four identities do not make an address shared, and the window ends
	m.NoteClient(netip.MustParseAddr("45.0.0.21"), "a", t0)
	m.Detection(det("sqli", "critical", "45.0.0.21", t0))
	m.Detection(det("sqli", "critical", "45.0.0.20", t0.Add(2*time.Hour)))
	if a := m.Active(); len(a) != 3 || a[0].Key() != "ip:45.0.0.20" || a[1].Key() != "ip:45.0.0.21" {
		t.Fatalf("unshared: %+v", a)
	}
	// identities with control bytes, or too long, are not actors
	bad := det("sqli", "critical", "45.0.0.20", t0)
	m2 := New(Config{ActorTypes: []string{"user"}}, "t", s.out)
	for _, u := range []string{"a\nb", "x\x00", strings.Repeat("u", 300), "\xff\xfe", "a\u2028b"} {
		bad.Actor.User = u
		m2.Detection(bad)
	}
	if withheld(m2, ReasonInvalidActor) != 5 || len(m2.Active()) != 0 {
		t.Fatalf("invalid identities: %v", m2.Withheld())
	}
}

func TestTrackingBound(t *testing.T) {
	m := New(Config{MaxNewPerSecond: 1 << 20, Policy: PolicyConfig{MaxTracked: 10}}, "t", (&sink{}).out)
	for i := 0; i < 50; i++ {
		d := det("sqli", "high", fmt.Sprintf("45.1.0.%d", i), t0)
		d.Confidence = 0.8
		m.Detection(d)
	}
	tracked, untracked, _, _, _ := m.Tracking()
	if tracked != 10 || untracked != 40 || len(m.Active()) != 50 {
		t.Fatalf("tracked %d untracked %d active %d", tracked, untracked, len(m.Active()))
	}
}

func BenchmarkNoteServerKnown(b *testing.B) {
	m := New(Config{}, "t", (&sink{}).out)
	srv := netip.MustParseAddr("45.4.4.4")
	m.NoteServer(srv, netip.MustParseAddr("45.0.0.1"))
	m.NoteServer(srv, netip.MustParseAddr("45.0.0.2"))
	cl := netip.MustParseAddr("45.0.0.3")
	b.ReportAllocs()
	for b.Loop() {
		m.NoteServer(srv, cl)
	}
}

func BenchmarkNoteClient(b *testing.B) {
	m := New(Config{}, "t", (&sink{}).out)
	cl := netip.MustParseAddr("45.0.0.3")
	b.ReportAllocs()
	for b.Loop() {
		m.NoteClient(cl, "alice", t0)
	}
}
