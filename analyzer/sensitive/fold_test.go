package sensitive

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/reassembly"
)

// foldRun runs transactions through the split analyzer and, as the
// truth it must agree with, discovery's catalog. Only learning scans
// responses (sample_every is huge), so a response is scanned when its
// endpoint is new or odd.
type foldRun struct {
	t   *testing.T
	s   *split
	cat *discovery.Catalog
	n   int // transactions run: each on a connection of its own
}

func newFoldRun(t *testing.T) *foldRun {
	cfg := NewConfig()
	cfg.SampleEvery, cfg.HotSampleEvery = 1<<20, 1<<20
	return &foldRun{t: t, s: newSplit(t, cfg), cat: discovery.NewCatalog(discovery.NewConfig(), "t")}
}

// do runs one request answered 200 with JSON body; it returns the
// transaction.
func (f *foldRun) do(host, method, path, body string) *reassembly.Transaction {
	f.n++
	tx := mktx(method, path, nil, "", 200, jsonCT, body)
	tx.Request.Host = host
	tx.Request.Target = path
	tx.Flow.ID, tx.Response.Body.WireBytes = fmt.Sprintf("conn-%d", f.n), int64(len(body))
	tx.Flow.Client = client(f.n)
	f.s.run(tx)
	f.cat.Observe(tx)
	return tx
}

// lastPath is the endpoint path of the last sensitive_data detection.
func (f *foldRun) lastPath() string {
	for i := len(f.s.c.Detections) - 1; i >= 0; i-- {
		if d := f.s.c.Detections[i]; d.Class == "sensitive_data" {
			return d.Endpoint.Host + " " + d.Endpoint.Method + " " + d.Endpoint.Path
		}
	}
	return ""
}

// inCatalog says whether the catalog has the endpoint (host method path).
func (f *foldRun) inCatalog(ep string) bool {
	var all []string
	for _, e := range f.cat.View().Endpoints {
		k := e.Host + " " + e.Method + " " + e.Path
		if k == ep {
			return true
		}
		all = append(all, k)
	}
	f.t.Logf("catalog: %s", strings.Join(all, ", "))
	return false
}

// filler is a response without sensitive data, larger than profile: an
// endpoint learned on it finds nothing odd in profile.
const filler = `{"id":7,"name":"Jane","plan":"pro","note":"nothing sensitive in here at all"}`

func slug(i int) string { return fmt.Sprintf("post-number-%c%c", 'a'+i%26, 'a'+i/26%26) }

// TestFoldPerHost: a position folds for its host only, as the catalog
// keeps a tree per host: one host's slugs do not fold another host's
// resources (their detection paths and their learning).
func TestFoldPerHost(t *testing.T) {
	f := newFoldRun(t)
	for i := 0; i < 60; i++ {
		f.do("blog.example", "GET", "/api/"+slug(i), filler)
	}
	if p := f.lastPath(); p != "" {
		t.Fatalf("unexpected detection %s", p)
	}
	for _, r := range []string{"users", "orders"} {
		tx := f.do("shop.example", "GET", "/api/"+r, profile)
		if !tx.Notes.ResponseScanned {
			t.Errorf("the first response of shop.example /api/%s was not scanned", r)
		}
		want := "shop.example GET /api/" + r
		if got := f.lastPath(); got != want || !f.inCatalog(want) {
			t.Errorf("detection on %q, want %q (in the catalog: %v)", got, want, f.inCatalog(want))
		}
	}
}

// TestFoldKeepsWords: API versions and well-known words (me, search) stay
// literal at a folded position, as in the catalog.
func TestFoldKeepsWords(t *testing.T) {
	f := newFoldRun(t)
	for i := 0; i < 60; i++ {
		f.do("api.example", "GET", "/users/"+slug(i), filler)
	}
	for _, p := range []string{"/users/me", "/users/v2/profile"} {
		tx := f.do("api.example", "GET", p, profile)
		want := "api.example GET " + p
		if got := f.lastPath(); got != want || !f.inCatalog(want) || !tx.Notes.ResponseScanned {
			t.Errorf("detection on %q, want %q (in the catalog: %v, scanned: %v)", got, want, f.inCatalog(want), tx.Notes.ResponseScanned)
		}
	}
}

// TestFoldNotGRPC: the methods of a service called with JSON (Connect,
// gRPC-Web with JSON) are not slugs: the catalog never folds them, and
// each is its own endpoint for learning.
func TestFoldNotGRPC(t *testing.T) {
	f := newFoldRun(t)
	for i := 0; i < 60; i++ {
		f.do("rpc.example", "POST", fmt.Sprintf("/acme.user.v1.UserService/List%c%c", 'A'+i%26, 'A'+i/26), filler)
	}
	tx := f.do("rpc.example", "POST", "/acme.user.v1.UserService/GetProfile", profile)
	want := "rpc.example POST /acme.user.v1.UserService/GetProfile"
	if got := f.lastPath(); got != want || !f.inCatalog(want) || !tx.Notes.ResponseScanned {
		t.Errorf("detection on %q, want %q (in the catalog: %v, scanned: %v)", got, want, f.inCatalog(want), tx.Notes.ResponseScanned)
	}
}

// TestFoldTopResources: the resources of an API (first segment, or the
// one after a version) are not slugs because an application visits many
// of them once between calls to a busy one: the catalog folds such a
// position only with fold_max_literals (64) of them.
func TestFoldTopResources(t *testing.T) {
	f := newFoldRun(t)
	for i := 0; i < 30; i++ {
		f.do("api.example", "GET", "/v1/me", filler)
		f.do("api.example", "GET", fmt.Sprintf("/v1/resource-%c", 'a'+i), filler)
	}
	tx := f.do("api.example", "GET", "/v1/invoices", profile)
	want := "api.example GET /v1/invoices"
	if got := f.lastPath(); got != want || !f.inCatalog(want) || !tx.Notes.ResponseScanned {
		t.Errorf("detection on %q, want %q (in the catalog: %v, scanned: %v)", got, want, f.inCatalog(want), tx.Notes.ResponseScanned)
	}
}

// TestFoldKeptSurvivesBounds: a literal that had its own share of its
// position's answers stays literal for good, also when a flood of new
// literals fills the fold tables (maxLearned) and they make room: /api,
// established, stays literal under a scanner's catch-all 2xx answers to
// tens of thousands of new first segments.
func TestFoldKeptSurvivesBounds(t *testing.T) {
	r := newSplit(t, NewConfig()).resp
	for i := 0; i < 10; i++ {
		r.endpoint(hostHash("api.example"), "GET", "/api/users", true, client(i).Addr())
	}
	word := func(i int) string {
		b := []byte("w-")
		for ; i > 0; i /= 26 {
			b = append(b, byte('a'+i%26))
		}
		return string(b)
	}
	for i := 1; i <= 3*maxLearned; i++ {
		r.endpoint(hostHash("api.example"), "GET", "/"+word(i), true, client(i).Addr()) // scanners on several addresses
		if i%16 == 0 {
			if _, fold := r.endpoint(hostHash("api.example"), "GET", "/api/users", true, client(i).Addr()); fold != 0 {
				t.Fatalf("after %d flood paths (%d literals known), /api/users folds (%b)", i, len(r.literals), fold)
			}
		}
	}
	// literals kept for good, each at a position of its own, cannot grow
	// the tables past their bound: filling half of them, they go too
	for i := 1; i <= maxLearned; i++ {
		for j := 0; j < foldKeep; j++ {
			r.endpoint(hostHash("api.example"), "GET", "/api/users/"+word(i)+"/kept", true, client(i).Addr())
		}
		if len(r.literals) > maxLearned || len(r.pos) > maxLearned {
			t.Fatalf("%d literals, %d positions: over the bound %d", len(r.literals), len(r.pos), maxLearned)
		}
	}
}

// TestTemplateCachesBounded: the caches of detection paths hold a
// bounded number of bytes, however long the request paths (up to the
// 64 KiB of a request head) whose findings they name.
func TestTemplateCachesBounded(t *testing.T) {
	cfg := NewConfig()
	cfg.SampleEvery = 1
	s := newSplit(t, cfg)
	long := strings.Repeat("x", 4096)
	for i := 0; i < 60; i++ { // the position folds
		tx := mktx("GET", "/blog/posts/"+slug(i), nil, "", 200, jsonCT, filler)
		tx.Flow.ID, tx.Flow.Client = fmt.Sprintf("conn-%d", i), client(i)
		s.run(tx)
	}
	for i := 0; i < 1024; i++ {
		// a card number in the path (stage one), an e-mail in the answer
		// on a folded path (stage two)
		tx := mktx("GET", fmt.Sprintf("/blog/posts/post-long-%d/%s/4111111111111111", i, long), nil, "", 200, jsonCT, profile)
		tx.Flow.ID = fmt.Sprintf("conn-long-%d", i)
		s.run(tx)
	}
	one, two := 0, 0
	for k := range s.flow.templates {
		one += len(k.path)
	}
	for k := range s.resp.a.templates {
		two += len(k.path)
	}
	if one > 1<<20 || two > 1<<20 {
		t.Errorf("the caches hold %d and %d bytes of paths", one, two)
	}
}

// TestFoldKeepsExtension: a folded value with an API representation
// extension (.csv, .xml, .json) keeps it in the detection path, as the
// catalog names the endpoint (/exports/{exportId}.csv).
func TestFoldKeepsExtension(t *testing.T) {
	for _, c := range []struct{ dir, ext string }{{"exports", ".csv"}, {"feeds", ".xml"}, {"files", ".json"}} {
		f := newFoldRun(t)
		f.s.resp.a.cfg.SampleEvery, f.s.resp.a.cfg.HotSampleEvery = 1, 1 // the folded path's response is scanned
		for i := 0; i < 60; i++ {
			f.do("api.example", "GET", "/"+c.dir+"/"+slug(i)+c.ext, filler)
		}
		f.do("api.example", "GET", "/"+c.dir+"/zz-top"+c.ext, profile)
		got := f.lastPath()
		if !strings.HasSuffix(got, "}"+c.ext) || !f.inCatalog(got) {
			t.Errorf("detection on %q, not in the catalog", got)
		}
	}
}

// TestEndpointAllocatesNothing: keying a request on a folded position
// allocates nothing (a new literal answered 2xx JSON is the exception:
// it is counted).
func TestEndpointAllocatesNothing(t *testing.T) {
	r := newSplit(t, NewConfig()).resp
	for i := 0; i < 60; i++ {
		r.endpoint(hostHash("api.example"), "GET", "/blog/posts/My-"+slug(i), true, client(i).Addr())
	}
	var paths []string
	for i := 100; i < 300; i++ {
		paths = append(paths, "/blog/posts/My-"+slug(i))
	}
	j := 0
	if n := testing.AllocsPerRun(100, func() {
		if _, fold := r.endpoint(hostHash("api.example"), "GET", paths[j], false, client(j).Addr()); fold == 0 {
			t.Fatal("not folded")
		}
		j++
	}); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}

// TestLearningPerHost: an endpoint is the host's (as its detections
// are): what one host's /v1/users/{userId} answered does not decide which
// responses of another host's are scanned, and the first is.
func TestLearningPerHost(t *testing.T) {
	f := newFoldRun(t)
	for i := 0; i < 20; i++ {
		f.do("a.example", "GET", fmt.Sprintf("/v1/users/%d", 100+i), filler)
	}
	tx := f.do("b.example", "GET", "/v1/users/7", profile)
	if want := "b.example GET /v1/users/{userId}"; !tx.Notes.ResponseScanned || f.lastPath() != want {
		t.Errorf("b.example's first response scanned: %v, detection on %q (want %q)", tx.Notes.ResponseScanned, f.lastPath(), want)
	}
	tx = f.do("A.Example", "GET", "/v1/users/8", filler) // the host's name in any case
	if tx.Notes.ResponseScanned {
		t.Error("a.example's endpoint, learned, was new again in upper case")
	}
}

// TestLearningPerServerWithoutHost: requests without a Host header learn
// per server address, as their detections are reported: what one server
// answered does not decide which of another's responses are scanned.
func TestLearningPerServerWithoutHost(t *testing.T) {
	f := newFoldRun(t)
	at := func(server string, id int, body string) *reassembly.Transaction {
		f.n++
		tx := mktx("GET", fmt.Sprintf("/v1/users/%d", id), nil, "", 200, jsonCT, body)
		tx.Request.Host = ""
		tx.Flow.Server = netip.MustParseAddrPort(server)
		tx.Flow.ID, tx.Response.Body.WireBytes = fmt.Sprintf("conn-%d", f.n), int64(len(body))
		f.s.run(tx)
		return tx
	}
	for i := 0; i < 20; i++ {
		at("10.0.0.1:80", 100+i, filler)
	}
	if tx := at("10.0.0.2:80", 7, profile); !tx.Notes.ResponseScanned || f.lastPath() != "10.0.0.2:80 GET /v1/users/{userId}" {
		t.Errorf("the other server's first response scanned: %v, detection on %q", tx.Notes.ResponseScanned, f.lastPath())
	}
	if tx := at("10.0.0.1:80", 8, filler); tx.Notes.ResponseScanned {
		t.Error("the first server's endpoint, learned, was new again")
	}
}

// client is the address of the i-th of seven clients.
func client(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i%7)}), 4000)
}

// TestFoldNeedsClients: a position folds only when its new literals came
// from several clients: one client asking for many new paths answered
// 2xx JSON (a scanner on a host that answers any path, a crawler) does
// not fold it alone, and the same requests from several clients do.
func TestFoldNeedsClients(t *testing.T) {
	for _, clients := range []int{1, foldClients - 1, foldClients} {
		r := newSplit(t, NewConfig()).resp
		folded := false
		for i := 0; i < 200; i++ {
			_, fold := r.endpoint(hostHash("api.example"), "GET", "/api/"+slug(i), true, client(i%clients).Addr())
			folded = folded || fold != 0
		}
		if want := clients >= foldClients; folded != want {
			t.Errorf("%d clients: folded %v, want %v", clients, folded, want)
		}
	}
}
