package sensitive

import (
	"strings"
	"testing"
)

// TestHexNamesHaveNoHint: every word hintOf looks for holds a letter that
// is not a hexadecimal digit, so a name of hex digits and dashes (an id or
// UUID before the next path segment) has no hint, and the cache may answer
// 0 without looking.
func TestHexNamesHaveNoHint(t *testing.T) {
	for _, words := range [][]string{ssnWords, cardWords, phoneWords, dobWords, imeiWords, secretWords, passwordWords, emailWords, ipWords, idWords, idSuffixes, timeWords} {
		for _, w := range words {
			if w != strings.ToLower(w) || hexName([]byte(w)) {
				t.Errorf("%q: words must be lower case and hold a letter other than a-f", w)
			}
		}
	}
	var c hintCache
	for _, name := range []string{"43189e1f-4db3-dd8b-1155-35910aa4aacd", "DEADBEEF", "12345", "a-b-c"} {
		if hintOf(name) != 0 || c.of([]byte(name)) != 0 {
			t.Errorf("%q has a hint", name)
		}
	}
}

// TestHintCache: the cache answers what hintOf answers, for names that
// share a set and names that do not.
func TestHintCache(t *testing.T) {
	var c hintCache
	names := []string{"email", "user_email", "phone", "card_number", "count_1", "catalog", "billing", "payment_intents", "ip_address", "zip", "pin", "spin", "Order-ID", "x"}
	for i := 0; i < 2000; i++ {
		names = append(names, "field"+strings.Repeat("x", i%40)+string(rune('a'+i%26)))
	}
	for round := 0; round < 3; round++ {
		for _, n := range names {
			if got, want := c.of([]byte(n)), hintOf(n); got != want {
				t.Fatalf("%q: cache %b, hintOf %b", n, got, want)
			}
		}
	}
}
