package blocklist

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// haproxyLab runs a real HAProxy with a stats socket, an ACL file and a
// map file apitap keeps, and a canary ACL it must never touch. Requests
// name the client in X-Client: the ACL and map are shared by a src check
// and a check of that header, so the runtime entries are enforced without
// root or extra addresses.
type haproxyLab struct {
	sock, acl, mapf, canary, url string
}

func startHAProxy(t *testing.T) *haproxyLab {
	t.Helper()
	bin := lookPath("haproxy", "/usr/sbin/haproxy")
	if bin == "" {
		t.Skip("needs haproxy (Debian package haproxy; .ci/run installs it)")
	}
	dir := t.TempDir()
	l := &haproxyLab{sock: filepath.Join(dir, "admin.sock"), acl: filepath.Join(dir, "apitap.acl"), mapf: filepath.Join(dir, "apitap.map"),
		canary: filepath.Join(dir, "canary.acl")}
	os.WriteFile(l.acl, []byte(Formats["haproxy"].Empty+"45.0.0.200\n"), 0o644) // a stale entry the sync removes
	os.WriteFile(l.mapf, []byte(Formats["haproxy-map"].Empty), 0o644)
	os.WriteFile(l.canary, []byte("45.7.7.7\n45.7.7.8\n"), 0o644)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := filepath.Join(dir, "haproxy.cfg")
	os.WriteFile(conf, []byte(fmt.Sprintf(`global
  stats socket %[1]s level admin
defaults
  mode http
  timeout client 5s
  timeout server 5s
  timeout connect 5s
frontend f
  bind %[2]s
  acl apitap_blocked src -f %[3]s
  acl apitap_blocked_hdr req.hdr_ip(X-Client) -f %[3]s
  acl canary req.hdr_ip(X-Client) -f %[5]s
  http-request deny deny_status 403 if apitap_blocked or apitap_blocked_hdr
  http-request deny deny_status 429 if { req.hdr_ip(X-Client),map_ip(%[4]s) -m str rate_limit }
  http-request deny deny_status 410 if canary
  http-request return status 200 content-type text/plain string ok
`, l.sock, addr, l.acl, l.mapf, l.canary)), 0o644)
	cmd := exec.Command(bin, "-db", "-f", conf)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", l.sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(end) {
			t.Fatal("haproxy did not open its stats socket")
		}
	}
	l.url = "http://" + addr + "/"
	return l
}

// status is HAProxy's answer for a client named in X-Client.
func (l *haproxyLab) status(t *testing.T, client string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", l.url, nil)
	req.Header.Set("X-Client", client)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (l *haproxyLab) show(t *testing.T, r *Runtime, kind, ref string) []string {
	t.Helper()
	ps, err := r.show(context.Background(), kind, ref)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.value)
	}
	sort.Strings(out)
	return out
}

// TestHAProxyRuntime keeps a real HAProxy's ACL and map over the runtime
// API: entries apply at once, changes and removals too; hostile values
// (which the runtime API would split into commands of their own at ';')
// never reach it, and nothing else HAProxy holds is touched.
func TestHAProxyRuntime(t *testing.T) {
	l := startHAProxy(t)
	r := &Runtime{Addr: l.sock, ACL: l.acl, Map: l.mapf, Enforce: map[string]bool{"block": true, "rate_limit": true}}
	ctx := context.Background()
	if st := l.status(t, "45.0.0.1"); st != 200 {
		t.Fatalf("before: %d", st)
	}
	in := items("45.0.0.1", "rate_limit=45.0.0.2", "2a01:4f8::1", "would_block=45.0.0.3")
	in = append(in, Item{Key: "cidr:45.1.0.0/24", Type: "cidr", Value: "45.1.0.0/24", Action: "block"})
	// raw hostile items: the runtime refuses them itself
	for _, v := range hostile {
		in = append(in, Item{Key: "ip:" + v, Type: "ip", Value: v, Action: "block"}, Item{Key: "cidr:" + v, Type: "cidr", Value: v, Action: "block"})
	}
	in = append(in, Item{Key: "ip:45.0.0.9", Type: "ip", Value: "45.0.0.9", Action: "block;clear acl " + l.canary})
	a, c, d, err := r.Sync(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if a != 8 || c != 0 || d != 1 { // 4 ACL and 4 map patterns; the stale ACL entry removed
		t.Errorf("added %d changed %d removed %d", a, c, d)
	}
	if got := l.show(t, r, "acl", l.acl); strings.Join(got, ",") != "2a01:4f8::1,45.0.0.1,45.0.0.2,45.1.0.0/24" {
		t.Errorf("ACL: %v", got)
	}
	if got := l.show(t, r, "map", l.mapf); strings.Join(got, ",") != "2a01:4f8::1 block,45.0.0.1 block,45.0.0.2 rate_limit,45.1.0.0/24 block" {
		t.Errorf("map: %v", got)
	}
	if got := l.show(t, r, "acl", l.canary); strings.Join(got, ",") != "45.7.7.7,45.7.7.8" {
		t.Errorf("the canary ACL changed: %v", got)
	}
	if r.Rejects.Total("haproxy-runtime") < uint64(len(hostile)) {
		t.Errorf("refusals: %d", r.Rejects.Total("haproxy-runtime"))
	}
	for client, want := range map[string]int{"45.0.0.1": 403, "45.1.0.77": 403, "2a01:4f8::1": 403, "45.0.0.3": 200, "45.0.0.200": 200, "45.0.0.4": 200, "45.7.7.7": 410} {
		if st := l.status(t, client); st != want {
			t.Errorf("%s: %d, want %d", client, st, want)
		}
	}
	// an action changes, an entry leaves, one arrives; nothing to do the
	// second time
	next := items("rate_limit=45.0.0.1", "45.0.0.5")
	if a, c, d, err = r.Sync(ctx, next); err != nil || a != 2 || c != 1 || d != 6 {
		t.Errorf("update: added %d changed %d removed %d: %v", a, c, d, err)
	}
	if a, c, d, err = r.Sync(ctx, next); err != nil || a+c+d != 0 {
		t.Errorf("idempotent: %d %d %d %v", a, c, d, err)
	}
	for client, want := range map[string]int{"45.0.0.1": 403, "45.0.0.5": 403, "45.0.0.2": 200, "45.1.0.77": 200} {
		if st := l.status(t, client); st != want {
			t.Errorf("after update %s: %d, want %d", client, st, want)
		}
	}
	// references that could carry a command are refused up front
	for _, ref := range []string{l.acl + ";clear acl " + l.canary, "relative.acl", l.acl + " x"} {
		if err := (&Runtime{Addr: l.sock, ACL: ref}).Validate(); err == nil {
			t.Errorf("reference %q accepted", ref)
		}
	}
	// HAProxy down: an error, counted
	down := &Runtime{Addr: filepath.Join(t.TempDir(), "none.sock"), ACL: l.acl, Enforce: r.Enforce}
	if _, _, _, err := down.Sync(ctx, next); err == nil || down.Errors.Load() != 1 {
		t.Errorf("unreachable HAProxy: %v", err)
	}
}
