package behavior

import (
	"encoding/base64"
	"fmt"
	"github.com/apitap/apitap/internal/testutil/analyzertest"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// collector gathers detections.
type collector = analyzertest.Collector

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func jwt(sub string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(`{"sub":"`+sub+`","iat":1700000000}`)) + ".c2lnbmF0dXJl"
}

const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"

// req is one synthetic transaction.
type req struct {
	at      time.Duration
	ip      string
	method  string
	path    string
	headers []http1.Header
	body    string
	status  int
	resp    string
	sens    bool // the response carries sensitive data
	attack  bool // the attack analyzer flagged the request (a scanner probe)
	gqlOps  int  // a GraphQL request that carried this many operations (Notes.GraphQL)
}

func (r req) tx() *reassembly.Transaction {
	host := "api.test.example"
	start := t0.Add(r.at)
	tx := &reassembly.Transaction{Flow: reassembly.Flow{Client: netip.AddrPortFrom(netip.MustParseAddr(r.ip), 40000), Server: netip.MustParseAddrPort("10.9.0.1:80")}}
	p, q, _ := strings.Cut(r.path, "?")
	tx.Request = &http1.Request{Method: r.method, Target: r.path, Path: p, Query: q, Host: host, Proto: "HTTP/1.1", Headers: r.headers, Body: http1.Body{Data: []byte(r.body), WireBytes: int64(len(r.body))}, Start: start, End: start}
	tx.Response = &http1.Response{Status: r.status, Proto: "HTTP/1.1", Body: http1.Body{Data: []byte(r.resp), WireBytes: int64(len(r.resp))}, Start: start.Add(time.Millisecond), End: start.Add(2 * time.Millisecond)}
	if r.attack {
		tx.Notes.Attacks = scannerBit
	}
	if r.sens {
		tx.Notes.SensitiveResponse = event.SensitiveBit("email") | event.SensitiveBit("phone")
	}
	if r.gqlOps > 0 {
		tx.Notes.GraphQL = &reassembly.GraphQLNote{Operations: r.gqlOps}
	}
	return tx
}

func browser(extra ...http1.Header) []http1.Header {
	return append([]http1.Header{{Name: "Host", Value: "api.test.example"}, {Name: "User-Agent", Value: chrome}, {Name: "Accept", Value: "application/json"},
		{Name: "Accept-Language", Value: "en-US,en;q=0.9"}, {Name: "Accept-Encoding", Value: "gzip, deflate, br"}}, extra...)
}

func bearer(sub string) http1.Header {
	return http1.Header{Name: "Authorization", Value: "Bearer " + jwt(sub)}
}

func loginReq(at time.Duration, ip, user string, ok bool, hs []http1.Header) req {
	r := req{at: at, ip: ip, method: "POST", path: "/v1/login", headers: append(hs, http1.Header{Name: "Content-Type", Value: "application/json"}),
		body: fmt.Sprintf(`{"username":%q,"password":"x%d"}`, user, int(at)%997), status: 401, resp: `{"error":"invalid credentials"}`}
	if ok {
		r.status, r.resp = 200, `{"token":"`+jwt(user)+`"}`
	}
	return r
}

// scenario is labelled abuse: the class it must raise and how to tell
// its actor in a detection.
type scenario struct {
	name, class string
	actor       func(a event.Actor) bool
	reqs        []req
}

func ipIs(ips ...string) func(event.Actor) bool {
	return func(a event.Actor) bool { return slices.Contains(ips, a.IP) }
}

func userIs(u string) func(event.Actor) bool { return func(a event.Actor) bool { return a.User == u } }

// background is ordinary traffic: 200 users behind 20 NAT addresses,
// bursty but benign clients, a partner polling with an API key, an
// allowlisted crawler, users who mistype their password.
func background(r *rand.Rand) []req {
	var out []req
	for u := 0; u < 200; u++ {
		ip := fmt.Sprintf("100.64.0.%d", 1+u%20)
		sub := fmt.Sprintf("user%03d", u)
		hs := browser(bearer(sub))
		start := time.Duration(r.IntN(1800)) * time.Second
		n := 20 + r.IntN(60)
		if u%50 == 0 {
			n = 250 // a bursty power user: 250 calls in about a minute
		}
		if u%7 == 0 { // logs in, sometimes after a typo or two
			for k := 0; k < u%3; k++ {
				out = append(out, loginReq(start-time.Duration(10+k)*time.Second, ip, sub+"@corp.example", false, browser()))
			}
			out = append(out, loginReq(start-5*time.Second, ip, sub+"@corp.example", true, browser()))
		}
		at := start
		for k := 0; k < n; k++ {
			if u%50 == 0 {
				at += time.Duration(100+r.IntN(300)) * time.Millisecond
			} else {
				at += time.Duration(1+r.IntN(40)) * time.Second
			}
			switch r.IntN(5) {
			case 0:
				out = append(out, req{at: at, ip: ip, method: "GET", path: fmt.Sprintf("/v1/users/%d", 1000+u), headers: hs, status: 200,
					resp: fmt.Sprintf(`{"id":%d,"email":"%s@corp.example"}`, 1000+u, sub), sens: true})
			case 1: // own orders: the owner is the user
				out = append(out, req{at: at, ip: ip, method: "GET", path: fmt.Sprintf("/v1/orders/%d", 50000+u*10+r.IntN(5)), headers: hs, status: 200,
					resp: fmt.Sprintf(`{"id":1,"user_id":%d,"total":12.5}`, 1000+u)})
			case 2: // products of many sellers
				out = append(out, req{at: at, ip: ip, method: "GET", path: fmt.Sprintf("/v1/products/%d", 1+r.IntN(500)), headers: hs, status: 200,
					resp: fmt.Sprintf(`{"id":3,"seller_id":%d,"name":"Lamp"}`, r.IntN(90))})
			case 3:
				out = append(out, req{at: at, ip: ip, method: "GET", path: fmt.Sprintf("/v1/products?page=%d", 1+r.IntN(9)), headers: hs, status: 200, resp: `[{"id":1}]`})
			default:
				out = append(out, req{at: at, ip: ip, method: "POST", path: "/v1/cart", headers: hs, body: `{"sku":"A1","qty":1}`, status: 201, resp: `{"ok":true}`})
			}
		}
	}
	// a partner polling every 10 s with an API key and a library client
	for k := 0; k < 180; k++ {
		out = append(out, req{at: time.Duration(k) * 10 * time.Second, ip: "198.18.0.5", method: "GET", path: "/v1/orders?since=1",
			headers: []http1.Header{{Name: "User-Agent", Value: "python-requests/2.31.0"}, {Name: "X-API-Key", Value: "pk_live_partner_0001"}}, status: 200, resp: `[]`})
	}
	// a crawler that is allowed, walking products at a steady pace
	for k := 0; k < 300; k++ {
		out = append(out, req{at: time.Duration(k) * 3 * time.Second, ip: "66.249.66.1", method: "GET", path: fmt.Sprintf("/v1/products/%d", k),
			headers: []http1.Header{{Name: "User-Agent", Value: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}}, status: 200, resp: `{"id":1}`})
	}
	return out
}

func scenarios() []scenario {
	var s []scenario
	tool := []http1.Header{{Name: "User-Agent", Value: "python-requests/2.31.0"}, {Name: "Accept", Value: "*/*"}}
	{ // one address, many usernames
		var rs []req
		for k := 0; k < 40; k++ {
			rs = append(rs, loginReq(600*time.Second+time.Duration(k)*700*time.Millisecond, "203.0.113.5", fmt.Sprintf("victim%02d@mail.example", k), k == 39, tool))
		}
		s = append(s, scenario{"stuffing one address", "credential_stuffing", ipIs("203.0.113.5"), rs})
	}
	{ // six addresses, one tool, 4 usernames each
		var rs []req
		ips := []string{"203.0.113.20", "203.0.113.21", "203.0.113.22", "203.0.113.23", "203.0.113.24", "203.0.113.25"}
		for i, ip := range ips {
			for k := 0; k < 4; k++ {
				rs = append(rs, loginReq(900*time.Second+time.Duration(i*4+k)*2*time.Second, ip, fmt.Sprintf("spread%02d@mail.example", i*4+k), false, []http1.Header{{Name: "User-Agent", Value: "Go-http-client/1.1"}, {Name: "X-Requested-With", Value: "x"}}))
			}
		}
		s = append(s, scenario{"stuffing spread over addresses", "credential_stuffing", ipIs(ips...), rs})
	}
	{ // one username, many passwords
		var rs []req
		for k := 0; k < 30; k++ {
			rs = append(rs, loginReq(1000*time.Second+time.Duration(k)*time.Second, "203.0.113.40", "alice", false, tool))
		}
		s = append(s, scenario{"brute force", "brute_force", ipIs("203.0.113.40"), rs})
	}
	{ // failures, then in
		var rs []req
		for k := 0; k < 8; k++ {
			rs = append(rs, loginReq(1200*time.Second+time.Duration(k)*3*time.Second, "203.0.113.50", "bob", k == 7, tool))
		}
		s = append(s, scenario{"account takeover", "account_takeover", ipIs("203.0.113.50"), rs})
	}
	{ // id walking
		var rs []req
		for id := 9000; id < 9040; id++ {
			rs = append(rs, req{at: 1300*time.Second + time.Duration(id-9000)*200*time.Millisecond, ip: "100.64.0.3", method: "GET", path: fmt.Sprintf("/v1/invoices/%d", id),
				headers: browser(bearer("mallory")), status: 200, resp: `{"id":1,"amount":3}`})
		}
		s = append(s, scenario{"bola enumeration", "bola", userIs("mallory"), rs})
	}
	{ // objects of other owners, by uuid
		var rs []req
		for k := 0; k < 8; k++ {
			rs = append(rs, req{at: 1400*time.Second + time.Duration(k)*5*time.Second, ip: "100.64.0.4", method: "GET", path: fmt.Sprintf("/v1/documents/%08x-1111-4222-8333-%012x", k+1, k*77),
				headers: browser(bearer("eve")), status: 200, resp: fmt.Sprintf(`{"id":"d","owner_id":"u-%d","title":"x"}`, 300+k)})
		}
		s = append(s, scenario{"bola other owners", "bola", userIs("eve"), rs})
	}
	{ // hammering with an API key
		var rs []req
		for k := 0; k < 1000; k++ {
			rs = append(rs, req{at: 1500*time.Second + time.Duration(k)*50*time.Millisecond, ip: "198.18.0.9", method: "GET", path: "/v1/products?page=1",
				headers: []http1.Header{{Name: "User-Agent", Value: "okhttp/4.12.0"}, {Name: "X-API-Key", Value: "pk_live_abuser_42"}}, status: 200, resp: `[]`})
		}
		s = append(s, scenario{"rate abuse", "rate_abuse", ipIs("198.18.0.9"), rs})
	}
	{ // a browser User-Agent without browser headers
		var rs []req
		for k := 0; k < 100; k++ {
			rs = append(rs, req{at: 1600*time.Second + time.Duration(k)*1500*time.Millisecond, ip: "203.0.113.60", method: "GET", path: fmt.Sprintf("/v1/products/%d", k),
				headers: []http1.Header{{Name: "User-Agent", Value: chrome}}, status: 200, resp: `{"id":1}`})
		}
		s = append(s, scenario{"bot spoofed browser", "bot", ipIs("203.0.113.60"), rs})
	}
	{ // curl every 2 s
		var rs []req
		for k := 0; k < 100; k++ {
			rs = append(rs, req{at: 1700*time.Second + time.Duration(k)*2*time.Second, ip: "203.0.113.70", method: "GET", path: "/v1/products?page=2",
				headers: []http1.Header{{Name: "User-Agent", Value: "curl/8.5.0"}, {Name: "Accept", Value: "*/*"}}, status: 200, resp: `[]`})
		}
		s = append(s, scenario{"bot regular tool", "bot", ipIs("203.0.113.70"), rs})
	}
	{ // many customer records to one user
		var rs []req
		for k := 0; k < 150; k++ {
			rs = append(rs, req{at: 1800*time.Second + time.Duration(k)*2*time.Second, ip: "100.64.0.9", method: "GET", path: fmt.Sprintf("/v1/customers?page=%d", k),
				headers: browser(bearer("exporter")), status: 200, resp: `[{"email":"x"}]`, sens: true})
		}
		s = append(s, scenario{"exfiltration", "exfiltration", userIs("exporter"), rs})
	}
	{ // a scraper reading the product catalog
		var rs []req
		for k := 1; k <= 150; k++ {
			rs = append(rs, req{at: 1900*time.Second + time.Duration(k)*4*time.Second, ip: "203.0.113.80", method: "GET", path: fmt.Sprintf("/v1/products/%d", k),
				headers: tool, status: 200, resp: `{"id":1,"name":"Lamp"}`})
		}
		s = append(s, scenario{"scraping", "scraping", ipIs("203.0.113.80"), rs})
	}
	{ // a flood against search from 60 addresses, answered 503
		var rs []req
		for k := 0; k < 10*20; k++ { // the usual: 20 a minute
			rs = append(rs, req{at: 300*time.Second + time.Duration(k)*3*time.Second, ip: "100.64.0.7", method: "GET", path: "/v1/search?q=lamp", headers: browser(), status: 200, resp: `[]`})
		}
		var ips []string
		for k := 0; k < 2000; k++ {
			ip := fmt.Sprintf("198.51.100.%d", 10+k%60)
			if k < 60 {
				ips = append(ips, ip)
			}
			rs = append(rs, req{at: 960*time.Second + time.Duration(k)*25*time.Millisecond, ip: ip, method: "GET", path: "/v1/search?q=" + fmt.Sprint(k), headers: tool, status: 503, resp: `{"error":"overloaded"}`})
		}
		s = append(s, scenario{"dos", "dos", ipIs(ips...), rs})
	}
	{ // a probe every 10 minutes for five hours, one tool, rotating addresses
		var rs []req
		var ips []string
		for k := 0; k < 30; k++ {
			ip := fmt.Sprintf("192.0.2.%d", 100+k%10)
			ips = append(ips, ip)
			rs = append(rs, req{at: time.Duration(k) * 10 * time.Minute, ip: ip, method: "GET", path: fmt.Sprintf("/backup-%d.zip", k),
				headers: []http1.Header{{Name: "User-Agent", Value: "Mozilla/5.0 (compatible; Nimbostratus-Bot/v1.3.2)"}}, status: 404, resp: `{}`, attack: true})
		}
		s = append(s, scenario{"low and slow", "low_and_slow", ipIs(ips...), rs})
	}
	{ // password resets tell known from unknown addresses
		var rs []req
		for k := 0; k < 30; k++ {
			status, resp := 404, `{"error":"unknown email"}`
			if k%10 == 3 {
				status, resp = 200, `{"status":"sent"}`
			}
			rs = append(rs, req{at: 2000*time.Second + time.Duration(k)*2*time.Second, ip: "203.0.113.90", method: "POST", path: "/v1/password/reset",
				headers: append(tool, http1.Header{Name: "Content-Type", Value: "application/json"}), body: fmt.Sprintf(`{"email":"who%02d@mail.example"}`, k), status: status, resp: resp})
		}
		s = append(s, scenario{"user enumeration", "user_enumeration", ipIs("203.0.113.90"), rs})
	}
	{ // an ordinary user that reaches an admin function
		var rs []req
		for k := 0; k < 30; k++ {
			rs = append(rs, req{at: 2100*time.Second + time.Duration(k)*5*time.Second, ip: "100.64.0.11", method: "GET", path: "/v1/users/4242", headers: browser(bearer("trudy")), status: 200, resp: `{"id":4242}`})
		}
		rs = append(rs, req{at: 2300 * time.Second, ip: "100.64.0.11", method: "POST", path: "/v1/admin/users/7/reset", headers: browser(bearer("trudy")), status: 200, resp: `{"ok":true}`})
		s = append(s, scenario{"function-level authorization", "bola", userIs("trudy"), rs})
	}
	{ // a profile update that makes its author an admin
		rs := []req{{at: 2400 * time.Second, ip: "100.64.0.12", method: "PATCH", path: "/v1/users/4343", headers: browser(bearer("oscar")),
			body: `{"name":"Oscar","role":"admin"}`, status: 200, resp: `{"id":4343,"name":"Oscar","role":"admin"}`}}
		s = append(s, scenario{"mass assignment", "bola", userIs("oscar"), rs})
	}
	return s
}

// run feeds requests in capture-time order.
func run(t testing.TB, cfg *Config, reqs []req) (*Tracker, []event.Detection) {
	sort.SliceStable(reqs, func(i, j int) bool { return reqs[i].at < reqs[j].at })
	tr := NewTracker(cfg, "test")
	w := tr.NewAnalyzer()
	var c collector
	for _, r := range reqs {
		w.Analyze(r.tx(), &c)
	}
	return tr, c.Detections
}

// TestScenarios mixes labelled abuse into ordinary traffic: every
// scenario is detected with its actor, within 60 s of capture time of
// its last request, and no ordinary actor gets a high-severity detection.
func TestScenarios(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { scenarioRun(t, seed) })
	}
}

func scenarioRun(t *testing.T, seed uint64) {
	cfg := NewConfig()
	cfg.Allowlist = []string{"ua:Googlebot"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	reqs := background(rand.New(rand.NewPCG(seed, 9)))
	sc := scenarios()
	for _, s := range sc {
		reqs = append(reqs, s.reqs...)
	}
	tr, dets := run(t, cfg, reqs)
	found := map[string]int{}
	total := map[string]int{}
	for _, s := range sc {
		total[s.class]++
		last := t0
		for _, r := range s.reqs {
			if at := t0.Add(r.at); at.After(last) {
				last = at
			}
		}
		ok := false
		for _, d := range dets {
			if d.Class == s.class && s.actor(d.Actor) && d.LastSeen.Sub(last) <= 60*time.Second {
				ok = true
			}
		}
		if ok {
			found[s.class]++
		} else {
			t.Errorf("scenario %q: no %s detection for its actor", s.name, s.class)
		}
	}
	fp := map[string]int{}
	for _, d := range dets {
		mine := false
		for _, s := range sc {
			if s.actor(d.Actor) {
				mine = true
			}
		}
		if !mine {
			fp[d.Class]++
			if d.Severity == "high" || d.Severity == "critical" {
				t.Errorf("benign actor with a %s detection: %+v", d.Severity, d)
			}
		}
	}
	classes := slices.Sorted(maps.Keys(total))
	for _, c := range classes {
		t.Logf("%-20s recall %d/%d = %.2f, false positives %d", c, found[c], total[c], float64(found[c])/float64(total[c]), fp[c])
	}
	for c, n := range fp {
		if total[c] == 0 {
			t.Logf("%-20s (no scenario) false positives %d", c, n)
		}
	}
	t.Logf("%d transactions, %d detections, %d actors", len(reqs), len(dets), tr.Len())
	top := tr.Top(5, t0.Add(time.Hour))
	for _, a := range top {
		t.Logf("top: %-32s score %5.1f stage %-12s %v", a.Name(), a.Score, a.Stage, a.Detections)
	}
	if len(top) == 0 {
		t.Fatal("no actor with a score")
	}
}

// TestDeterministic: the same input gives the same detections.
func TestDeterministic(t *testing.T) {
	reqs := background(rand.New(rand.NewPCG(1, 2)))
	for _, s := range scenarios() {
		reqs = append(reqs, s.reqs...)
	}
	_, a := run(t, NewConfig(), slices.Clone(reqs))
	_, b := run(t, NewConfig(), slices.Clone(reqs))
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("two runs over the same input differ")
	}
}
