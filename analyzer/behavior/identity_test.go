package behavior

import (
	"bytes"
	"encoding/base64"
	"net/netip"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/apitap/apitap/analyzer/event"
	ident "github.com/apitap/apitap/analyzer/identity"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
	"gopkg.in/yaml.v3"
)

func TestResolve(t *testing.T) {
	cfg := NewConfig()
	cfg.TrustedProxies = []string{"10.0.0.0/8"}
	r := newResolver(cfg, nil)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("carol:secret"))
	cases := []struct {
		name    string
		client  string
		headers []http1.Header
		ip      string
		user    string
		session string
		apiKey  string
		tool    bool
		spoofed bool
	}{
		{"plain browser", "198.51.100.1", browser(), "198.51.100.1", "", "", "", false, false},
		{"jwt sub", "198.51.100.1", browser(bearer("u42")), "198.51.100.1", "u42", "", "", false, false},
		{"basic user", "198.51.100.1", []http1.Header{{Name: "Authorization", Value: basic}}, "198.51.100.1", "carol", "", "", true, false},
		{"opaque bearer is a key", "198.51.100.1", []http1.Header{{Name: "Authorization", Value: "Bearer abcdef0123456789"}}, "198.51.100.1", "", "", "abcdef0123456789", true, false},
		{"api key header", "198.51.100.1", []http1.Header{{Name: "X-Api-Key", Value: "k1"}, {Name: "User-Agent", Value: "curl/8.0"}}, "198.51.100.1", "", "", "k1", true, false},
		{"session cookie", "198.51.100.1", browser(http1.Header{Name: "Cookie", Value: "theme=dark; SID=abc123"}), "198.51.100.1", "", "abc123", "", false, false},
		{"spoofed browser", "198.51.100.1", []http1.Header{{Name: "User-Agent", Value: chrome}}, "198.51.100.1", "", "", "", false, true},
		{"xff from untrusted peer ignored", "198.51.100.1", []http1.Header{{Name: "X-Forwarded-For", Value: "1.2.3.4"}}, "198.51.100.1", "", "", "", true, false},
		{"xff from trusted proxy", "10.1.1.1", []http1.Header{{Name: "X-Forwarded-For", Value: "203.0.113.9, 10.2.2.2"}}, "203.0.113.9", "", "", "", true, false},
		{"xff spoofed left part skipped", "10.1.1.1", []http1.Header{{Name: "X-Forwarded-For", Value: "6.6.6.6, 203.0.113.9"}}, "203.0.113.9", "", "", "", true, false},
		{"forwarded header", "10.1.1.1", []http1.Header{{Name: "Forwarded", Value: `for="[2001:db8::7]:4711";proto=https`}}, "2001:db8::7", "", "", "", true, false},
		{"x-real-ip", "10.1.1.1", []http1.Header{{Name: "X-Real-IP", Value: "203.0.113.10"}}, "203.0.113.10", "", "", "", true, false},
		{"garbage xff keeps peer", "10.1.1.1", []http1.Header{{Name: "X-Forwarded-For", Value: "not-an-ip"}}, "10.1.1.1", "", "", "", true, false},
		{"mapped v4", "::ffff:198.51.100.3", nil, "198.51.100.3", "", "", "", true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tx := &reassembly.Transaction{Flow: reassembly.Flow{Client: netip.AddrPortFrom(netip.MustParseAddr(c.client), 1)}}
			tx.Request = &http1.Request{Method: "GET", Path: "/", Headers: c.headers}
			var id identity
			r.resolve(tx, &id)
			if id.ip.String() != c.ip || id.user != c.user || id.session != c.session || id.apiKey != c.apiKey || id.tool != c.tool || id.spoofed != c.spoofed {
				t.Errorf("got ip=%s user=%q session=%q key=%q tool=%v spoofed=%v", id.ip, id.user, id.session, id.apiKey, id.tool, id.spoofed)
			}
		})
	}
}

// TestSessionCookieRule: by default a session cookie is one by the
// sensor's rule (identity.SessionCookie: a framework's cookie first, other
// names only with a token), the same whether the sensor read it into
// tx.Auth or the resolver reads the header; session_cookies names them
// instead, and an empty list switches them off.
func TestSessionCookieRule(t *testing.T) {
	custom := NewConfig()
	custom.SessionCookies = []string{"my_sess"}
	off := NewConfig() // session_cookies: [] (not unset: the rule)
	if err := yaml.Unmarshal([]byte("session_cookies: []\n"), off); err != nil || off.SessionCookies == nil {
		t.Fatalf("session_cookies: [] read as %#v (%v)", off.SessionCookies, err)
	}
	for _, c := range []struct {
		name   string
		cfg    *Config
		cookie string
		want   string
	}{
		{"a framework's session", NewConfig(), "theme=dark; laravel_session=l1", "l1"},
		{"a framework's before a name holding session", NewConfig(), "user_session=u1; sid=s1", "s1"},
		{"an _sid with a token", NewConfig(), "app_sid=a1b2c3d4e5f60718", "a1b2c3d4e5f60718"},
		{"an _sid with a short value", NewConfig(), "app_sid=a1", ""},
		{"no session", NewConfig(), "theme=dark; my_sess=m1", ""},
		{"configured", custom, "sid=s1; my_sess=m1", "m1"},
		{"configured, none", custom, "sid=s1", ""},
		{"analytics cookies first", NewConfig(), "_hjSessionUser_1=eyJpZCI6IjEyMzQ1Njc4OTAifQ; _hjIncludedInSessionSample_1=0; JSESSIONID=j1", "j1"},
		{"switched off", off, "sid=s1", ""},
	} {
		r := newResolver(c.cfg, nil)
		for _, parsed := range []bool{false, true} {
			tx := &reassembly.Transaction{Flow: reassembly.Flow{Client: netip.MustParseAddrPort("198.51.100.1:1")}}
			tx.Request = &http1.Request{Method: "GET", Path: "/", Headers: browser(http1.Header{Name: "Cookie", Value: c.cookie})}
			if parsed {
				var p ident.Parser
				p.Auth(tx)
			}
			var id identity
			r.resolve(tx, &id)
			if id.session != c.want {
				t.Errorf("%s (tx.Auth read: %v): session %q, want %q", c.name, parsed, id.session, c.want)
			}
		}
	}
}

// TestFingerprint: the same client software gives the same print whatever
// it sends in values; header order, casing or another tool changes it.
func TestFingerprint(t *testing.T) {
	r := newResolver(NewConfig(), nil)
	fp := func(hs ...http1.Header) uint64 {
		tx := &reassembly.Transaction{Flow: reassembly.Flow{Client: netip.MustParseAddrPort("192.0.2.1:1")}}
		tx.Request = &http1.Request{Method: "GET", Path: "/", Headers: hs}
		var id identity
		r.resolve(tx, &id)
		return id.fp
	}
	a := fp(browser(bearer("a"))...)
	if b := fp(browser(bearer("b"), http1.Header{Name: "Content-Length", Value: "3"})...); a != b {
		t.Error("credentials and body headers change the print")
	}
	h := browser()
	h[1], h[2] = h[2], h[1]
	if fp(h...) == a {
		t.Error("header order does not change the print")
	}
	h = browser()
	h[3].Name = "accept-language"
	if fp(h...) == a {
		t.Error("header casing does not change the print")
	}
}

func TestUAFamily(t *testing.T) {
	for ua, want := range map[string]string{
		"":                       "",
		chrome:                   "browser/chrome",
		"python-requests/2.31.0": "python-requests",
		"Mozilla/5.0 (compatible; Googlebot/2.1)": "crawler/googlebot",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0 Safari/537.36": "headlesschrome",
		"kube-probe/1.29":    "kube-probe",
		"MyApp/1.2 (iOS 17)": "myapp",
		"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0": "browser/firefox",
	} {
		if got := uaFamily(ua); got != want {
			t.Errorf("uaFamily(%q) = %q, want %q", ua, got, want)
		}
	}
}

func TestParseLogin(t *testing.T) {
	r := newResolver(NewConfig(), nil)
	cases := []struct {
		name, method, path, body string
		status                   int
		resp                     string
		setCookie                string
		login                    bool
		user                     string
		success                  bool
		session                  string
	}{
		{"json failure", "POST", "/v1/login", `{"username":"Dave","password":"x"}`, 401, `{}`, "", true, "dave", false, ""},
		{"form success with session", "POST", "/auth/signin", "email=e%40x.example&password=p", 302, "", "session=s1; HttpOnly", true, "e@x.example", true, "s1"},
		{"200 that says invalid", "POST", "/api/token", `{"login":"f","pwd":"x"}`, 200, `{"status":"Invalid password"}`, "", true, "f", false, ""},
		{"no password: oauth client credentials", "POST", "/oauth/token", "grant_type=client_credentials&client_id=a", 200, "{}", "", false, "", false, ""},
		{"not a login path", "POST", "/v1/users", `{"username":"g","password":"x"}`, 201, "{}", "", false, "", false, ""},
		{"get is not a login", "GET", "/v1/login", `{"username":"g","password":"x"}`, 200, "{}", "", false, "", false, ""},
		{"broken json", "POST", "/login", `{"username":`, 400, "", "", false, "", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tx := &reassembly.Transaction{}
			tx.Request = &http1.Request{Method: c.method, Path: c.path, Body: http1.Body{Data: []byte(c.body)}}
			tx.Response = &http1.Response{Status: c.status, Body: http1.Body{Data: []byte(c.resp)}}
			if c.setCookie != "" {
				tx.Response.Headers = []http1.Header{{Name: "Set-Cookie", Value: c.setCookie}}
			}
			la, ok := r.parseLogin(tx, "")
			if ok != c.login || la.user != c.user || la.success != c.success || la.session != c.session {
				t.Errorf("got login=%v %+v", ok, la)
			}
		})
	}
}

// TestParseLoginCaseCollisions: field names that differ only in case
// resolve the same way every time (map order must not choose the user).
func TestParseLoginCaseCollisions(t *testing.T) {
	r := newResolver(NewConfig(), nil)
	for _, body := range []string{`{"Username":"mallory","username":"alice","password":"x"}`, "Username=mallory&username=alice&password=x"} {
		for i := 0; i < 50; i++ {
			tx := &reassembly.Transaction{}
			tx.Request = &http1.Request{Method: "POST", Path: "/v1/login", Body: http1.Body{Data: []byte(body)}}
			tx.Response = &http1.Response{Status: 401, Body: http1.Body{Data: []byte(`{}`)}}
			if la, ok := r.parseLogin(tx, ""); !ok || la.user != "alice" {
				t.Fatalf("%s: got %v %q, want the lower-case field's alice every time", body, ok, la.user)
			}
		}
	}
}

func TestOwnerOf(t *testing.T) {
	for body, want := range map[string]string{
		`{"id":1,"user_id":42,"x":1}`: "42",
		`{"ownerId": "u-7"}`:          "u-7",
		`[{"user_id":1}]`:             "",
		`{"seller_id":3}`:             "",
		`{"customer_id":"c9"}`:        "c9",
		`{"owner":{"id":1}}`:          "{\"id\":1",
		"":                            "",
	} {
		if got := string(ownerOf([]byte(body))); got != want {
			t.Errorf("ownerOf(%s) = %q, want %q", body, got, want)
		}
	}
}

// TestNoRawIdentities: detections and actor events carry masked users
// and hashed sessions and keys.
func TestNoRawIdentities(t *testing.T) {
	cfg := NewConfig()
	tr := NewTracker(cfg, "t")
	w := tr.NewAnalyzer()
	var c collector
	raw := []string{"victim@corp.example", "sess-raw-value-123", "pk_live_secret_999"}
	for k := 0; k < 12; k++ {
		rq := loginReq(time.Duration(k)*time.Second, "203.0.113.1", raw[0], k == 11, []http1.Header{{Name: "Cookie", Value: "sid=" + raw[1]}, {Name: "X-API-Key", Value: raw[2]}})
		w.Analyze(rq.tx(), &c)
	}
	var out []byte
	enc := event.Encoder{Sensor: "t"}
	for i := range c.Detections {
		out = enc.AppendDetection(out, &c.Detections[i])
	}
	sink := &lines{}
	tr.Report(t0.Add(time.Minute), true, sink)
	out = append(out, sink.b...)
	if len(c.Detections) == 0 || len(sink.b) == 0 {
		t.Fatalf("no detections (%d) or actor events", len(c.Detections))
	}
	for _, v := range raw {
		if containsBytes(out, v) {
			t.Errorf("raw %q in output:\n%s", v, out)
		}
	}
}

type lines struct{ b []byte }

func (l *lines) Event(typ, key string, line []byte) { l.b = append(append(l.b, line...), '\n') }
func (l *lines) Detection(d *event.Detection)       {}

func containsBytes(b []byte, s string) bool {
	return len(s) > 0 && string(b) != "" && (func() bool {
		for i := 0; i+len(s) <= len(b); i++ {
			if string(b[i:i+len(s)]) == s {
				return true
			}
		}
		return false
	})()
}

// TestMillionActors: a million distinct addresses keep the table at its
// bound and the heap well under 512 MB.
func TestMillionActors(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the million-actor memory test takes a few seconds")
	}
	cfg := NewConfig()
	tr := NewTracker(cfg, "t")
	w := tr.NewAnalyzer()
	var c collector
	tx := req{ip: "1.0.0.1", method: "GET", path: "/v1/items/7", headers: browser(), status: 200, resp: `{"user_id":1}`}.tx()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 1_000_000; i++ {
		tx.Flow.Client = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 1)
		tx.Request.Start = t0.Add(time.Duration(i) * time.Millisecond)
		w.Analyze(tx, &c)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("1,000,000 actors: %d held (max_actors %d), %d evicted, heap +%.1f MB", tr.Len(), cfg.MaxActors, tr.Evicted(), float64(heap)/(1<<20))
	if tr.Len() > cfg.MaxActors {
		t.Errorf("%d actors held, bound %d", tr.Len(), cfg.MaxActors)
	}
	if heap > 512<<20 {
		t.Errorf("heap grew by %d MB", heap>>20)
	}
}

// TestReviewFindings pins bugs a review found: one bola detection per kind
// and window, no raw secret through the user name (numeric JWT subjects:
// identity's TestParseJWT), late transactions do not reset the endpoint's usual rate.
func TestReviewFindings(t *testing.T) {
	for u, want := range map[string]string{
		"bob@example.com:S3cret!pass": "[REDACTED len=27]",
		"alice@example.com":           "a***@example.com",
		"auth0|5f7c1d":                "auth0|5f7c1d",
		"Summer2024!":                 "[REDACTED len=11]",
	} {
		if got := exportUser(u); got != want {
			t.Errorf("exportUser(%q) = %q, want %q", u, got, want)
		}
	}
	tr := NewTracker(NewConfig(), "t")
	w := tr.NewAnalyzer()
	var c collector
	rq := req{at: 0, ip: "100.64.0.9", method: "GET", path: "/v1/orders/1", headers: browser(bearer("mallory")), status: 404, resp: `{}`}
	w.Analyze(rq.tx(), &c)
	for id := 2; id <= 60; id++ {
		rq := req{at: time.Duration(id) * time.Second, ip: "100.64.0.9", method: "GET", path: "/v1/orders/" + strconv.Itoa(id), headers: browser(bearer("mallory")),
			status: 200, resp: `{"id":1,"user_id":"u` + strconv.Itoa(id) + `"}`}
		w.Analyze(rq.tx(), &c)
	}
	n := 0
	for _, d := range c.Detections {
		if d.Class == "bola" {
			n++
		}
	}
	if n == 0 || n > 2 {
		t.Errorf("%d bola detections in one window, want 1 or 2 (walk, owners)", n)
	}
}

// TestLateTransactions: transactions of the previous minute arriving late
// (several workers) count in the current minute instead of resetting the
// endpoint's usual rate.
func TestLateTransactions(t *testing.T) {
	tr := NewTracker(NewConfig(), "t")
	minute := int64(time.Minute)
	base := t0.UnixNano() - t0.UnixNano()%minute
	for m := int64(0); m < 5; m++ {
		for i := int64(0); i < 1000; i++ {
			tr.observeEndpoint(&Observation{Endpoint: 7, At: base + m*minute + i*int64(time.Millisecond)*50, Status: 200, Latency: 0.01}, tr.endpoint(7), 1)
		}
	}
	var l load
	for i := int64(0); i < 20; i++ { // alternating between minutes 5 and 4
		at := base + 5*minute + i*int64(time.Millisecond)
		if i%2 == 1 {
			at = base + 4*minute + 59*int64(time.Second)
		}
		l = tr.observeEndpoint(&Observation{Endpoint: 7, At: at, Status: 200, Latency: 0.01}, tr.endpoint(7), 1)
	}
	if l.usual < 500 {
		t.Errorf("usual rate %.0f after late transactions, want about 1000", l.usual)
	}
}

// TestClaimedAllowlist: a stuffing tool calling itself Googlebot is still
// caught; the real crawler's volume is not flagged.
func TestClaimedAllowlist(t *testing.T) {
	cfg := NewConfig()
	cfg.Allowlist = []string{"ua:Googlebot"}
	tr := NewTracker(cfg, "t")
	w := tr.NewAnalyzer()
	var c collector
	gb := []http1.Header{{Name: "User-Agent", Value: "Mozilla/5.0 (compatible; Googlebot/2.1)"}}
	for k := 0; k < 30; k++ {
		w.Analyze(loginReq(time.Duration(k)*time.Second, "203.0.113.99", "u"+strconv.Itoa(k)+"@x.example", false, gb).tx(), &c)
	}
	got := map[string]bool{}
	for _, d := range c.Detections {
		got[d.Class] = true
	}
	if !got["credential_stuffing"] {
		t.Errorf("stuffing under a Googlebot User-Agent not detected: %v", got)
	}
}

// TestRespClass: answers that differ only by the username they echo, a
// request id or a time are one class; a different message is another.
func TestRespClass(t *testing.T) {
	a := respClass(401, []byte(`{"error":"invalid password for alice@x.example","request_id":"9f3c2a1b-77de-4c1a","at":1700000000}`), "alice@x.example")
	b := respClass(401, []byte(`{"error":"invalid password for bob@x.example","request_id":"0a1b2c3d-88ee-4f00","at":1700000042}`), "bob@x.example")
	c := respClass(404, []byte(`{"error":"no such user"}`), "carol@x.example")
	if a != b {
		t.Error("answers differing by username, id and time are two classes")
	}
	if a == c {
		t.Error("a different answer is the same class")
	}
}

// TestFormShape: a client's login template (field names in order, JSON
// spacing) hashes alike whatever values it fills in; another order,
// spacing or set of fields does not.
func TestFormShape(t *testing.T) {
	a := formShape([]byte(`{"email":"a@b.example","password":"x"}`))
	for _, same := range []string{`{"email":"zz@q.example","password":"y\"yy:z"}`, `{"email":"q","password":{"nested":1}}`} {
		if formShape([]byte(same)) != a {
			t.Errorf("%s: another shape", same)
		}
	}
	for _, other := range []string{`{"password":"x","email":"a@b.example"}`, `{"email": "a@b.example", "password": "x"}`, `{"email":"a","password":"x","remember":true}`,
		"email=a%40b.example&password=x"} {
		if formShape([]byte(other)) == a {
			t.Errorf("%s: the same shape", other)
		}
	}
	if formShape([]byte("email=a&password=b")) != formShape([]byte("email=c%40d&password=e")) {
		t.Error("form values change the shape")
	}
}

// TestPrincipalsFromAuth: behaviour names the holder of credentials as
// the sensor's one parser read them (tx.Auth): people by their subject,
// client-credentials tokens as services, signature schemes (Digest, AWS)
// by their signer, opaque tokens and other schemes by the credential; the
// same whether the sensor filled tx.Auth or the transaction came without
// it.
func TestPrincipalsFromAuth(t *testing.T) {
	enc := base64.RawURLEncoding
	tok := func(claims string) string {
		return enc.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + enc.EncodeToString([]byte(claims)) + ".c2ln"
	}
	for _, tc := range []struct {
		header, user, apiKey string
		service, basic       bool
	}{
		{"Bearer " + tok(`{"sub":"alice"}`), "alice", "", false, false},
		{"Bearer " + tok(`{"sub":"svc@clients"}`), "svc@clients", "", true, false},
		{"Bearer " + tok(`{"client_id":"batch"}`), "batch", "", true, false},
		{"Bearer " + tok(`{"azp":"etl","sub":"etl"}`), "etl", "", true, false},
		{"Bearer " + tok(`{"sub":"bob","azp":"web"}`), "bob", "", false, false},
		{"Bearer " + tok(`{"sub":"svc-1","gty":"client-credentials"}`), "svc-1", "", true, false},
		{"Bearer " + tok(`{"iat":1}`), "", tok(`{"iat":1}`), false, false},
		{"Bearer 2YotnFZFEjr1zCsicMWpAA", "", "2YotnFZFEjr1zCsicMWpAA", false, false},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("carol:pw")), "carol", "", false, true},
		{"Token abc123", "", "abc123", false, false},
		{`Digest username="dave", nonce="n1", response="r1"`, "dave", "", false, false}, // the signer, not the per-request value
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=aa", "AKIDEXAMPLE", "", false, false},
	} {
		for _, filled := range []bool{false, true} {
			rq := req{at: 0, ip: "192.0.2.7", method: "GET", path: "/v1/things", headers: browser(http1.Header{Name: "Authorization", Value: tc.header}), status: 200, resp: `{}`}
			x := rq.tx()
			if filled {
				var p ident.Parser
				p.Auth(x)
			}
			r := newResolver(NewConfig(), nil)
			var id identity
			r.resolve(x, &id)
			if id.user != tc.user || id.apiKey != tc.apiKey || id.service != tc.service || id.basic != tc.basic {
				t.Errorf("%q (tx.Auth filled %v): user %q key %q service %v basic %v", tc.header, filled, id.user, id.apiKey, id.service, id.basic)
			}
		}
	}
}

// TestMayNamePassword: parseLogin decodes a body only when it could name a
// password field once decoded; the check never says no to a body that
// does (case, escapes, form encoding).
func TestMayNamePassword(t *testing.T) {
	for body, want := range map[string]bool{
		`{"email":"a@b.c","password":"x"}`:             true,
		`{"PassPhrase":"x"}`:                           true,
		`{"user":"a","PWD":"x"}`:                       true,
		`user=a&pass=x`:                                true,
		`{"p\u0061ss":"x"}`:                            true, // an escape
		`user=a&p%61ss=x`:                              true, // form encoding
		`{"amount":100,"currency":"usd","mode":"pay"}`: false,
		`grant_type=client_credentials&scope=read`:     false,
		`{"pas":"x","pw":"y"}`:                         false,
		`p`:                                            false,
		`pw`:                                           false,
		`pas`:                                          false,
	} {
		if got := mayNamePassword([]byte(body)); got != want {
			t.Errorf("mayNamePassword(%s) = %v, want %v", body, got, want)
		}
	}
	// against the decoder itself: every body whose decoded fields hold a
	// password key passes the check
	r := newResolver(NewConfig(), nil)
	for _, body := range []string{`{"p\u0061ssword":"x"}`, `p%61ssword=x`, `{"PASSWD":"x"}`, `pwd=x`} {
		tx := &reassembly.Transaction{}
		tx.Request = &http1.Request{Method: "POST", Path: "/api/login", Body: http1.Body{Data: []byte(body)}}
		if _, ok := r.parseLogin(tx, ""); !ok {
			t.Errorf("parseLogin(%s) found no password", body)
		}
	}
}

// FuzzMayNamePassword: whatever the body, when parseLogin's own decoding
// (loginFields) finds a password field, the check that lets it skip
// decoding says yes.
func FuzzMayNamePassword(f *testing.F) {
	for _, s := range []string{`{"password":"x"}`, `{"p\u0061ss":"x"}`, `p%61ss=x`, `{"PwD":"x"}`, `a=b`, `{"amount":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fields, ok := loginFields(bytes.TrimSpace(body))
		if !ok {
			return
		}
		for _, k := range passwordFields {
			if fields[k] != "" && !mayNamePassword(body) {
				t.Fatalf("%q decodes to a %s field, but mayNamePassword says no", body, k)
			}
		}
	})
}
