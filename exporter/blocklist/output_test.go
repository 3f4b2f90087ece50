package blocklist

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// hostile are actor values an attacker (or a broken producer) may get into
// the blocklist topic: special addresses, zones with separators, separators
// of every target's syntax, control bytes, very long values.
var hostile = []string{
	"255.255.255.255", "0.0.0.0", "0.1.2.3", "::", "127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1", "224.0.0.1", "239.1.1.1", "ff02::1",
	"169.254.169.254", "fe80::1", "192.0.2.1", "2001:db8::1", "240.0.0.1", "::127.0.0.1",
	"fe80::1%x;allow all", "fe80::1%eth0", "fe80::1%25", "2a01::1%x", "45.0.0.1%eth0", "fe80::1%x\n}", "ff02::1%lo",
	"45.0.0.1;", "45.0.0.1; allow all", "45.0.0.1 allow", "45.0.0.1\n}", "45.0.0.1\r\ndeny all;", "45.0.0.1#", "#45.0.0.1",
	"45.0.0.1,45.0.0.2", "{", "}", ";", "", " ", " 45.0.0.1", "45.0.0.1 ", "\t45.0.0.1", "045.0.0.1", "45.0.0.1.", "45.0.0",
	"45.0.0.0/33", "0.0.0.0/0", "::/0", "45.0.0.0/8", "2a01::/16", "::ffff:0:0/96", "::ffff:45.0.0.0/100",
	"[2a01::1]", "2a01::1/64%x", "45.0.0.1:80", "http://45.0.0.1/", "localhost", "all", "unix:/run/x.sock",
	"\x00", "45.0.0.1\x00", "\x1b[31m45.0.0.1", "45.0.0.1\x7f", "\u00a045.0.0.1", "４５.0.0.1", "45.0.0.1\u2028",
	strings.Repeat("1", 100000), "45.0.0." + strings.Repeat("1", 5000), strings.Repeat("a:", 10000),
}

// valid are values every address output must carry, as canonical.
var valid = map[string]string{"45.0.0.1": "45.0.0.1", "2a01:4f8::1": "2a01:4f8::1", "::ffff:45.0.0.7": "45.0.0.7", "2A01:4F8::9": "2a01:4f8::9"}
var validCIDR = map[string]string{"45.1.0.0/24": "45.1.0.0/24", "45.2.0.9/24": "45.2.0.0/24", "2a01:4f8:1::/48": "2a01:4f8:1::/48", "45.3.0.4/32": "45.3.0.4/32"}

func eventFor(typ, value, action string) (string, []byte) {
	b, _ := json.Marshal(map[string]any{"schema": "apitap/v1", "type": "blocklist", "time": "2026-01-01T10:00:00Z", "sensor": "s",
		"key": typ + ":" + value, "actor": map[string]string{"type": typ, "value": value}, "action": action, "confidence": "high",
		"reason": "sqli:r", "detection_ids": []string{"d"}, "since": "2026-01-01T10:00:00Z", "ttl_seconds": 60,
		"expires_at": "2099-01-01T10:00:00Z", "revoked": false})
	return typ + ":" + value, b
}

var actionRE = `(rate_limit|block|deceive|would_rate_limit|would_block|would_deceive)`

// lineRE is what each target accepts, per line (comments aside).
var lineRE = map[string]*regexp.Regexp{
	"nginx":       regexp.MustCompile(`^deny ([0-9a-f.:/]+);$`),
	"nginx-geo":   regexp.MustCompile(`^([0-9a-f.:/]+) ` + actionRE + `;$`),
	"haproxy":     regexp.MustCompile(`^([0-9a-f.:/]+)$`),
	"haproxy-map": regexp.MustCompile(`^([0-9a-f.:/]+) ` + actionRE + `$`),
	"plain":       regexp.MustCompile(`^([0-9a-f.:/]+)$`),
}

// checkAddr fails unless v is an address or network in the canonical form
// net/netip writes, outside the special ranges, not too wide.
func checkAddr(t *testing.T, out, v string) {
	t.Helper()
	if p, err := netip.ParsePrefix(v); err == nil {
		if p.String() != v || p.Masked() != p || p.Addr().Is4In6() || (p.Addr().Is4() && p.Bits() < MinPrefix4) || (p.Addr().Is6() && p.Bits() < MinPrefix6) {
			t.Errorf("%s: network %q is not canonical or too wide", out, v)
		}
		for _, r := range special {
			if r.p.Overlaps(p) {
				t.Errorf("%s: network %q overlaps %s", out, v, r.p)
			}
		}
		return
	}
	a, err := netip.ParseAddr(v)
	if err != nil || a.String() != v || a.Zone() != "" || a.Is4In6() || SpecialReason(a) != "" {
		t.Errorf("%s: %q is not a canonical blockable address", out, v)
	}
}

// checkOutput validates a rendered file line by line for its target.
func checkOutput(t *testing.T, name string, body []byte) (values []string) {
	t.Helper()
	if name == "json" {
		var doc struct {
			Entries []Item `json:"entries"`
		}
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("json: %v", err)
		}
		for _, e := range doc.Entries {
			if IsAddress(e.Type) {
				checkAddr(t, name, e.Value)
			} else if !ValidIdentity(e.Value) {
				t.Errorf("json: identity %q", e.Value)
			}
			if e.Key != e.Type+":"+e.Value || !knownAction(e.Action) {
				t.Errorf("json: entry %+v", e)
			}
			values = append(values, e.Value)
		}
		return values
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		if l == "" && len(body) == 0 || strings.HasPrefix(l, "# written by apitap blocklist") {
			continue
		}
		m := lineRE[name].FindStringSubmatch(l)
		if m == nil {
			t.Errorf("%s: line %q is not what the target accepts", name, l)
			continue
		}
		checkAddr(t, name, m[1])
		values = append(values, m[1])
	}
	return values
}

// hostileState applies the corpus (and the valid values) to a state, as
// ip, cidr and user entries with every action and some bad actions.
func hostileState(t *testing.T) *State {
	never := ConsumerGuard()
	never.Add(ReasonSensor, netip.MustParsePrefix("45.9.9.9/32"))
	outputs := map[string]bool{}
	for _, n := range FormatNames {
		outputs[n] = Formats[n].Addresses
	}
	s := NewState(never, outputs)
	for _, v := range hostile {
		for _, typ := range []string{"ip", "cidr", "user"} {
			s.Apply(eventFor(typ, v, "block"))
		}
	}
	for _, a := range []string{"allow", "block;", "", "BLOCK", "would_allow"} {
		s.Apply(eventFor("ip", "45.0.0.99", a))
	}
	s.Apply(eventFor("host", "45.0.0.98", "block"))
	s.Apply(eventFor("ip", "45.9.9.9", "block"))                                                                       // the enforcement point itself
	s.Apply("ip:45.0.0.97", []byte(`{"type":"blocklist","actor":{"type":"ip","value":"45.0.0.96"},"action":"block"}`)) // key and value disagree
	s.Apply("ip:45.0.0.95", []byte("not json"))
	for v := range valid {
		s.Apply(eventFor("ip", v, "block"))
	}
	for v := range validCIDR {
		s.Apply(eventFor("cidr", v, "block"))
	}
	s.Apply(eventFor("ip", "45.0.0.50", "rate_limit"))
	s.Apply(eventFor("ip", "45.0.0.51", "would_block"))
	s.Apply(eventFor("user", "alice", "block"))
	s.Apply(eventFor("user", "bob; deny all", "block")) // fine in JSON, never in an address file
	return s
}

// TestHostileValues: no hostile value reaches any output; every line of
// every output is what its target accepts; the valid values all arrive;
// refusals are counted per output.
func TestHostileValues(t *testing.T) {
	s := hostileState(t)
	items, _ := s.Snapshot()
	enforce := map[string]bool{"block": true}
	want := map[string]bool{}
	for _, c := range valid {
		want[c] = true
	}
	for _, c := range validCIDR {
		want[c] = true
	}
	for _, name := range FormatNames {
		t.Run(name, func(t *testing.T) {
			f := Formats[name]
			var rej Rejects
			pred := func(a string) bool { return enforce[a] }
			if !f.Addresses {
				pred = func(a string) bool { _, d := DryRunAction(a); return !d }
			}
			body := f.Render(items, pred, &rej)
			if rej.Total("") != 0 {
				t.Errorf("rendering refused %d validated items", rej.Total(""))
			}
			got := map[string]bool{}
			for _, v := range checkOutput(t, name, body) {
				got[v] = true
			}
			for v := range want {
				if !got[v] {
					t.Errorf("valid %s missing:\n%s", v, body)
				}
			}
			extra := 0
			for v := range got {
				if !want[v] {
					extra++
				}
			}
			if f.Addresses && extra != 0 {
				t.Errorf("%d unexpected values:\n%s", extra, body)
			}
			if !f.Addresses && (!got["alice"] || !got["bob; deny all"] || !got["45.0.0.50"] || got["45.0.0.51"]) {
				t.Errorf("json entries:\n%s", body)
			}
			// rendering raw (unvalidated) items must refuse the hostile ones too
			var raw []Item
			for _, v := range hostile {
				raw = append(raw, Item{Key: "ip:" + v, Type: "ip", Value: v, Action: "block"}, Item{Key: "cidr:" + v, Type: "cidr", Value: v, Action: "block"})
			}
			var rej2 Rejects
			checkOutput(t, name, f.Render(raw, pred, &rej2))
			if rej2.Total(name) == 0 {
				t.Error("raw hostile items were not refused")
			}
			n := s.Rejects.Total(name)
			t.Logf("%s: %d hostile events refused, %d lines", name, n, len(got))
			if n < uint64(len(hostile)) {
				t.Errorf("only %d refusals counted for %s", n, name)
			}
		})
	}
	s.Rejects.Each(func(o, r string, n uint64) {
		if o == "nginx" {
			t.Logf("nginx refused %-16s %d", r, n)
		}
	})
}

// TestOutputsAcceptedByTargets: the real nginx and HAProxy load every
// output written from the hostile corpus (nginx -t, haproxy -c).
func TestOutputsAcceptedByTargets(t *testing.T) {
	s := hostileState(t)
	items, _ := s.Snapshot()
	dir := t.TempDir()
	files := &Files{Enforce: map[string]bool{"block": true, "rate_limit": true}}
	for _, name := range FormatNames {
		files.Outputs = append(files.Outputs, FileOutput{Format: Formats[name], Path: filepath.Join(dir, name)})
	}
	if _, err := files.Write(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	ran := 0
	if nginx := lookPath("nginx", "/usr/sbin/nginx"); nginx != "" {
		conf := filepath.Join(dir, "nginx.conf")
		os.WriteFile(conf, []byte(fmt.Sprintf(`pid %[1]s/nginx.pid; error_log %[1]s/error.log;
events {}
http {
  access_log off;
  geo $apitap_action { default ""; include %[1]s/nginx-geo; }
  server { listen 127.0.0.1:1; include %[1]s/nginx; location / { if ($apitap_action = block) { return 403; } } }
}
`, dir)), 0o644)
		if out, err := exec.Command(nginx, "-t", "-q", "-c", conf).CombinedOutput(); err != nil {
			t.Errorf("nginx -t refuses the outputs: %v\n%s", err, out)
		}
		ran++
	} else {
		t.Log("nginx not installed (Debian package nginx-light; .ci/run installs it): nginx -t not run")
	}
	if hap := lookPath("haproxy", "/usr/sbin/haproxy"); hap != "" {
		conf := filepath.Join(dir, "haproxy.cfg")
		os.WriteFile(conf, []byte(fmt.Sprintf(`defaults
  mode http
  timeout client 5s
  timeout server 5s
  timeout connect 5s
frontend f
  bind 127.0.0.1:1
  acl apitap_blocked src -f %[1]s/haproxy
  http-request deny if apitap_blocked
  http-request deny if { src,map_ip(%[1]s/haproxy-map) -m str block }
  acl plain src -f %[1]s/plain
  http-request deny if plain
`, dir)), 0o644)
		if out, err := exec.Command(hap, "-c", "-q", "-f", conf).CombinedOutput(); err != nil {
			t.Errorf("haproxy -c refuses the outputs: %v\n%s", err, out)
		}
		ran++
	} else {
		t.Log("haproxy not installed (Debian package haproxy; .ci/run installs it): haproxy -c not run")
	}
	if ran == 0 {
		t.Skip("needs nginx or haproxy (.ci/run installs both)")
	}
}

func lookPath(name, fallback string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback
	}
	return ""
}

// TestStateRevocation: tombstones, revoked events, expiry and an invalid
// update all remove the entry.
func TestStateRevocation(t *testing.T) {
	s := NewState(ConsumerGuard(), map[string]bool{"nginx": true})
	for _, v := range []string{"45.0.0.1", "45.0.0.2", "45.0.0.3", "45.0.0.4"} {
		s.Apply(eventFor("ip", v, "block"))
	}
	s.Apply("ip:45.0.0.1", nil)
	k, b := eventFor("ip", "45.0.0.2", "block")
	s.Apply(k, []byte(strings.Replace(string(b), `"revoked":false`, `"revoked":true`, 1)))
	k, b = eventFor("ip", "45.0.0.3", "block")
	s.Apply(k, []byte(strings.Replace(string(b), `"action":"block"`, `"action":"allow all"`, 1)))
	k, b = eventFor("ip", "45.0.0.4", "block")
	s.Apply(k, []byte(strings.Replace(string(b), "2099", "2001", 1)))
	s.Expire(time.Now())
	if items, _ := s.Snapshot(); len(items) != 0 {
		t.Fatalf("left: %+v", items)
	}
}
