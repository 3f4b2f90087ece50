package sensitive

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/identity"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// split runs a transaction as the pipeline does: the flow instance
// (request, response headers), then the stage-two part (response body).
type split struct {
	creds identity.Parser
	flow  *Analyzer
	resp  *Responses
	c     *collector
}

func newSplit(t *testing.T, cfg *Config) *split {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.split = true
	r, err := NewResponses(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &split{flow: a, resp: r, c: &collector{}}
}

func (s *split) run(tx *reassembly.Transaction) {
	s.creds.Auth(tx) // as the sensor's workers do
	s.flow.Analyze(tx, s.c)
	s.resp.Analyze(tx, s.c)
}

// userTx is a GET of /v1/users/{id} on connection conn (its seq-th
// transaction), answered with body.
func userTx(conn, seq, id int, client string, auth bool, status int, body string) *reassembly.Transaction {
	var h []http1.Header
	if auth {
		h = []http1.Header{{Name: "Authorization", Value: "Bearer abc.def"}}
	}
	tx := mktx("GET", fmt.Sprintf("/v1/users/%d", id), h, "", status, jsonCT, body)
	tx.Flow.ID = fmt.Sprintf("conn-%d", conn)
	tx.Flow.Client = netip.MustParseAddrPort(client + ":4000")
	tx.Seq = seq
	tx.Response.Body.WireBytes = int64(len(body))
	return tx
}

const (
	profile = `{"id":7,"name":"Jane","email":"jane.doe@mail.example"}`
	plain   = `{"id":7,"name":"Jane","plan":"pro"}`
)

// TestResponsesLearnThenSample: the stage-two part learns an endpoint
// across connections. It scans the first responses and keeps scanning
// while they show new types, then a hash sample; a new status class, a
// much larger body or a new client of a personal-data endpoint is scanned
// whatever the sample. Unscanned responses carry the endpoint's last
// scanned types as the estimate. The same input gives the same choices.
func TestResponsesLearnThenSample(t *testing.T) {
	cfg := NewConfig()
	cfg.LearnResponses, cfg.SampleEvery, cfg.HotSampleEvery = 3, 8, 4
	choices := func() (string, *split) {
		s := newSplit(t, cfg)
		var b strings.Builder
		for i := 0; i < 200; i++ {
			tx := userTx(i/5, i%5, 1000+i, "198.51.100.7", true, 200, profile) // 5 per connection, one client
			s.run(tx)
			if tx.Notes.ResponseScanned {
				b.WriteByte('S')
			} else {
				b.WriteByte('.')
				if tx.Notes.SensitiveInferred == 0 {
					t.Fatalf("tx %d: not scanned and no estimate", i)
				}
			}
		}
		return b.String(), s
	}
	got, s := choices()
	if again, _ := choices(); again != got {
		t.Fatalf("not deterministic:\n%s\n%s", got, again)
	}
	if !strings.HasPrefix(got, "SSS.") && !strings.HasPrefix(got, "SSSS") {
		t.Errorf("the first %d responses must be scanned: %s", cfg.LearnResponses, got)
	}
	n := strings.Count(got[3:], "S")
	if n == 0 || n > 197/cfg.HotSampleEvery*2 {
		t.Errorf("after learning, about one in %d should be scanned: %d of 197 (%s)", cfg.HotSampleEvery, n, got)
	}

	// odd responses are scanned whatever the sample
	odd := []struct {
		name string
		tx   *reassembly.Transaction
	}{
		{"a status class not seen", userTx(900, 1, 5, "198.51.100.7", true, 404, `{"error":"no such user"}`)},
		{"a body over 1.5 times the largest", userTx(901, 1, 6, "198.51.100.7", true, 200, `[`+strings.Repeat(profile+",", 5)+profile+`]`)},
		{"a new actor", withToken(userTx(902, 1, 7, "198.51.100.7", true, 200, profile), "Bearer other.user")},
		{"a new client without credentials", userTx(903, 1, 9, "198.51.100.98", false, 200, profile)},
		{"a caller without credentials (an endpoint of its own)", userTx(904, 1, 8, "198.51.100.7", false, 200, profile)},
	}
	for _, o := range odd {
		s.run(o.tx)
		if !o.tx.Notes.ResponseScanned {
			t.Errorf("%s: not scanned", o.name)
		}
	}
	if classes(s.c) == "" || !strings.Contains(classes(s.c), "sensitive_data/medium/email:email") {
		t.Errorf("the unauthenticated caller's personal data is a finding: %s", classes(s.c))
	}
}

// withToken replaces the request's credentials.
func withToken(tx *reassembly.Transaction, authorization string) *reassembly.Transaction {
	tx.Request.Headers = []http1.Header{{Name: "Authorization", Value: authorization}}
	return tx
}

// withHeader adds a request header.
func withHeader(tx *reassembly.Transaction, name, value string) *reassembly.Transaction {
	tx.Request.Headers = append(tx.Request.Headers, http1.Header{Name: name, Value: value})
	return tx
}

// TestResponsesActorNotAddress: the first response of a personal-data
// endpoint to each actor is scanned, and an actor is the principal, the
// bearer token or the API key the request names (in that order; session
// cookies, which a server accepts whatever their value, do not): the same
// user from a new address is not new, another user's token from a known
// address is; a signature scheme is named by its signer; clients without
// credentials and credentials the server turned away are told apart by
// address.
func TestResponsesActorNotAddress(t *testing.T) {
	cfg := NewConfig()
	cfg.LearnResponses, cfg.SampleEvery, cfg.HotSampleEvery = 2, 1<<20, 1<<20
	s := newSplit(t, cfg)
	for i := 0; i < 4; i++ { // learned; the user and the anonymous client known
		s.run(userTx(i, 0, 1000+i, "198.51.100.7", true, 200, profile))
		s.run(userTx(100+i, 0, 1000+i, "198.51.100.8", false, 200, profile))
	}
	jwt := func(sub string) string {
		enc := base64.RawURLEncoding.EncodeToString
		return "Bearer " + enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(`{"sub":"`+sub+`"}`)) + ".c2ln"
	}
	for _, c := range []struct {
		name string
		tx   *reassembly.Transaction
		want bool
	}{
		{"the same token from a new address", userTx(10, 1, 7, "203.0.113.9", true, 200, profile), false},
		{"another token from a known address", withToken(userTx(11, 1, 7, "198.51.100.7", true, 200, profile), "Bearer other.token"), true},
		{"a user's JWT", withToken(userTx(12, 1, 7, "198.51.100.7", true, 200, profile), jwt("alice")), true},
		{"a new JWT of the same user, from a new address", withToken(userTx(13, 1, 7, "203.0.113.10", true, 200, profile), jwt("alice")+"x"), false},
		{"a known client without credentials", userTx(14, 1, 7, "198.51.100.8", false, 200, profile), false},
		{"a new client without credentials", userTx(15, 1, 7, "198.51.100.9", false, 200, profile), true},
		{"a new API key from a known address", withHeader(userTx(16, 1, 7, "198.51.100.8", false, 200, profile), "X-Api-Key", "k1"), true},
		{"the same API key from a new address", withHeader(userTx(17, 1, 7, "203.0.113.11", false, 200, profile), "x-goog-api-key", "k1"), false},
		{"a known token with a new API key: the token names the actor", withHeader(userTx(18, 1, 7, "203.0.113.12", true, 200, profile), "X-Api-Key", "k2"), false},
		{"a 401 (its status class learned here)", userTx(19, 1, 7, "198.51.100.8", true, 401, profile), true},
		{"a new token the server turned away, from a known address", withToken(userTx(20, 1, 7, "198.51.100.8", true, 401, profile), "Bearer made.up"), false},
		{"a Digest user", withToken(userTx(21, 1, 7, "198.51.100.8", true, 200, profile), `Digest username="bob", nonce="n1", response="r1"`), true},
		{"the Digest user again: another nonce, another address", withToken(userTx(22, 1, 7, "203.0.113.13", true, 200, profile), `Digest username="bob", nonce="n2", response="r2"`), false},
		{"an AWS signature's key id", withToken(userTx(23, 1, 7, "198.51.100.8", true, 200, profile), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=aa"), true},
		{"the same key id, another signature", withToken(userTx(24, 1, 7, "198.51.100.8", true, 200, profile), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=bb"), false},
		{"another scheme's stable token", withToken(userTx(25, 1, 7, "198.51.100.8", true, 200, profile), "Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"), true},
		{"a session cookie from a known address: the address names it", withHeader(userTx(26, 1, 7, "198.51.100.8", false, 200, profile), "Cookie", "theme=dark; PHPSESSID=s1"), false},
		{"the same session from a new address", withHeader(userTx(27, 1, 7, "203.0.113.14", false, 200, profile), "Cookie", "PHPSESSID=s1"), true},
	} {
		if s.run(c.tx); c.tx.Notes.ResponseScanned != c.want {
			t.Errorf("%s: scanned %v, want %v", c.name, c.tx.Notes.ResponseScanned, c.want)
		}
	}
}

// TestResponsesNewTypesKeepLearning: an endpoint whose responses keep
// showing new types is scanned until learn_responses scans in a row show
// nothing new (then, on an endpoint with personal data, the first
// response to each client, then the sample).
func TestResponsesNewTypesKeepLearning(t *testing.T) {
	cfg := NewConfig()
	cfg.LearnResponses, cfg.SampleEvery, cfg.HotSampleEvery = 2, 1000, 1000
	s := newSplit(t, cfg)
	bodies := []string{plain, `{"email":"a.b@mail.example"}`, `{"phone":"+1 202 555 0143"}`, plain, plain, plain, plain, plain}
	var got strings.Builder
	for i, b := range bodies {
		tx := userTx(i, 0, 1, "198.51.100.7", true, 200, b)
		s.run(tx)
		if tx.Notes.ResponseScanned {
			got.WriteByte('S')
		} else {
			got.WriteByte('.')
		}
	}
	if g := got.String(); g != "SSSSS..." {
		t.Errorf("scans %s, want SSSSS... (learning until two scans show nothing new, then the client's first)", g)
	}
}

// TestResponsesFoldSlugs: literal segments that take many values, most
// answered once (slugs: /blog/posts/my-first-post), fold into one
// endpoint for learning and for the detection path, named as the catalog
// names it. A set of resources asked again and again, paths answered with
// errors (a scanner's probes) or with HTML (a single-page application's
// answer to any path) stay literal, and so does an established endpoint
// when a flood of new paths folds its position.
func TestResponsesFoldSlugs(t *testing.T) {
	type req struct {
		path   string
		status int
		ct     []http1.Header
	}
	html := []http1.Header{{Name: "Content-Type", Value: "text/html; charset=utf-8"}}
	var slugs, resources, probes, spa, flood []req
	for i := 0; i < 80; i++ {
		slugs = append(slugs, req{fmt.Sprintf("/blog/posts/post-number-%c%c", 'a'+i%26, 'a'+i/26), 200, jsonCT})
		if i%10 == 9 {
			slugs = append(slugs, req{"/blog/posts/drafts", 200, jsonCT}) // a static sibling, asked again and again
		}
		probes = append(probes, req{fmt.Sprintf("/api/probe-%c%c", 'a'+i%26, 'a'+i/26), 404, jsonCT})
		spa = append(spa, req{fmt.Sprintf("/page-%c%c", 'a'+i%26, 'a'+i/26), 200, html})
	}
	for round := 0; round < 5; round++ { // 20 resources, each asked first in turn
		for i := 0; i < 20; i++ {
			resources = append(resources, req{fmt.Sprintf("/shop/resource-%c", 'a'+i), 200, jsonCT})
		}
	}
	for i := 0; i < 10; i++ {
		flood = append(flood, req{"/api/users", 200, jsonCT})
	}
	for i := 0; i < 300; i++ {
		flood = append(flood, req{fmt.Sprintf("/flood-%c%c%c", 'a'+i%26, 'a'+i/26%26, 'a'+i/676), 200, jsonCT})
	}
	flood = append(flood, req{"/api/users", 200, jsonCT})
	cases := []struct {
		name  string
		reqs  []req
		paths int    // literal detection paths
		last  string // the last request's detection path
	}{
		// the 48th request (the 44th slug; drafts was asked 4 times) folds:
		// 43 slugs before it and drafts stay literal
		{"slugs", slugs, 44, "/blog/posts/{postId}"},
		{"resources", resources, 20, "/shop/resource-t"},
		{"probes", probes, 80, "/api/probe-bd"},
		{"spa", spa, 80, "/page-bd"},
		// the flood folds the first segment, a position of resources, at
		// its 63rd path (with api, 64 literals: foldTopLiterals): 62 flood
		// paths and /api/users stay literal (the last detection is the
		// first folded path; /api/users repeats its own)
		{"flood", flood, 63, "/{id}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := NewConfig()
			cfg.SampleEvery = 1 // every response scanned: the paths alone decide
			s := newSplit(t, cfg)
			for i, r := range c.reqs {
				tx := mktx("GET", r.path, nil, "", r.status, r.ct, profile)
				tx.Flow.ID, tx.Response.Body.WireBytes = fmt.Sprintf("conn-%d", i), int64(len(profile))
				tx.Flow.Client = client(i)
				s.run(tx)
			}
			paths := map[string]bool{}
			last := ""
			for _, d := range s.c.Detections {
				if d.Class == "sensitive_data" {
					paths[d.Endpoint.Path] = true
					last = d.Endpoint.Path
				}
			}
			if c.name == "slugs" && !paths["/blog/posts/drafts"] {
				t.Error("/blog/posts/drafts, asked again and again, was folded")
			}
			if c.name == "flood" && (!paths["/api/users"] || paths["/{id}/users"]) {
				t.Error("/api/users, established before the flood, was folded")
			}
			folded := 0
			for p := range paths {
				if strings.Contains(p, "{") {
					folded++
					delete(paths, p)
				}
			}
			keys := s.resp.eps.Len() - len(paths) // learning keys of folded paths
			if len(paths) != c.paths || last != c.last || keys > 1 || folded > 1 {
				t.Errorf("%d literal detection paths (want %d), %d folded, last %q (want %q), %d learning keys besides the literal paths (want at most 1)", len(paths), c.paths, folded, last, c.last, keys)
			}
		})
	}
}

// TestResponsesFoldedPathsOwnTemplate: two paths with one learning key
// (a date in first place is a parameter for learning, and kept in the
// detection path, as discovery's online template keeps it) each get
// their own detection path once their last segment is folded.
func TestResponsesFoldedPathsOwnTemplate(t *testing.T) {
	cfg := NewConfig()
	cfg.SampleEvery = 1
	s := newSplit(t, cfg)
	for i := 0; i < 60; i++ {
		day := 1 + i%2
		tx := mktx("GET", fmt.Sprintf("/2026-01-0%d/posts/post-number-%c%c", day, 'a'+i%26, 'a'+i/26), nil, "", 200, jsonCT, profile)
		tx.Flow.ID, tx.Response.Body.WireBytes = fmt.Sprintf("conn-%d", i), int64(len(profile))
		tx.Flow.Client = client(i)
		s.run(tx)
	}
	paths := map[string]bool{}
	for _, d := range s.c.Detections {
		paths[d.Endpoint.Path] = true
	}
	for _, want := range []string{"/2026-01-01/posts/{postId}", "/2026-01-02/posts/{postId}"} {
		if !paths[want] {
			t.Errorf("no detection on %s: %v", want, paths)
		}
	}
}

// TestLearningOutlastsFlood: a flood of new learning keys (a scanner's
// unique paths, answered) and of new clients (each answered personal
// data) fills the learning tables several times over; an endpoint still
// asked stays learned, and a client still answered stays known, so
// neither is scanned again as new.
func TestLearningOutlastsFlood(t *testing.T) {
	cfg := NewConfig()
	cfg.LearnResponses, cfg.SampleEvery, cfg.HotSampleEvery = 2, 1<<20, 1<<20
	s := newSplit(t, cfg)
	for i := 0; i < 10; i++ { // learned, and the client known
		s.run(userTx(i, 0, 1000+i, "198.51.100.7", true, 200, profile))
	}
	word := func(i int) string {
		b := []byte("probe-")
		for ; i > 0; i /= 26 {
			b = append(b, byte('a'+i%26))
		}
		return string(b)
	}
	rescanned := 0
	for i := 1; i <= 2*maxLearned; i++ {
		probe := mktx("GET", "/"+word(i), nil, "", 404, jsonCT, `{"error":"not found"}`)
		probe.Flow.ID, probe.Response.Body.WireBytes = fmt.Sprintf("probe-%d", i), 21
		s.run(probe)
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		s.run(userTx(100000+i, 0, 5000+i, ip.String(), true, 200, profile)) // a new client: scanned
		if i%64 == 0 {
			u := userTx(i, 1, 1000+i, "198.51.100.7", true, 200, profile)
			if s.run(u); u.Notes.ResponseScanned {
				rescanned++
			}
		}
	}
	if rescanned > 0 || s.resp.eps.Len() > maxLearned || s.resp.actors.Len() > maxActors || s.resp.eps.Len() < maxLearned/2 {
		t.Errorf("the learned endpoint was scanned again %d times; %d endpoints and %d actors held (bounds %d, %d)",
			rescanned, s.resp.eps.Len(), s.resp.actors.Len(), maxLearned, maxActors)
	}
}

// foldCounter is a folder that counts what it is handed.
type foldCounter struct{ n int }

func (f *foldCounter) Fold(analyzer.FoldSpec, analyzer.FoldKey, *event.Detection) { f.n++ }

func (f *foldCounter) FoldLazy(analyzer.FoldSpec, analyzer.FoldKey, *event.Detection, analyzer.Evidencer, []byte) {
	f.n++
}

// TestResponsesFlushEmitsNothing: with a folder (as the sensor builds it)
// the part hands every finding to the folder and Flush has nothing of its
// own to report (the sensor does not flush parts it runs ahead of stage
// two: analyzer.Descriptor.NewOrdered).
func TestResponsesFlushEmitsNothing(t *testing.T) {
	var f foldCounter
	r, err := NewResponses(NewConfig(), &f)
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	for i := 0; i < 50; i++ {
		r.Analyze(userTx(i, 0, 1000+i, fmt.Sprintf("198.51.100.%d", i), false, 200, profile), &c)
	}
	r.Flush(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), &c)
	r.Finish(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), &c)
	if f.n == 0 || len(c.Detections) != 0 {
		t.Errorf("%d findings folded, %d detections emitted by the part itself: want some, none", f.n, len(c.Detections))
	}
}
