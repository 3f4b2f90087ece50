package blocklist

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/analyzer/event"
)

type sink struct{ lines, tombs []string }

func (s *sink) out(key string, line []byte, tomb bool) {
	if tomb {
		s.tombs = append(s.tombs, key)
		return
	}
	s.lines = append(s.lines, string(line))
}

var t0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

func det(class, sev, ip string, at time.Time) *event.Detection {
	return &event.Detection{ID: "d-" + ip + class, Class: class, Severity: sev, Actor: event.Actor{IP: ip, User: "u-" + ip}, LastSeen: at, Count: 1,
		Evidence: []event.Evidence{{Rule: "r"}}}
}

func TestPolicy(t *testing.T) {
	var s sink
	cfg := Config{Allow: []string{"10.9.0.0/16", "user:monitor"}, MaxNewPerSecond: 3,
		Rules: []Rule{{Classes: []string{"sqli"}, MinSeverity: "high", Action: "block", TTL: time.Minute},
			{Classes: []string{"scanner"}, Action: "rate_limit", TTL: time.Minute, CIDRPrefix: 24}}}
	if err := cfg.WithDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
	m := New(cfg, "t", s.out)
	m.Detection(det("sqli", "medium", "192.0.2.1", t0)) // below the rule's severity
	m.Detection(det("sqli", "high", "10.9.1.1", t0))    // allowlisted network
	m.Detection(det("xss", "high", "192.0.2.2", t0))    // no rule
	if len(s.lines) != 0 || m.Allowed != 1 {
		t.Fatalf("unexpected entries %v (allowed %d)", s.lines, m.Allowed)
	}
	m.Detection(det("sqli", "high", "192.0.2.1", t0))
	m.Detection(det("sqli", "high", "192.0.2.1", t0.Add(time.Second)))    // refresh within a tenth of the TTL: silent
	m.Detection(det("sqli", "high", "192.0.2.1", t0.Add(10*time.Second))) // announced refresh
	m.Detection(det("scanner", "medium", "198.51.100.77", t0))
	if len(s.lines) != 3 || !strings.Contains(s.lines[2], `"key":"cidr:198.51.100.0/24"`) || !strings.Contains(s.lines[2], `"action":"rate_limit"`) {
		t.Fatalf("entries:\n%s", strings.Join(s.lines, "\n"))
	}
	if !strings.Contains(s.lines[1], `"expires_at":"2026-01-01T10:01:10Z"`) {
		t.Errorf("refresh: %s", s.lines[1])
	}
	// rate limit: 3 new entries per second, the scanner was the second
	for i := 3; i < 8; i++ {
		m.Detection(det("sqli", "high", fmt.Sprintf("192.0.2.%d", i), t0))
	}
	if m.Limited != 4 || len(m.Active()) != 3 {
		t.Fatalf("limited %d, active %d", m.Limited, len(m.Active()))
	}
	// expiry: revoked events and tombstones, in key order
	m.Tick(t0.Add(2 * time.Minute))
	if len(m.Active()) != 0 || len(s.tombs) != 3 || s.tombs[0] != "cidr:198.51.100.0/24" {
		t.Fatalf("after expiry: %d active, tombstones %v", len(m.Active()), s.tombs)
	}
	if !strings.Contains(s.lines[len(s.lines)-1], `"revoked":true`) {
		t.Errorf("last event %s", s.lines[len(s.lines)-1])
	}
}

func TestPolicyActorTypesAndActions(t *testing.T) {
	var s sink
	m := New(Config{ActorTypes: []string{"user", "ip"}, Allow: []string{"user:monitor"}}, "t", s.out)
	d := det("credential_stuffing", "high", "192.0.2.9", t0)
	m.Detection(d)
	d2 := det("scanner", "medium", "192.0.2.9", t0.Add(time.Minute)) // rate_limit must not downgrade the block
	m.Detection(d2)
	mon := det("sqli", "critical", "192.0.2.10", t0)
	mon.Actor.User = "monitor"
	m.Detection(mon)
	a := m.Active()
	if len(a) != 1 || a[0].Key() != "user:u-192.0.2.9" || a[0].Action != "block" {
		t.Fatalf("active %+v", a)
	}
	// a rule pack's action applies when no policy rule matches
	var s2 sink
	m2 := New(Config{Rules: []Rule{{Classes: []string{"sqli"}, Action: "log", TTL: time.Minute}}}, "t", s2.out)
	cve := det("cve", "critical", "192.0.2.11", t0)
	cve.Action = "block"
	m2.Detection(cve)
	if len(m2.Active()) != 1 {
		t.Errorf("rule pack action ignored")
	}
	bad := Config{Rules: []Rule{{Action: "nuke", MinSeverity: "loud"}}, ActorTypes: []string{"shoe"}, Allow: []string{"not a cidr"}}.WithDefaults()
	err := bad.Validate()
	for _, want := range []string{"action", "min_severity", "actor_types", "allow"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %s", err, want)
		}
	}
}
