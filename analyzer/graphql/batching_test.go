package graphql_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/vocab"
	"github.com/apitap/apitap/internal/testgen/pcapgen"
	"github.com/apitap/apitap/internal/testutil/gqltest"
	"github.com/apitap/apitap/internal/testutil/netrec"
	"github.com/apitap/apitap/reassembly"
)

// scenario drives the real GraphQL server (gqltest) with actors, each
// from its own address, and returns the capture: each actor's connections
// one after the other, a second apart.
type scenario struct {
	t      *testing.T
	srv    *httptest.Server
	actors []*gqlActor
}

type gqlActor struct {
	s      *scenario
	ip     netip.Addr
	rec    *netrec.Recorder
	client *http.Client
	ua     string
}

func newScenario(t *testing.T) *scenario {
	s := &scenario{t: t, srv: httptest.NewServer(gqltest.Handler())}
	t.Cleanup(s.srv.Close)
	return s
}

func (s *scenario) actor(ip, ua string) *gqlActor {
	rec := &netrec.Recorder{}
	a := &gqlActor{s: s, ip: netip.MustParseAddr(ip), rec: rec, ua: ua,
		client: &http.Client{Transport: &http.Transport{DialContext: rec.Dial, MaxIdleConnsPerHost: 1}}}
	s.actors = append(s.actors, a)
	return a
}

// post sends one GraphQL request (an object or a batch).
func (a *gqlActor) post(body any) {
	a.s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", a.s.srv.URL+"/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", a.ua)
	if strings.HasPrefix(a.ua, "Mozilla/") { // a browser sends its languages
		req.Header.Set("Accept", "application/graphql-response+json, application/json")
		req.Header.Set("Accept-Language", "en-US,en;q=0.9")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.s.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func (s *scenario) packets() []pcapgen.Packet {
	for _, a := range s.actors {
		a.client.CloseIdleConnections()
	}
	var out []pcapgen.Packet
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i, a := range s.actors {
		out = append(out, a.rec.Packets(a.ip, netip.MustParseAddrPort("10.0.4.10:80"), start.Add(time.Duration(i)*time.Second))...)
	}
	return out
}

const loginQuery = `mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { token } }`

func login(email, password string) map[string]any {
	return map[string]any{"query": loginQuery, "operationName": "Login", "variables": map[string]any{"email": email, "password": password}}
}

// benign pages: what a web client asks on each page (operation name and
// query; the server's shop schema).
var pages = [][]map[string]any{
	{{"query": `query GetMe { me { id name email } }`, "operationName": "GetMe"}, {"query": `query Products { products(first: 5) { sku name price } }`, "operationName": "Products"}},
	{{"query": `query Product($sku: String!) { product(sku: $sku) { sku name price } }`, "operationName": "Product", "variables": map[string]any{"sku": "SKU-101"}},
		{"query": `query GetMe { me { id name email } }`, "operationName": "GetMe"}, {"query": `query Products { products(first: 5) { sku name price } }`, "operationName": "Products"}},
	{{"query": `mutation AddToCart($sku: String!, $qty: Int) { addToCart(sku: $sku, qty: $qty) { id total } }`, "operationName": "AddToCart", "variables": map[string]any{"sku": "SKU-102", "qty": 1}},
		{"query": `query GetMe { me { id name email } }`, "operationName": "GetMe"}},
}

// benignTraffic: 12 shoppers on their own addresses and an office NAT
// with 8 shoppers behind it. Each logs in (one in four mistypes the
// password first, as people do), then browses three pages. batched: a
// client sends each page's operations in one request, and the office's
// shoppers log in together in one batch (a gateway that batches).
func benignTraffic(s *scenario, batched bool) {
	type shopper struct {
		a    *gqlActor
		user string
		typo bool
	}
	var list []shopper
	for i := 0; i < 12; i++ {
		a := s.actor(fmt.Sprintf("198.51.100.%d", 10+i), "Mozilla/5.0 (Macintosh) Chrome/131.0 apollo-client/3.11")
		list = append(list, shopper{a, fmt.Sprintf("user%d@shop.example", i+1), i%4 == 0})
	}
	office := s.actor("203.0.113.50", "Mozilla/5.0 (Windows NT 10.0) Firefox/133.0")
	var officeLogins []map[string]any
	for i := 0; i < 8; i++ {
		user := fmt.Sprintf("staff%d@shop.example", i+1)
		if i%4 == 1 {
			officeLogins = append(officeLogins, login(user, "correct hrose"))
		}
		officeLogins = append(officeLogins, login(user, "correct horse"))
	}
	if batched {
		office.post(officeLogins)
	} else {
		for _, l := range officeLogins {
			office.post(l)
		}
	}
	for _, sh := range list {
		if sh.typo {
			sh.a.post(login(sh.user, "correct hrose"))
		}
		sh.a.post(login(sh.user, "correct horse"))
		for _, p := range pages {
			if batched {
				sh.a.post(p)
				office.post(p)
				continue
			}
			for _, op := range p {
				sh.a.post(op)
				office.post(op)
			}
		}
	}
}

// stuffingBatched: 60 leaked e-mail/password pairs in 6 requests of 10
// login mutations each.
func stuffingBatched(s *scenario) {
	a := s.actor("192.0.2.66", "python-requests/2.32")
	for r := 0; r < 6; r++ {
		var batch []map[string]any
		for k := 0; k < 10; k++ {
			batch = append(batch, login(fmt.Sprintf("victim%d@mail.example", r*10+k), fmt.Sprintf("Summer%d!", 2000+r*10+k)))
		}
		a.post(batch)
	}
}

// stuffingAliased: 60 pairs in 3 requests of one operation selecting
// login under 20 aliases.
func stuffingAliased(s *scenario) {
	a := s.actor("192.0.2.67", "python-requests/2.32")
	for r := 0; r < 3; r++ {
		var b strings.Builder
		b.WriteString("mutation {")
		for k := 0; k < 20; k++ {
			fmt.Fprintf(&b, ` a%d: login(email: "victim%d@mail.example", password: "Winter%d!") { token }`, k, r*20+k, 2000+k)
		}
		b.WriteString(" }")
		a.post(map[string]any{"query": b.String()})
	}
}

// tally is what one run counted and detected.
type tally struct {
	requests, ops, logins, failed int
	abuse                         map[string][]string // class -> actor addresses
}

func runScenario(t *testing.T, pkts []pcapgen.Packet, analyzers ...string) tally {
	t.Helper()
	chain := chainOf(t, analyzers...)
	tl := tally{abuse: map[string][]string{}}
	col := &collect{}
	replay(t, pkts, func(tx *reassembly.Transaction) {
		tx.Notes = reassembly.Notes{}
		chain.Analyze(tx, col)
		tl.requests++
		if g := tx.Notes.GraphQL; g != nil {
			tl.ops += g.Operations
			tl.logins += len(g.Logins)
			for _, l := range g.Logins {
				if l.Failed {
					tl.failed++
				}
			}
		} else {
			tl.ops++
		}
	})
	for _, d := range col.dets {
		if slices.Contains(vocab.AbuseClasses, d.Class) && !slices.Contains(tl.abuse[d.Class], d.Actor.IP) {
			tl.abuse[d.Class] = append(tl.abuse[d.Class], d.Actor.IP)
		}
	}
	for _, v := range tl.abuse {
		sort.Strings(v)
	}
	return tl
}

type collect struct{ dets []event.Detection }

func (c *collect) Detection(d *event.Detection) { c.dets = append(c.dets, *d) }
func (c *collect) Fold(_ analyzer.FoldSpec, _ analyzer.FoldKey, d *event.Detection) {
	c.dets = append(c.dets, *d)
}

// TestGraphQLBatchedStuffing: credential stuffing hidden in batched
// GraphQL requests against a real server (graph-gophers/graphql-go): a
// batch of N login mutations, or one login field under N aliases, counts
// as N attempts with the outcome the server gave each (a null login),
// and is detected from a handful of HTTP requests; the same benign
// traffic (shoppers, an office NAT whose gateway batches logins, a few
// mistyped passwords) sent one operation per request or batched raises
// no behaviour detection.
func TestGraphQLBatchedStuffing(t *testing.T) {
	all := []string{"sensitive", "attack", "graphql", "behavior"}
	for _, batched := range []bool{false, true} {
		s := newScenario(t)
		benignTraffic(s, batched)
		tl := runScenario(t, s.packets(), all...)
		t.Logf("benign, batched=%v: %d HTTP requests, %d operations, %d GraphQL login attempts counted (%d failed), behaviour detections %v",
			batched, tl.requests, tl.ops, tl.logins, tl.failed, tl.abuse)
		if len(tl.abuse) != 0 {
			t.Errorf("benign traffic (batched=%v) flagged: %v", batched, tl.abuse)
		}
	}
	for _, tc := range []struct {
		name   string
		attack func(*scenario)
		ip     string
	}{{"batch", stuffingBatched, "192.0.2.66"}, {"aliases", stuffingAliased, "192.0.2.67"}} {
		for _, batched := range []bool{false, true} {
			s := newScenario(t)
			benignTraffic(s, batched)
			tc.attack(s)
			pkts := s.packets()
			tl := runScenario(t, pkts, all...)
			t.Logf("stuffing by %s, benign batched=%v: %d HTTP requests, %d operations, %d GraphQL login attempts counted (%d failed), behaviour detections %v",
				tc.name, batched, tl.requests, tl.ops, tl.logins, tl.failed, tl.abuse)
			if got := tl.abuse["credential_stuffing"]; !slices.Equal(got, []string{tc.ip}) {
				t.Errorf("%s: credential_stuffing on %v, want [%s]", tc.name, got, tc.ip)
			}
			for class, ips := range tl.abuse {
				for _, ip := range ips {
					if ip != tc.ip {
						t.Errorf("%s: benign %s flagged %s", tc.name, ip, class)
					}
				}
			}
			if !batched {
				// without the graphql analyzer's note each request is one
				// request and no login: the campaign goes unseen
				bare := runScenario(t, pkts, "sensitive", "attack", "behavior")
				t.Logf("stuffing by %s without the graphql analyzer: %d HTTP requests counted as %d operations, behaviour detections %v", tc.name, bare.requests, bare.ops, bare.abuse)
				if len(bare.abuse["credential_stuffing"]) != 0 {
					t.Errorf("%s: detected without the note: the test does not measure the counting", tc.name)
				}
			}
		}
	}
}
