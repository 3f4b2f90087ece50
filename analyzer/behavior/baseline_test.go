package behavior

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/apitap/apitap/reassembly/http1"
)

// TestBuckets: buckets are monotone, every value lies in its bucket, and a
// bucket's upper bound is the value before the next bucket.
func TestBuckets(t *testing.T) {
	prev := 0
	for v := uint32(0); v < 1<<20; v += 1 + v/64 {
		b := bucket(v)
		if b < prev {
			t.Fatalf("bucket(%d) = %d after %d", v, b, prev)
		}
		prev = b
		if float64(v) > upper(b) {
			t.Fatalf("%d above the upper bound %v of its bucket %d", v, upper(b), b)
		}
		if b > 0 && float64(v) <= upper(b-1) {
			t.Fatalf("%d at or below the upper bound %v of the bucket before %d", v, upper(b-1), b)
		}
	}
}

// TestQuantile: the quantiles of a known distribution (within a bucket's
// width), live and ended windows together, the top samples left out, and
// the actor's own open window left out of its peers.
func TestQuantile(t *testing.T) {
	var h hist
	for v := uint32(1); v <= 1000; v++ {
		h.set(0, v, true)
		if v%2 == 0 {
			h.end(v)
		}
	}
	for _, q := range []float64{0.5, 0.9, 0.95} {
		got, ok := h.quantile(q, 30)
		want := q * 1000
		if !ok || got < want || got > want*1.3 {
			t.Errorf("quantile %.2f = %v (%v), want about %v", q, got, ok, want)
		}
	}
	if _, ok := h.quantile(0.5, 2000); ok {
		t.Error("a quantile from fewer samples than asked for")
	}
	var small hist
	for i := 0; i < 40; i++ {
		small.set(0, 10, true)
	}
	for i := 0; i < 3; i++ { // one actor's three busy windows
		small.set(0, 5000, true)
		small.end(5000)
	}
	if v, _ := small.quantile(0.99, 30); v > 20 {
		t.Errorf("q99 of 40 windows of 10 and 3 of 5000 = %v: one actor's few windows made the baseline", v)
	}
	small.set(0, 9000, true) // the actor judged now
	if v, _ := small.quantileOthers(0.99, 30, 9000); v > 20 {
		t.Errorf("quantile without the actor's own window = %v", v)
	}
}

// TestLincount: distinct counts within a few percent up to a thousand,
// exact for a few; a union is the or of two counters.
func TestLincount(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 5, 30, 100, 500, 1000} {
		var l lincount
		for i := 0; i < n; i++ {
			l.add(r.Uint64())
			l.add(r.Uint64() % 7) // repeats
		}
		got := l.estimate()
		lo, hi := float64(n)*0.9, float64(n+7)*1.1
		if float64(got) < lo-1 || float64(got) > hi+1 {
			t.Errorf("%d distinct (and up to 7 repeated): estimate %d", n, got)
		}
	}
	var a, b lincount
	for i := uint64(0); i < 200; i++ {
		a.add(i * 0x9e37)
		b.add((i + 100) * 0x9e37)
	}
	a.or(&b)
	if e := a.estimate(); math.Abs(float64(e)-300) > 20 {
		t.Errorf("union of 200 and 200 sharing 100: %d", e)
	}
}

// TestAgents: client software is classified by its User-Agent; declared
// crawlers are verified against their published ranges.
func TestAgents(t *testing.T) {
	for ua, want := range map[string]agent{
		"": agentNone, chrome: agentBrowser, "curl/8.5.0": agentTool, "ShopApp/5.4 (iOS 17.2) Alamofire/5.8": agentTool,
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0 Safari/537.36": agentAutomation,
		"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)":                                        agentCrawler,
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)":                                  agentCrawler,
		"kube-probe/1.29": agentChecker, "ELB-HealthChecker/2.0": agentChecker, "GoogleHC/1.0": agentChecker,
	} {
		if got, _ := classifyAgent(ua); got != want {
			t.Errorf("classifyAgent(%q) = %s, want %s", ua, agentNames[got], agentNames[want])
		}
	}
	tr := NewTracker(NewConfig(), "t")
	a := tr.NewAnalyzer()
	gb := "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	for _, c := range []struct {
		ip, ua          string
		claims, checked bool
	}{
		{"66.249.66.1", gb, true, true},
		{"203.0.113.9", gb, true, false},
		{"157.55.39.20", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", true, true},
		{"2001:4860:4801:10::1", gb, true, true},
		{"203.0.113.9", "Mozilla/5.0 (compatible; AhrefsBot/7.0)", false, false},
		{"203.0.113.9", chrome, false, false},
	} {
		tx := req{ip: c.ip, method: "GET", path: "/p/1", headers: []http1.Header{{Name: "User-Agent", Value: c.ua}}, status: 200}.tx()
		var o Observation
		a.observe(tx, &o)
		if (o.Crawler >= 0) != c.claims || o.Checked != c.checked {
			t.Errorf("%s %q: crawler %d checked %v", c.ip, c.ua, o.Crawler, o.Checked)
		}
	}
}

// TestHealthChecks: probes of a cluster and its load balancers are set
// aside (never an actor, never abuse); a client calling itself kube-probe
// from outside to other paths is not.
func TestHealthChecks(t *testing.T) {
	tr := NewTracker(NewConfig(), "t")
	a := tr.NewAnalyzer()
	var c collector
	for k := 0; k < 2000; k++ {
		for _, p := range []struct{ ip, ua, path string }{{"10.244.3.7", "kube-probe/1.29", "/healthz"}, {"35.191.10.4", "GoogleHC/1.0", "/readyz"}} {
			a.Analyze(req{at: time.Duration(k) * 2 * time.Second, ip: p.ip, method: "GET", path: p.path, headers: []http1.Header{{Name: "User-Agent", Value: p.ua}}, status: 200, resp: `{"status":"ok"}`}.tx(), &c)
		}
	}
	if len(c.Detections) > 0 || tr.Len() > 0 || tr.HealthChecks() != 4000 {
		t.Errorf("health checks: %d detections, %d actors, %d set aside", len(c.Detections), tr.Len(), tr.HealthChecks())
	}
	a.Analyze(req{ip: "203.0.113.7", method: "GET", path: "/v1/orders/1", headers: []http1.Header{{Name: "User-Agent", Value: "kube-probe/1.29"}}, status: 200}.tx(), &c)
	if tr.Len() != 1 {
		t.Error("a kube-probe User-Agent from outside, to an API path, was set aside")
	}
}

// TestSharedAddress: behind a NAT gateway many users are many actors; the
// gateway's address is never named in their detections (a blocklist keyed
// by address would block everyone behind it), nor treated as one actor.
func TestSharedAddress(t *testing.T) {
	tr := NewTracker(NewConfig(), "t")
	a := tr.NewAnalyzer()
	var c collector
	nat := "198.51.100.77"
	for u := 0; u < 20; u++ {
		a.Analyze(req{at: time.Duration(u) * time.Second, ip: nat, method: "GET", path: "/v1/me", headers: browser(bearer("user" + string(rune('a'+u)))), status: 200, resp: `{}`}.tx(), &c)
	}
	if !tr.shared(addrKey(netip.MustParseAddr(nat))) {
		t.Fatal("20 users behind one address: not shared")
	}
	// one of them walks ids: the detection names the user, not the address
	for id := 0; id < 40; id++ {
		a.Analyze(req{at: time.Minute + time.Duration(id)*time.Second, ip: nat, method: "GET", path: "/v1/invoices/" + string(rune('0'+id/10)) + string(rune('0'+id%10)),
			headers: browser(bearer("mallory")), status: 200, resp: `{"id":1}`}.tx(), &c)
	}
	found := false
	for _, d := range c.Detections {
		if d.Class == "bola" && d.Actor.User == "mallory" {
			found = true
			if d.Actor.IP != "" {
				t.Errorf("the shared address %s named in %+v", d.Actor.IP, d.Actor)
			}
		}
	}
	if !found {
		t.Errorf("no bola detection for mallory: %v", c.Detections)
	}
}

// TestServiceAccount: an API key of a program with machine-regular timing
// becomes a service account, judged against its own history: its steady
// bulk reads of many owners' objects are not bola or exfiltration; twelve
// times its own usual volume is.
func TestServiceAccount(t *testing.T) {
	tr := NewTracker(NewConfig(), "t")
	a := tr.NewAnalyzer()
	var c collector
	key := http1.Header{Name: "X-API-Key", Value: "ak_live_partner_0123456789"}
	hs := []http1.Header{{Name: "User-Agent", Value: "Apache-HttpClient/4.5.14 (Java/17.0.9)"}, key}
	at := time.Duration(0)
	for k := 0; k < 4000; k++ { // 1.5 s apart: 100 minutes
		at += 1500 * time.Millisecond
		r := req{at: at, ip: "54.1.2.3", method: "GET", path: "/v1/orders/" + itoa(500000+k), headers: hs, status: 200,
			resp: `{"id":1,"customer_id":` + itoa(10000+k*7%90000) + `,"email":"x@y.example"}`, sens: true}
		a.Analyze(r.tx(), &c)
	}
	rec := tr.actors[keyOf(kKey, key.Value)]
	if rec == nil || !rec.service {
		t.Fatal("a regular integration's key is not a service account")
	}
	for _, d := range c.Detections {
		t.Errorf("steady integration flagged: %s %s %v", d.Class, d.Severity, d.Evidence)
	}
	c.Detections = nil
	for k := 0; k < 5000; k++ { // the same key suddenly pulls twelve times as much in a window
		at += 150 * time.Millisecond
		r := req{at: at, ip: "54.1.2.3", method: "GET", path: "/v1/orders/" + itoa(600000+k), headers: hs, status: 200,
			resp: `{"id":1,"customer_id":` + itoa(10000+k*7%90000) + `,"email":"x@y.example"}`, sens: true}
		a.Analyze(r.tx(), &c)
	}
	got := map[string]string{}
	for _, d := range c.Detections {
		got[d.Class] = d.Severity
	}
	if got["exfiltration"] == "" {
		t.Errorf("twelve times its usual volume not detected: %v", got)
	}
	if got["exfiltration"] == "high" || got["bola"] == "high" {
		t.Errorf("a service's deviation from its own history is medium at most: %v", got)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
