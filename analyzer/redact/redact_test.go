package redact

import (
	"strings"
	"testing"

	"github.com/apitap/apitap/analyzer/identity"
)

func TestHeader(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"Host", "api.example", "api.example"},
		{"Authorization", "Bearer eyJhbGciOi.x.y", "Bearer [REDACTED len=14]"},
		{"authorization", "Basic dXNlcjpwYXNz", "Basic [REDACTED len=12]"},
		{"Cookie", "sid=abc123; theme=dark", "sid=[REDACTED len=6]; theme=[REDACTED len=4]"},
		{"Set-Cookie", "sid=abc123; Path=/; HttpOnly", "sid=[REDACTED len=6]; Path=/; HttpOnly"},
		{"X-Api-Key", "k-123", "[REDACTED len=5]"},
		{"X-Session-Id", "s1", "[REDACTED len=2]"},
		{"X-Upstream-Token", "t", "[REDACTED len=1]"},
		{"User-Agent", "curl/8", "curl/8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Header(c.name, c.in); got != c.want {
				t.Fatalf("Header(%q, %q) = %q, want %q", c.name, c.in, got, c.want)
			}
		})
	}
}

func TestQuery(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"page=2&sort=name", "page=2&sort=name"},
		{"access_token=abc&page=1", "access_token=[REDACTED len=3]&page=1"},
		{"q=john%40example.com", "q=[REDACTED len=18]"},
		{"email=a@b.co", "email=[REDACTED len=6]"},
		{"n=4111111111111111", "n=[REDACTED len=16]"},
		{"n=4111-1111-1111-1111", "n=[REDACTED len=19]"},
		{"id=12345", "id=12345"},
		{"t=eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", "t=[REDACTED len=36]"},
		{"flag&password=x", "flag&password=[REDACTED len=1]"},
	}
	for _, c := range cases {
		if got := Query(c.in); got != c.want {
			t.Errorf("Query(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Query("page=2&sort=name&limit=50") }); n != 0 {
		t.Errorf("Query allocates %v times on a clean query", n)
	}
}

func FuzzQuery(f *testing.F) {
	for _, s := range []string{"a=1", "token=x&b=2", "email=a@b.c", "n=4111111111111111", "&&==", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		in, out := strings.Split(raw, "&"), strings.Split(Query(raw), "&")
		if len(in) != len(out) {
			t.Fatalf("%q: %d parameters became %d", raw, len(in), len(out))
		}
		for i, part := range in {
			name, val, ok := strings.Cut(part, "=")
			if ok && (sensitiveParam(name) || SensitiveValue(val)) && out[i] != name+"="+Mask(val) {
				t.Fatalf("%q: sensitive parameter %d kept as %q", raw, i, out[i])
			}
			if !ok && SensitiveValue(part) && out[i] != Mask(part) {
				t.Fatalf("%q: sensitive value %d kept as %q", raw, i, out[i])
			}
		}
	})
}

func BenchmarkQuery(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Query("page=2&sort=name&access_token=abcdef&limit=50")
	}
}

// TestAPIKeyHeadersRedacted: every header the sensor reads as an API key
// (identity.APIKeyHeaders), in any casing, is exported redacted.
func TestAPIKeyHeadersRedacted(t *testing.T) {
	for _, name := range identity.APIKeyHeaders {
		for _, n := range []string{name, strings.ToUpper(name)} {
			if got := Header(n, "RAWKEY06VALUE"); strings.Contains(got, "RAWKEY") {
				t.Errorf("Header(%q) = %q: the key goes out raw", n, got)
			}
		}
	}
}
