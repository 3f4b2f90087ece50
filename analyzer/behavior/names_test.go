package behavior

import (
	"strings"
	"testing"
)

// TestNameSet: the set answers as a map of lower-cased names looked up
// with the same lower-casing would, Unicode and long names included.
func TestNameSet(t *testing.T) {
	names := []string{"X-API-Key", "apikey", "x-auth-token", "Session", "asp.net_sessionid", "", strings.Repeat("L", 64), strings.Repeat("m", 70), "\u00c4pi"}
	s := newNameSet(names...)
	m := map[string]bool{}
	for _, n := range names {
		m[strings.ToLower(n)] = true
	}
	for _, fold := range []func(string) string{lowerShort, strings.ToLower} {
		for _, q := range []string{"x-api-key", "X-Api-KEY", "X-API-Kez", "Accept", "X-Request-Id", "APIKEY", "apikeys", "", "SESSION", "ASP.NET_SessionId",
			"X-API-\u212aey", "x-api-\u212aey", "\u00c4PI", "\u00e4pi", strings.Repeat("l", 64), strings.Repeat("L", 63), strings.Repeat("M", 70), "x\xff", "Host"} {
			if got, want := s.has(q, fold), m[fold(q)]; got != want {
				t.Errorf("has(%q) = %v, want %v", q, got, want)
			}
		}
	}
}

// TestIsASCII: word by word as byte by byte, a high byte in every place.
func TestIsASCII(t *testing.T) {
	for n := 0; n <= 20; n++ {
		b := []byte(strings.Repeat("a", n))
		if !isASCII(string(b)) {
			t.Errorf("isASCII(%q) = false", b)
		}
		for i := 0; i < n; i++ {
			b[i] = 0x80 | byte(i)
			if isASCII(string(b)) {
				t.Errorf("isASCII(%q) = true", b)
			}
			b[i] = 'a'
		}
	}
}
