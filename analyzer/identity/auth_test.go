package identity

import (
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestParseJWT(t *testing.T) {
	for _, tc := range []struct {
		name, tok string
		ok        bool
		want      JWT
	}{
		{"rs256 with sub", b64(`{"alg":"RS256","typ":"JWT"}`) + "." + b64(`{"sub":"user-7","iss":"https://id.example"}`) + ".c2ln", true, JWT{Alg: "RS256", Issuer: "https://id.example", Subject: "user-7"}},
		{"client credentials", b64(`{"alg":"ES256"}`) + "." + b64(`{"client_id":"partner-app"}`) + ".c2ln", true, JWT{Alg: "ES256", ClientID: "partner-app", Service: true}},
		{"azp for a client id", b64(`{"alg":"ES256"}`) + "." + b64(`{"azp":"batch-job","sub":"batch-job"}`) + ".c2ln", true, JWT{Alg: "ES256", Subject: "batch-job", ClientID: "batch-job", Service: true}},
		{"grant type", b64(`{"alg":"RS256"}`) + "." + b64(`{"sub":"svc-1","client_id":"app","gty":"client-credentials"}`) + ".c2ln", true, JWT{Alg: "RS256", Subject: "svc-1", ClientID: "app", Service: true}},
		{"auth0 client subject", b64(`{"alg":"RS256"}`) + "." + b64(`{"sub":"x1@clients"}`) + ".c2ln", true, JWT{Alg: "RS256", Subject: "x1@clients", Service: true}},
		{"a person through an app", b64(`{"alg":"RS256"}`) + "." + b64(`{"sub":"user-9","azp":"web-app"}`) + ".c2ln", true, JWT{Alg: "RS256", Subject: "user-9", ClientID: "web-app"}},
		{"numeric sub", b64(`{"alg":"HS256"}`) + "." + b64(`{"sub":12345}`) + ".c2ln", true, JWT{Alg: "HS256", Subject: "12345"}},
		{"alg none", b64(`{"alg":"none"}`) + "." + b64(`{"sub":"a"}`) + ".", true, JWT{Alg: "none", Subject: "a", Unsigned: true}},
		{"padded parts", b64(`{"alg":"RS256"}`) + "==." + b64(`{"sub":"b"}`) + ".c2ln", true, JWT{Alg: "RS256", Subject: "b"}},
		{"no alg", b64(`{"typ":"JWT"}`) + "." + b64(`{"sub":"a"}`) + ".c2ln", false, JWT{}},
		{"two parts", b64(`{"alg":"RS256"}`) + "." + b64(`{"sub":"a"}`), false, JWT{}},
		{"four parts", b64(`{"alg":"RS256"}`) + "." + b64(`{"sub":"a"}`) + ".x.y", false, JWT{}},
		{"claims not an object", b64(`{"alg":"RS256"}`) + "." + b64(`"x"`) + ".c2ln", false, JWT{}},
		{"opaque token", "2YotnFZFEjr1zCsicMWpAA", false, JWT{}},
		{"too long", b64(`{"alg":"RS256"}`) + "." + b64(`{"sub":"`+strings.Repeat("a", 9000)+`"}`) + ".c2ln", false, JWT{}},
		{"long sub cut", b64(`{"alg":"RS256"}`) + "." + b64(`{"sub":"`+strings.Repeat("a", 300)+`"}`) + ".c2ln", true, JWT{Alg: "RS256", Subject: strings.Repeat("a", 128)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, ok := ParseJWT(tc.tok)
			if ok != tc.ok || j != tc.want {
				t.Fatalf("got %+v %v, want %+v %v", j, ok, tc.want, tc.ok)
			}
			var p Parser
			for range 2 { // cached the second time
				if j2, ok2 := p.JWT(tc.tok); j2 != j || ok2 != ok {
					t.Fatalf("cache: %+v %v", j2, ok2)
				}
			}
		})
	}
}

func TestAuth(t *testing.T) {
	jwt := b64(`{"alg":"RS256"}`) + "." + b64(`{"sub":"user-7","iss":"https://id.example"}`) + ".c2ln"
	for _, tc := range []struct {
		header string
		want   reassembly.Auth
	}{
		{"", reassembly.Auth{}},
		{"Bearer " + jwt, reassembly.Auth{Kind: reassembly.AuthBearerJWT, Principal: "user-7", JWTAlg: "RS256", JWTIssuer: "https://id.example"}},
		{"bearer  2YotnFZFEjr1zCsicMWpAA", reassembly.Auth{Kind: reassembly.AuthBearer, Credential: "2YotnFZFEjr1zCsicMWpAA"}},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:secret")), reassembly.Auth{Kind: reassembly.AuthBasic, Principal: "alice"}},
		{"Basic !!!", reassembly.Auth{Kind: reassembly.AuthBasic}},
		{"Digest username=\"x\"", reassembly.Auth{Kind: reassembly.AuthOther, Credential: `username="x"`, Principal: "x"}},
		{`Digest realm="r", nonce="n", username="bob", response="z"`, reassembly.Auth{Kind: reassembly.AuthOther, Credential: `realm="r", nonce="n", username="bob", response="z"`, Principal: "bob"}},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=aa", reassembly.Auth{Kind: reassembly.AuthOther, Credential: "Credential=AKIDEXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=aa", Principal: "AKIDEXAMPLE"}},
		{`Hawk id="dh37fgj492je", ts="1353832234", nonce="j4h3g2", mac="6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE="`, reassembly.Auth{Kind: reassembly.AuthOther, Credential: `id="dh37fgj492je", ts="1353832234", nonce="j4h3g2", mac="6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE="`, Principal: "dh37fgj492je"}},
		{"Token 9944b09199c62bcf", reassembly.Auth{Kind: reassembly.AuthOther, Credential: "9944b09199c62bcf"}},
	} {
		tx := &reassembly.Transaction{Flow: reassembly.Flow{Client: netip.MustParseAddrPort("10.0.0.1:1")}}
		tx.Request = &http1.Request{Method: "GET"}
		if tc.header != "" {
			tx.Request.Headers = []http1.Header{{Name: "Authorization", Value: tc.header}}
		}
		var p Parser
		p.Auth(tx)
		tc.want.Parsed = true
		if tx.Auth != tc.want {
			t.Errorf("%q: got %+v, want %+v", tc.header, tx.Auth, tc.want)
		}
	}
}

func FuzzParseJWT(f *testing.F) {
	f.Add(b64(`{"alg":"RS256"}`) + "." + b64(`{"sub":"user-7"}`) + ".c2ln")
	f.Add("a.b.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		j, ok := ParseJWT(tok)
		if !ok && j != (JWT{}) {
			t.Fatalf("not a JWT but %+v", j)
		}
		if len(j.Subject) > 128 || len(j.Issuer) > 128 || len(j.ClientID) > 128 || len(j.Alg) > 32 {
			t.Fatalf("unbounded claim %+v", j)
		}
	})
}

// TestAuthAPIKey: Auth reads the first API key header of the list, in
// any casing, whether the header was parsed (ID set) or built by hand,
// next to the Authorization header; other headers are no API key.
func TestAuthAPIKey(t *testing.T) {
	for _, name := range APIKeyHeaders {
		if !IsAPIKeyHeader(&http1.Header{Name: strings.ToUpper(name)}) {
			t.Errorf("%s: not an API key header", name)
		}
	}
	for _, name := range []string{"X-Request-Id", "X-Api-Keys", "Cookie", "Authorization", "X-Custom"} {
		if IsAPIKeyHeader(&http1.Header{Name: name}) {
			t.Errorf("%s: taken for an API key header", name)
		}
	}
	var p Parser
	for _, tc := range []struct {
		name    string
		headers []http1.Header
		key     string
		kind    string
	}{
		{"none", []http1.Header{{Name: "Accept", Value: "*/*"}}, "", ""},
		{"built by hand", []http1.Header{{Name: "X-Api-Key", Value: "k1"}}, "k1", ""},
		{"parsed", []http1.Header{{Name: "x-goog-api-key", Value: "k2", ID: http1.LookupHeader("x-goog-api-key")}}, "k2", ""},
		{"the first one", []http1.Header{{Name: "Api-Key", Value: "k3"}, {Name: "X-Auth-Token", Value: "k4"}}, "k3", ""},
		{"with a bearer token", []http1.Header{{Name: "Authorization", Value: "Bearer opaque"}, {Name: "Private-Token", Value: "k5"}}, "k5", reassembly.AuthBearer},
	} {
		tx := &reassembly.Transaction{}
		tx.Request = &http1.Request{Method: "GET", Headers: tc.headers}
		p.Auth(tx)
		if tx.Auth.APIKey != tc.key || tx.Auth.Kind != tc.kind {
			t.Errorf("%s: API key %q kind %q, want %q %q", tc.name, tx.Auth.APIKey, tx.Auth.Kind, tc.key, tc.kind)
		}
	}
}

// TestAuthSession: Auth reads the first session cookie, by one rule
// (IsSessionCookie), across the Cookie fields of a request (HTTP/2 clients
// split cookies), next to the other credentials; a cookie without a value
// or of another name is none.
func TestAuthSession(t *testing.T) {
	for name, want := range map[string]bool{
		"sid": true, "JSESSIONID": true, "PHPSESSID": true, "connect.sid": true, "ASP.NET_SessionId": true,
		"_session": true, "laravel_session": true, "user_session": true, "X-Session-Token": true, "app_sid": true,
		strings.Repeat("s", 70) + "Session": true,
		"theme":                             false, "sidebar": false, "csrftoken": false, "auth_token": false, "": false, strings.Repeat("x", 80): false,
	} {
		if got := IsSessionCookie(name); got != want {
			t.Errorf("IsSessionCookie(%q) = %v", name, got)
		}
	}
	// no allocation, whatever the names' length
	long := &reassembly.Transaction{}
	long.Request = &http1.Request{Method: "GET", Headers: []http1.Header{{Name: "Cookie", Value: strings.Repeat("n", 70) + "=1; " + strings.Repeat("S", 90) + "_session=" + strings.Repeat("v", 20)}}}
	var p Parser
	if n := testing.AllocsPerRun(100, func() { p.Auth(long) }); n != 0 || long.Auth.Session == "" {
		t.Errorf("Auth on long cookie names: %v allocations, session %q", n, long.Auth.Session)
	}
	for _, tc := range []struct {
		name          string
		headers       []http1.Header
		cookie, value string
		kind          string
	}{
		{"none", []http1.Header{{Name: "Cookie", Value: "theme=dark; lang=en"}}, "", "", ""},
		{"the first one", []http1.Header{{Name: "Cookie", Value: "theme=dark; PHPSESSID=abc; sid=def"}}, "PHPSESSID", "abc", ""},
		{"empty value", []http1.Header{{Name: "Cookie", Value: "sid=; session_id=s1"}}, "session_id", "s1", ""},
		{"split over fields", []http1.Header{{Name: "cookie", Value: "a=1"}, {Name: "cookie", Value: "laravel_session=xyz"}}, "laravel_session", "xyz", ""},
		{"parsed header", []http1.Header{{Name: "Cookie", Value: "sid=p1", ID: http1.LookupHeader("cookie")}}, "sid", "p1", ""},
		{"with a bearer token", []http1.Header{{Name: "Authorization", Value: "Bearer opaque"}, {Name: "Cookie", Value: " sid = q "}}, "sid", "q", reassembly.AuthBearer},
		{"analytics cookies first", []http1.Header{{Name: "Cookie", Value: "_hjSessionUser_123=eyJpZCI6IjEyMzQ1Njc4OTAifQ; _hjIncludedInSessionSample_123=0; sessionTimeout=1800; PHPSESSID=real1"}}, "PHPSESSID", "real1", ""},
		{"a flag is no session", []http1.Header{{Name: "Cookie", Value: "_hjIncludedInSessionSample_123=0; sessionTimeout=1800"}}, "", "", ""},
		{"a token under another name", []http1.Header{{Name: "Cookie", Value: "theme=dark; app_session=3f9a0c27d1e84b6a"}}, "app_session", "3f9a0c27d1e84b6a", ""},
		{"a framework's cookie in a later field", []http1.Header{{Name: "cookie", Value: "__stripe_sid=8d0e5c7a-4b1f-4c2e"}, {Name: "cookie", Value: "connect.sid=s%3Areal"}}, "connect.sid", "s%3Areal", ""},
		{"quoted", []http1.Header{{Name: "Cookie", Value: `sid=""; JSESSIONID="j1"`}}, "JSESSIONID", "j1", ""},
	} {
		tx := &reassembly.Transaction{}
		tx.Request = &http1.Request{Method: "GET", Headers: tc.headers}
		p.Auth(tx)
		if tx.Auth.SessionCookie != tc.cookie || tx.Auth.Session != tc.value || tx.Auth.Kind != tc.kind || !tx.Auth.Parsed {
			t.Errorf("%s: %+v, want %q=%q kind %q", tc.name, tx.Auth, tc.cookie, tc.value, tc.kind)
		}
	}
}

// FuzzParseAuth: any Authorization value parses without panicking; a
// non-empty one gets a scheme; the principal of Basic and of the signature
// schemes is bounded.
func FuzzParseAuth(f *testing.F) {
	for _, v := range []string{
		"Bearer " + b64(`{"alg":"RS256"}`) + "." + b64(`{"sub":"u"}`) + ".c2ln", "Bearer opaque",
		"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw")), `Digest username="bob", nonce="n"`,
		"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, Signature=aa",
		`Hawk id="x", mac="y"`, `Signature keyId="k",signature="s"`, "Token abc", "", "Digest", "Digest username",
	} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		var p Parser
		var a reassembly.Auth
		p.Parse(v, &a)
		if strings.TrimSpace(v) != "" && a.Kind == "" {
			t.Fatalf("%q: no scheme", v)
		}
		if (a.Kind == reassembly.AuthBasic || a.Kind == reassembly.AuthOther) && len(a.Principal) > 128 {
			t.Fatalf("%q: principal of %d bytes", v, len(a.Principal))
		}
	})
}

// FuzzSessionCookie: any Cookie value gives no session, or a session
// cookie (by IsSessionCookie) with a value, both cut from the input, the
// value a token unless the name is a framework's; the rule does not
// depend on (ASCII) casing.
func FuzzSessionCookie(f *testing.F) {
	for _, v := range []string{"theme=dark; PHPSESSID=abc", "sid=; session_id=s1", " sid = q ", ";;=;", "SESSION=" + strings.Repeat("x", 100)} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		name, value := SessionCookie(v)
		if name == "" {
			if value != "" {
				t.Fatalf("%q: value %q without a name", v, value)
			}
			return
		}
		if value == "" || !IsSessionCookie(name) || !strings.Contains(v, name) || !strings.Contains(v, value) ||
			strings.TrimSpace(name) != name || !sessionName(name) && len(value) < minSessionToken {
			t.Fatalf("%q: session %q=%q", v, name, value)
		}
		ascii := strings.IndexFunc(name, func(r rune) bool { return r >= 0x80 }) < 0
		if ascii && IsSessionCookie(name) != IsSessionCookie(strings.ToUpper(name)) {
			t.Fatalf("%q: the rule depends on casing", name)
		}
	})
}
