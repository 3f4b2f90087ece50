package discovery

import (
	"encoding/base64"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/identity"
	"github.com/apitap/apitap/internal/testgen/apigen"
	"github.com/apitap/apitap/internal/testgen/txtest"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		seg  string
		want Kind
	}{
		{"users", KindLiteral}, {"me", KindLiteral}, {"v1", KindLiteral}, {"v2beta1", KindLiteral},
		{"8812", KindInt}, {"0", KindInt},
		{"5f0c9a1e-3b2d-4c8e-9f1a-2b3c4d5e6f70", KindUUID},
		{"deadbeefcafe1234", KindHex}, {"DEADBEEF00", KindHex},
		{"2026-03-01", KindDate}, {"2026-03-01T10:00:00Z", KindDate},
		{"jane@example.com", KindEmail},
		{"+14155550123", KindPhone},
		{"cus_8Hk2LmQ9xZ3aBc", KindToken}, {"inv_VJMGZMInreMSPO", KindToken}, {"ord_8812", KindToken},
		{"getUserProfile", KindLiteral}, {"red-running-shoes", KindLiteral}, {"order-items", KindLiteral},
	} {
		if got := classify(c.seg); got != c.want {
			t.Errorf("classify(%q) = %v, want %v", c.seg, got, c.want)
		}
	}
}

func TestParamName(t *testing.T) {
	for _, c := range []struct {
		prev string
		kind Kind
		want string
	}{
		{"users", KindInt, "userId"}, {"categories", KindSlug, "categoryId"}, {"order-items", KindInt, "orderItemId"},
		{"addresses", KindInt, "addressId"}, {"status", KindInt, "statusId"}, {"", KindInt, "id"}, {"v1", KindSlug, "id"},
		{"archive", KindDate, "archiveDate"}, {"payment_intents", KindToken, "paymentIntentId"},
	} {
		if got := paramName(c.prev, c.kind); got != c.want {
			t.Errorf("paramName(%q) = %q, want %q", c.prev, got, c.want)
		}
	}
}

func tx(method, host, target string, status int) *reassembly.Transaction {
	path, query, _ := strings.Cut(target, "?")
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	req := &http1.Request{Method: method, Host: host, Target: target, Path: path, Query: query, Start: at, End: at}
	var resp *http1.Response
	if status > 0 {
		resp = &http1.Response{Status: status, Start: at.Add(time.Millisecond), End: at.Add(time.Millisecond)}
	}
	return &reassembly.Transaction{
		Flow:     reassembly.Flow{Client: netip.MustParseAddrPort("192.0.2.1:5000"), Server: netip.MustParseAddrPort("10.0.0.1:80")},
		Exchange: http1.Exchange{Request: req, Response: resp},
	}
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func paths(v *View) []string {
	var out []string
	for _, ep := range v.Endpoints {
		out = append(out, ep.Method+" "+ep.Host+ep.Path)
	}
	return out
}

// TestTemplates covers the rules one by one.
func TestTemplates(t *testing.T) {
	cat := NewCatalog(NewConfig(), "t")
	o := cat.Observer()
	for i := 0; i < 30; i++ {
		o.Analyze(tx("GET", "api", fmt.Sprintf("/v1/users/%d", 100+i), 200), nil)
		o.Analyze(tx("GET", "api", fmt.Sprintf("/v1/users/%d/orders/5f0c9a1e-3b2d-4c8e-9f1a-2b3c4d5e6f%02d", 100+i, i), 200), nil)
		o.Analyze(tx("GET", "api", "/v1/users/me", 200), nil)
		o.Analyze(tx("GET", "api", fmt.Sprintf("/v2/users/%d", i), 200), nil)
		o.Analyze(tx("GET", "api", fmt.Sprintf("/admin/%x.php", i*7919), 404), nil) // scanner noise
		o.Analyze(tx("GET", "api", "/assets/app.js", 200), nil)                     // static
		o.Analyze(tx("GET", "API:80", "/healthz", 200), nil)                        // host normalised, health
	}
	v := cat.View()
	got := strings.Join(paths(v), "\n")
	want := strings.Join([]string{
		"GET api/healthz",
		"GET api/v1/users/me",
		"GET api/v1/users/{userId}",
		"GET api/v1/users/{userId}/orders/{orderId}",
		"GET api/v2/users/{userId}",
	}, "\n")
	if got != want {
		t.Fatalf("templates:\n%s\nwant:\n%s", got, want)
	}
	if v.Endpoints[0].Kind != "health" {
		t.Errorf("healthz kind %q", v.Endpoints[0].Kind)
	}
	h := v.Hosts[0]
	// the client got 404s on unknown paths: after four it is a scanner for
	// the catalog, and its later misses are probes, not noise endpoints
	if h.Static != 30 || h.Noise != scannerMisses || h.Probes != 30-scannerMisses || h.Calls != 210 {
		t.Errorf("host summary %+v", h)
	}
	j := v.Endpoints[3].JSON(v.Time)
	if len(j.Params) != 2 || j.Params[1].Format != "uuid" || j.Params[0].Type != "integer" {
		t.Errorf("params %+v", j.Params)
	}
}

// TestVersionHeader keeps endpoints of different api-version headers apart.
func TestVersionHeader(t *testing.T) {
	cat := NewCatalog(NewConfig(), "t")
	o := cat.Observer()
	a := tx("GET", "api", "/items", 200)
	a.Request.Headers = []http1.Header{{Name: "Api-Version", Value: "2024-01-01"}}
	b := tx("GET", "api", "/items?api-version=2025-06-01", 200)
	o.Analyze(a, nil)
	o.Analyze(b, nil)
	v := cat.View()
	if len(v.Endpoints) != 2 || v.Endpoints[0].Version != "2024-01-01" || v.Endpoints[1].Version != "2025-06-01" {
		t.Fatalf("versions: %+v", v.Hosts)
	}
	if v.Endpoints[0].ID == v.Endpoints[1].ID {
		t.Error("same id for two versions")
	}
}

// TestAuthAndSchema checks authentication kinds, JWT alg and issuer,
// query types and JSON schema inference, and that no value is kept.
func TestAuthAndSchema(t *testing.T) {
	cat := NewCatalog(NewConfig(), "t")
	o := cat.Observer()
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUiLCJzdWIiOiJqYW5lIn0.c2ln"
	for i := 0; i < 4; i++ {
		x := tx("POST", "api", fmt.Sprintf("/orders?limit=%d&dry=true&email=jane%d@example.com", i, i), 201)
		x.Request.Headers = []http1.Header{{Name: "Authorization", Value: "Bearer " + jwt}, {Name: "Content-Type", Value: "application/json"}}
		x.Request.Body.Data = []byte(fmt.Sprintf(`{"sku":"A-%d","qty":%d,"note":null,"tags":["x"],"ship":{"zip":"9410%d"}}`, i, i, i))
		if i%2 == 0 {
			x.Request.Body.Data = []byte(`{"sku":"B","qty":1.5}`)
		}
		x.Response.Headers = []http1.Header{{Name: "Content-Type", Value: "application/json; charset=utf-8"}}
		x.Response.Body.Data = []byte(`{"id":"5f0c9a1e-3b2d-4c8e-9f1a-2b3c4d5e6f70","created":"2026-01-01T10:00:00Z"}`)
		o.Analyze(x, nil)
	}
	k := tx("GET", "api", "/orders?api_key=SECRETKEY1", 200)
	o.Analyze(k, nil)
	v := cat.View()
	var post, get *EndpointJSON
	for _, ep := range v.Endpoints {
		if ep.Method == "POST" {
			post = ep.JSON(v.Time)
		} else {
			get = ep.JSON(v.Time)
		}
	}
	if post.Auth.Types["bearer_jwt"] != 4 || post.Auth.JWTAlgs[0] != "HS256" || post.Auth.JWTIssuers[0] != "https://id.example" {
		t.Errorf("auth %+v", post.Auth)
	}
	if get.Auth.Types["api_key_query"] != 1 || get.Auth.KeyNames[0] != "query:api_key" {
		t.Errorf("api key auth %+v", get.Auth)
	}
	types := map[string]string{}
	for _, p := range post.Params {
		types[p.Name] = p.Type + "/" + p.Format
	}
	if types["limit"] != "integer/" || types["dry"] != "boolean/" || types["email"] != "string/email" {
		t.Errorf("query types %v", types)
	}
	rs := fmt.Sprint(post.RequestSchema)
	for _, w := range []string{"qty:map[type:number]", "required:[qty sku]", "ship:map[properties:map[zip:map[type:string]]", "x-presence:0.5"} {
		if !strings.Contains(rs, w) {
			t.Errorf("request schema %s lacks %s", rs, w)
		}
	}
	if fmt.Sprint(post.ResponseSchemas["201"]) != "map[properties:map[created:map[format:date-time type:string] id:map[format:uuid type:string]] required:[created id] type:object]" {
		t.Errorf("response schema %v", post.ResponseSchemas["201"])
	}
	all := string(v.JSON("t"))
	for _, secret := range []string{"SECRETKEY1", "jane0@example.com", jwt, "jane", "A-1", "94101"} {
		if strings.Contains(all, secret) {
			t.Errorf("catalog holds the value %q", secret)
		}
	}
}

// TestScannerBounded sprays 1M random paths on one host and 5,000 hosts
// (more than max_hosts):
// the catalog stays within its bounds and its heap stays small.
func TestScannerBounded(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	cfg := NewConfig()
	cfg.MaxHosts = 300 // fewer than the hosts sprayed, in -short too
	cat := NewCatalog(cfg, "t")
	o := cat.Observer()
	rng := rand.New(rand.NewPCG(3, 4))
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := tx("GET", "victim", "/", 404)
	for i := 0; i < n; i++ {
		var b strings.Builder
		for d := 0; d < 1+rng.IntN(5); d++ {
			if rng.IntN(2) == 0 {
				fmt.Fprintf(&b, "/%s%d", []string{"adm", "wp", "x", "cgi", "env"}[rng.IntN(5)], rng.Uint32())
				continue
			}
			b.WriteByte('/') // a random word: a literal until bounds fold it
			for l := 0; l < 4+rng.IntN(8); l++ {
				b.WriteByte(byte('a' + rng.IntN(26)))
			}
		}
		x.Request.Path = b.String()
		x.Request.Method = []string{"GET", "POST", "PROPFIND", "X"}[i%4]
		x.Request.Host = "victim"
		if i%200 == 0 {
			x.Request.Host = fmt.Sprintf("h%d.example", i/200)
		}
		x.Response.Status = 200 + i%3*100 // not only 404: this is no noise
		o.Analyze(x, nil)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	v := cat.View()
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	var victim HostSummary
	for _, h := range v.Hosts {
		if h.Host == "victim" {
			victim = h
		}
	}
	t.Logf("%d random paths: %d hosts kept (%d evicted, %d requests of dropped hosts), victim: %d endpoints, %d segments folded by bounds; heap grew %.1f MB",
		n, len(v.Hosts), v.HostsEvicted, v.HostsDropped, victim.Endpoints, victim.Folded, float64(grown)/1e6)
	if len(v.Hosts) > cfg.MaxHosts || v.HostsDropped+v.HostsEvicted == 0 {
		t.Errorf("hosts %d (max %d), dropped %d, evicted %d", len(v.Hosts), cfg.MaxHosts, v.HostsDropped, v.HostsEvicted)
	}
	if victim.Calls == 0 {
		t.Errorf("the busy host was evicted for hosts with one call")
	}
	if victim.Endpoints > cfg.MaxEndpointsPerHost {
		t.Errorf("victim endpoints %d > %d", victim.Endpoints, cfg.MaxEndpointsPerHost)
	}
	if grown > 400<<20 {
		t.Errorf("heap grew by %d MB", grown>>20)
	}
}

// TestReportChanges emits new endpoints once, again only on change, and
// everything at the end.
func TestReportChanges(t *testing.T) {
	cfg := NewConfig()
	cfg.ReportInterval = time.Minute
	cat := NewCatalog(cfg, "t")
	o := cat.Observer()
	var got []string
	sink := sinkFunc(func(typ, key string, line []byte) {
		s := string(line)
		change := s[strings.Index(s, `"change":"`)+10:]
		got = append(got, change[:strings.IndexByte(change, '"')]+" "+key)
	})
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	o.Analyze(tx("GET", "api", "/a", 200), nil)
	cat.Report(t0, false, sink) // starts the clock
	cat.Report(t0.Add(2*time.Minute), false, sink)
	cat.Report(t0.Add(4*time.Minute), false, sink) // nothing changed
	o.Analyze(tx("GET", "api", "/a", 500), nil)    // a new status code
	cat.Report(t0.Add(6*time.Minute), false, sink)
	cat.Report(t0.Add(7*time.Minute), true, sink)
	id := endpointID("api", "", "GET", "/a")
	want := []string{"new " + id, "changed " + id, "final " + id}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reports %v, want %v", got, want)
	}
}

type sinkFunc func(typ, key string, line []byte)

func (f sinkFunc) Event(typ, key string, line []byte) { f(typ, key, line) }

func (f sinkFunc) Detection(*event.Detection) {}

// BenchmarkAnalyze is the per-transaction cost on typical API traffic
// generated from the shop spec (JSON bodies, bearer JWTs, query strings).
func BenchmarkAnalyze(b *testing.B) {
	doc, err := apigen.Load(filepath.Join("..", "..", "testdata", "specs", "shop.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	g := apigen.New(doc, "api.shop.test", 1)
	txs := make([]*reassembly.Transaction, 4096)
	for i := range txs {
		txs[i], _ = g.Next()
	}
	cat := NewCatalog(NewConfig(), "b")
	o := cat.Observer()
	for _, x := range txs {
		o.Analyze(x, nil) // warm: endpoints exist, as in a running sensor
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o.Analyze(txs[i&4095], nil)
	}
}

// BenchmarkAnalyzeSmallGET is the cost of the most common API call (the
// shape of apitap-bench's small capture).
func BenchmarkAnalyzeSmallGET(b *testing.B) {
	txs := txtest.SmallGETs(500)
	o := NewCatalog(NewConfig(), "b").Observer()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		o.Analyze(txs[i%len(txs)], nil)
	}
}

// BenchmarkView is the cost of one report (merge and templating).
func BenchmarkView(b *testing.B) {
	doc, _ := apigen.Load(filepath.Join("..", "..", "testdata", "specs", "saas.yaml"))
	g := apigen.New(doc, "api", 1)
	cat := NewCatalog(NewConfig(), "b")
	o1, o2 := cat.Observer(), cat.Observer()
	for i := 0; i < 20000; i++ {
		x, _ := g.Next()
		if i%2 == 0 {
			o1.Analyze(x, nil)
		} else {
			o2.Analyze(x, nil)
		}
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		cat.View()
	}
}

func TestSketch(t *testing.T) {
	for _, n := range []int{0, 1, 24, 25, 100, 1000, 20000} {
		var a, b sketch
		for i := 0; i < n; i++ {
			a.add(fmt.Sprint("client-", i))
			b.add(fmt.Sprint("client-", i))
		}
		a.merge(&b)
		got := float64(a.count())
		if n <= 24 && got != float64(n) {
			t.Errorf("%d values: exact count %v", n, got)
		}
		if d := got/float64(max(n, 1)) - 1; n > 0 && (d > 0.2 || d < -0.2) {
			t.Errorf("%d values: estimate %v", n, got)
		}
	}
}

// TestConcurrentObservers: workers record while views render (run with
// -race): the catalog's lock covers both.
func TestConcurrentObservers(t *testing.T) {
	cfg := NewConfig()
	cfg.MaxEndpoints = 500 // evictions too
	cat := NewCatalog(cfg, "t")
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			o := cat.Observer()
			for i := 0; i < 3000; i++ {
				o.Analyze(tx("GET", fmt.Sprintf("h%d-%d.example", w, i%300), fmt.Sprintf("/v1/things/%d", i), 200+i%3*100), nil)
			}
		}(w)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			v := cat.View()
			for _, ep := range v.Endpoints {
				ep.JSON(v.Time)
			}
		}
	}()
	wg.Wait()
	<-done
	if v := cat.View(); len(v.Endpoints) == 0 || v.Evicted == 0 {
		t.Errorf("%d endpoints, %d evicted", len(v.Endpoints), v.Evicted)
	}
}

// TestAuthFromIdentity: the catalog names the Authorization scheme as the
// sensor's one parser does (package identity: numeric subjects, client-id
// tokens, tokens without an algorithm), whether the sensor filled
// tx.Auth or the transaction came without it.
func TestAuthFromIdentity(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	headers := map[string]string{
		"/numeric-sub": "Bearer " + b64([]byte(`{"alg":"RS256"}`)) + "." + b64([]byte(`{"sub":12345,"iss":"https://id.example"}`)) + ".c2ln",
		"/client-only": "Bearer " + b64([]byte(`{"alg":"ES256"}`)) + "." + b64([]byte(`{"client_id":"partner"}`)) + ".c2ln",
		"/no-alg":      "Bearer " + b64([]byte(`{"typ":"JWT"}`)) + "." + b64([]byte(`{"sub":"a"}`)) + ".c2ln",
		"/opaque":      "Bearer 2YotnFZFEjr1zCsicMWpAA",
		"/basic":       "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw")),
		"/digest":      `Digest username="x"`,
	}
	want := map[string]string{"/numeric-sub": "bearer_jwt", "/client-only": "bearer_jwt", "/no-alg": "bearer", "/opaque": "bearer", "/basic": "basic", "/digest": "other"}
	var out [2]string
	for i, filled := range []bool{false, true} {
		cat := NewCatalog(NewConfig(), "t")
		o := cat.Observer()
		var p identity.Parser
		for _, path := range slices.Sorted(maps.Keys(headers)) {
			x := tx("GET", "api", path, 200)
			x.Request.Headers = []http1.Header{{Name: "Authorization", Value: headers[path]}}
			if filled {
				p.Auth(x)
			}
			o.Analyze(x, nil)
		}
		v := cat.View()
		for _, ep := range v.Endpoints {
			j := ep.JSON(v.Time)
			if j.Auth.Types[want[j.Path]] != 1 {
				t.Errorf("filled %v: %s: auth %+v, want %s", filled, j.Path, j.Auth.Types, want[j.Path])
			}
		}
		out[i] = string(v.JSON("t"))
	}
	if out[0] != out[1] {
		t.Error("the catalog differs with tx.Auth filled by the sensor")
	}
}

// TestViewKeptUntilChange: the reports at the end of a run share one
// derivation of the View; any call observed (or a new decorator) makes the
// next View derive again, and a caller's changes to its View stay its own.
func TestViewKeptUntilChange(t *testing.T) {
	cat := NewCatalog(NewConfig(), "t")
	o := cat.Observer()
	for i := 0; i < 30; i++ {
		o.Analyze(tx("GET", "api", fmt.Sprintf("/v1/users/%d", 100+i), 200), nil)
	}
	v1 := cat.View()
	v2 := cat.View()
	if len(v1.Endpoints) != 1 || v1.Endpoints[0] != v2.Endpoints[0] {
		t.Fatalf("two Views of an unchanged catalog derive twice: %v, %v", paths(v1), paths(v2))
	}
	calls := v1.Endpoints[0].Calls()
	// a caller's changes to its copy
	v1.Endpoints[0] = nil
	v1.Endpoints = append(v1.Endpoints, nil)
	v1.Time = time.Time{}
	v1.Hosts[0].Calls = 0
	v3 := cat.View()
	if len(v3.Endpoints) != 1 || v3.Endpoints[0] == nil || v3.Time.IsZero() || v3.Hosts[0].Calls != 30 {
		t.Fatalf("a caller's changes reached the next View: %+v", v3)
	}
	o.Analyze(tx("GET", "api", "/v1/orders", 200), nil)
	v4 := cat.View()
	if got := paths(v4); len(got) != 2 || v4.Endpoints[1] == v2.Endpoints[0] {
		t.Fatalf("View after a new call: %v (the old derivation kept?)", got)
	}
	if v4.Endpoints[1].Calls() != calls {
		t.Fatalf("calls %d, want %d", v4.Endpoints[1].Calls(), calls)
	}
	// the endpoints of a kept View read the live statistics
	o.Analyze(tx("GET", "api", "/v1/users/100", 200), nil)
	if n := v4.Endpoints[1].Calls(); n != calls+1 {
		t.Fatalf("calls after one more: %d, want %d", n, calls+1)
	}
	set := false
	cat.SetDecorator(func(*EndpointJSON) { set = true })
	v5 := cat.View()
	if v5.Endpoints[0] == v4.Endpoints[0] {
		t.Fatal("a new decorator kept the old derivation")
	}
	v5.Endpoints[0].JSON(v5.Time)
	if !set {
		t.Fatal("the decorator was not called")
	}
}

// filterSink wants only some event types (analyzer.EventFilter).
type filterSink struct {
	sinkFunc
	want string
}

func (f filterSink) Wants(typ string) bool { return typ == f.want }

// TestReportSkipsUnwanted: a sink that drops endpoint events gets none
// (and the catalog builds none); one that wants them gets them.
func TestReportSkipsUnwanted(t *testing.T) {
	cat := NewCatalog(NewConfig(), "t")
	cat.Observer().Analyze(tx("GET", "api", "/a", 200), nil)
	n := 0
	count := sinkFunc(func(string, string, []byte) { n++ })
	cat.Report(time.Time{}, true, filterSink{count, "detection"})
	if n != 0 {
		t.Fatalf("%d endpoint events to a sink that drops them", n)
	}
	cat.Report(time.Time{}, true, filterSink{count, "endpoint"})
	if n != 1 {
		t.Fatalf("%d endpoint events, want 1", n)
	}
}

// TestAPIKeyHeadersInCatalog: a request carrying any header of
// identity.APIKeyHeaders (in any casing) is counted as api_key_header.
func TestAPIKeyHeadersInCatalog(t *testing.T) {
	cat := NewCatalog(NewConfig(), "t")
	o := cat.Observer()
	for i, name := range identity.APIKeyHeaders {
		x := tx("GET", "api", fmt.Sprintf("/k%d", i), 200)
		x.Request.Headers = []http1.Header{{Name: strings.ToUpper(name), Value: "k"}}
		o.Analyze(x, nil)
	}
	v := cat.View()
	n := 0
	for _, ep := range v.Endpoints {
		j := ep.JSON(v.Time)
		if j.Auth.Types["api_key_header"] != 1 {
			t.Errorf("%s: auth %+v, want api_key_header", j.Path, j.Auth.Types)
		}
		n++
	}
	if n != len(identity.APIKeyHeaders) {
		t.Errorf("%d endpoints for %d headers", n, len(identity.APIKeyHeaders))
	}
}
