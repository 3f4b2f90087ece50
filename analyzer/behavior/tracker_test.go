package behavior

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/apitap/apitap/analyzer/generations"
	"github.com/apitap/apitap/reassembly/http1"
)

// TestLatency: latency answers as Sub and After do, for capture times,
// far times and times with monotonic clock readings.
func TestLatency(t *testing.T) {
	want := func(resp, req time.Time) float64 {
		if resp.After(req) {
			return resp.Sub(req).Seconds()
		}
		return 0
	}
	r := rand.New(rand.NewPCG(5, 6))
	now := time.Now() // a monotonic reading
	bases := []time.Time{t0, time.Unix(0, 0), time.Unix(1<<32-1, 999999999), time.Unix(-(1<<32)+1, 0), time.Unix(1<<32, 0), time.Unix(1<<40, 5),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), now, now.Round(0), t0.In(time.FixedZone("x", 3600))}
	for _, a := range bases {
		for _, b := range bases {
			for k := 0; k < 50; k++ {
				resp := a.Add(time.Duration(r.Int64N(4e9) - 2e9))
				req := b
				if k%2 == 0 {
					req = a.Add(time.Duration(r.Int64N(4e9) - 2e9))
				}
				if got, w := latency(resp, req), want(resp, req); got != w {
					t.Fatalf("latency(%v, %v) = %v, want %v", resp, req, got, w)
				}
			}
		}
	}
}

// TestContainsLowerASCII agrees with strings.Contains(strings.ToLower(s), sub).
func TestContainsLowerASCII(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alpha := "aAbB-/ "
	for n := 0; n < 100000; n++ {
		s := make([]byte, r.IntN(12))
		for i := range s {
			s[i] = alpha[r.IntN(len(alpha))]
		}
		sub := strings.ToLower(string(s[:r.IntN(len(s)+1)]))
		if n%3 == 0 {
			sub = strings.ToLower(alpha[r.IntN(len(alpha)):])
		}
		if got, want := containsLowerASCII(string(s), sub), strings.Contains(strings.ToLower(string(s)), sub); got != want {
			t.Fatalf("%q in %q: %v, want %v", sub, s, got, want)
		}
	}
}

// letters spells k in lower-case letters (a literal path segment, as a
// scanner's word list has them).
func letters(k int) string {
	b := []byte{'a'}
	for ; k > 0; k /= 26 {
		b = append(b, byte('a'+k%26))
	}
	return string(b)
}

// TestEndpointsOutlastProbeFlood: a scanner's unique paths, more than the
// endpoint table holds, sent before an endpoint is first seen, do not
// leave it without a baseline: the flood against search that follows is
// still detected (with a table that refused new endpoints once full, it
// was not).
func TestEndpointsOutlastProbeFlood(t *testing.T) {
	var rs []req
	for k := 0; k < maxEndpoints+1000; k++ {
		rs = append(rs, req{at: time.Duration(k) * 50 * time.Millisecond, ip: fmt.Sprintf("192.0.2.%d", 1+k%200), method: "GET",
			path: "/" + letters(k) + ".php", headers: []http1.Header{{Name: "User-Agent", Value: "curl/8.5.0"}}, status: 404, resp: `{}`})
	}
	for k := 0; k < 10*20; k++ { // the usual: 20 a minute
		rs = append(rs, req{at: 300*time.Second + time.Duration(k)*3*time.Second, ip: "100.64.0.7", method: "GET", path: "/v1/search?q=lamp", headers: browser(), status: 200, resp: `[]`})
	}
	tool := []http1.Header{{Name: "User-Agent", Value: "python-requests/2.31.0"}}
	for k := 0; k < 2000; k++ {
		rs = append(rs, req{at: 960*time.Second + time.Duration(k)*25*time.Millisecond, ip: fmt.Sprintf("198.51.100.%d", 10+k%60), method: "GET",
			path: "/v1/search?q=" + fmt.Sprint(k), headers: tool, status: 503, resp: `{"error":"overloaded"}`})
	}
	cfg := NewConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tr, dets := run(t, cfg, rs)
	n := 0
	for _, d := range dets {
		if d.Class == "dos" {
			n++
		}
	}
	if n == 0 {
		t.Fatalf("no dos detection after a flood of %d probe paths (%d detections)", maxEndpoints+1000, len(dets))
	}
	if l := tr.endpoints.Len(); l > maxEndpoints {
		t.Fatalf("%d endpoints held, bound %d", l, maxEndpoints)
	}
}

// TestTopLeavesAddressesAlone: listing the actors (the admin API's
// /actors, the read summary, the end-of-run report) only reads the table
// of addresses' principals. Three users behind three shared addresses
// (NAT gateways) in the table's old generation: each keeps its address
// out of the listing, whatever order the actors are listed in. (Looking
// them up with Get moved them to the current generation, which turned
// and forgot the third: its user was listed with the gateway's address,
// and a query of the admin API changed what the detectors knew.)
func TestTopLeavesAddressesAlone(t *testing.T) {
	cfg := NewConfig()
	tr := NewTracker(cfg, "s")
	tr.addrs = generations.New[uint64, *addrState](6) // two generations of 3
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 3 {
		ip := netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + i)})
		for p := range cfg.SharedPrincipals {
			tr.sawPrincipal(addrKey(ip), uint64(100*i+p+1))
		}
		r := tr.touch(keyOf(kUser, fmt.Sprint("user", i)), kUser, now.UnixNano())
		r.actor.User = fmt.Sprint("user", i)
		r.score, r.scoreAt, r.ipSeen, r.lastIP = 50, now.UnixNano(), true, ip
	}
	for i := range 2 { // the shared addresses become the old generation
		tr.sawPrincipal(addrKey(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i)})), 1)
	}
	before := tr.addrs.Len()
	for range 3 {
		top := tr.Top(10, now)
		if len(top) != 3 {
			t.Fatalf("%d actors listed, want 3", len(top))
		}
		for _, a := range top {
			if a.Actor.IP != "" {
				t.Errorf("%s listed with the shared address %s", a.Name(), a.Actor.IP)
			}
		}
	}
	if l := tr.addrs.Len(); l != before {
		t.Errorf("listing the actors changed the address table: %d entries, %d before", l, before)
	}
}

// TestWalkFollowsReplacedEndpoint: an endpoint forgotten by the endpoint
// table while an actor's long window on it was open, and seen again, has
// a new state; the actor's window goes on against the new state only, so
// its baseline of objects per reader holds each open window once, as it
// does for an endpoint never forgotten. (The window kept the forgotten
// state: its growth was counted on the new state's live windows, its end
// on the forgotten one's, and the new state kept a live window that never
// ended.)
func TestWalkFollowsReplacedEndpoint(t *testing.T) {
	tr, read := walker()
	forgotten := tr.endpoint(walkEP)
	read(0, 1, forgotten)
	read(time.Second, 2, forgotten)
	forgetEndpoints(tr) // the table forgets the endpoint; it is seen again
	renewed := tr.endpoint(walkEP)
	if renewed == forgotten {
		t.Fatal("the endpoint table did not forget the endpoint")
	}
	read(2*time.Second, 3, renewed)
	read(3*time.Second, 4, renewed)
	read(2*time.Hour, 5, renewed) // the next long window
	for _, c := range []struct {
		name string
		h    *hist
	}{{"forgotten", &forgotten.objs}, {"renewed", &renewed.objs}} {
		var live, done float64
		for b := range c.h.live {
			live += float64(c.h.live[b])
			done += float64(c.h.done[b])
		}
		if live > 1 || live+done != c.h.n {
			t.Errorf("%s state: %.0f live windows and %.0f ended, weight %.0f (one reader, one open window at most)", c.name, live, done, c.h.n)
		}
	}
}

// TestWalkKeepsNoForgottenState: an actor whose long window was on an
// endpoint the table forgot does not keep the forgotten state (and its
// maps) alive: at most the table's states stay in memory, whatever the
// number of actors.
func TestWalkKeepsNoForgottenState(t *testing.T) {
	tr, read := walker()
	st := tr.endpoint(walkEP)
	for id := range 3 {
		read(time.Duration(id)*time.Second, id, st)
	}
	w := weak.Make(st)
	st = nil
	forgetEndpoints(tr)
	runtime.GC()
	if w.Value() != nil {
		t.Fatal("the forgotten endpoint state is still reachable (from the actor's window)")
	}
	if r := tr.actors[keyOf(kSession, "s1")]; r == nil || r.walk == nil || r.walk.ld == 0 {
		t.Fatal("the actor has no open long window")
	}
}

// walkEP is the endpoint key the walk tests read.
const walkEP = 77

// walker returns a tracker with one actor (session s1) and a function
// that has it read object id on walkEP, whose state is st, at the given
// capture time.
func walker() (*Tracker, func(at time.Duration, id int, st *epState)) {
	tr := NewTracker(NewConfig(), "s")
	a := tr.NewAnalyzer()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	r := tr.touch(keyOf(kSession, "s1"), kSession, start)
	return tr, func(at time.Duration, id int, st *epState) {
		o := &Observation{At: start + int64(at), Endpoint: walkEP, Status: 200, ObjectID: fmt.Sprint(id), Object: keyOf(kSession, fmt.Sprint(id))}
		a.walk(r, o, kSession, load{ep: st}, false)
	}
}

// forgetEndpoints fills the endpoint table with other endpoints, so that
// it forgets those it held.
func forgetEndpoints(tr *Tracker) {
	for k := range maxEndpoints {
		tr.endpoint(uint64(1000 + k))
	}
}
