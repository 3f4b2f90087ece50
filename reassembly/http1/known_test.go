package http1

import (
	"strings"
	"testing"
)

func TestKnownHeaders(t *testing.T) {
	if NumHeaderIDs > 256 {
		t.Fatalf("%d names do not fit a HeaderID", NumHeaderIDs)
	}
	seen := map[string]bool{}
	for id := IDOther + 1; int(id) < NumHeaderIDs; id++ {
		n := KnownName(id)
		if n != strings.ToLower(n) || n == "" || len(n) > knownMaxLen || seen[n] {
			t.Errorf("name %d %q: not lower case, empty, too long or repeated", id, n)
		}
		seen[n] = true
		for _, v := range []string{n, strings.ToUpper(n), strings.Title(n)} {
			if got := LookupHeader(v); got != id {
				t.Errorf("LookupHeader(%q) = %d, want %d", v, got, id)
			}
		}
	}
	named := map[HeaderID]string{IDHost: "host", IDUserAgent: "user-agent", IDAuthorization: "authorization", IDCookie: "cookie",
		IDSetCookie: "set-cookie", IDContentType: "content-type", IDContentLength: "content-length", IDTransferEncoding: "transfer-encoding",
		IDXForwardedFor: "x-forwarded-for", IDXRequestID: "x-request-id", IDXAPIKey: "x-api-key", IDOrigin: "origin"}
	for id, n := range named {
		if KnownName(id) != n {
			t.Errorf("constant %d names %q, want %q", id, KnownName(id), n)
		}
	}
	for _, n := range []string{"", "x", "X-Custom-Thing", "hosts", "hos", strings.Repeat("a", 100), "content-typ\xff"} {
		if got := LookupHeader(n); got != IDOther {
			t.Errorf("LookupHeader(%q) = %d, want IDOther", n, got)
		}
	}
	h := Header{Name: "Content-Type"}
	if h.Known() != IDContentType {
		t.Errorf("Known on a hand-made header")
	}
}

func BenchmarkLookupHeader(b *testing.B) {
	names := []string{"Host", "User-Agent", "Accept", "Authorization", "X-Request-Id", "Date", "Server", "Cache-Control", "Content-Type", "X-Custom-Thing"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		LookupHeader(names[i%len(names)])
	}
}

func FuzzLookupHeader(f *testing.F) {
	f.Add("Content-Length")
	f.Add("x-unknown")
	f.Add("content\rlength")
	f.Add("X-B\x13-TraceID")
	f.Fuzz(func(t *testing.T, name string) {
		// lookupField tells tokens exactly, and looks them up as LookupHeader
		id, ok := lookupField(name)
		if tok := name != "" && validName(name); ok != tok || ok && id != LookupHeader(name) {
			t.Fatalf("lookupField(%q) = %d, %v; token %v, LookupHeader %d", name, id, ok, tok, LookupHeader(name))
		}
		if !validName(name) {
			return // LookupHeader takes field names (tokens)
		}
		id = LookupHeader(name)
		if id != IDOther && !strings.EqualFold(KnownName(id), name) {
			t.Fatalf("%q looked up as %q", name, KnownName(id))
		}
	})
}

// TestLookupField: names with control bytes, spaces or delimiters where a
// well-known name has digits or dashes are not tokens.
func TestLookupField(t *testing.T) {
	for _, n := range []string{"content\rlength", "Content-Length", "content-length ", " host", "x-b\x13-traceid", "X-B3-TraceId",
		"x-custom", "x custom", "x-cust\x7fom", "x-api-key\x00", "sec-ch-ua\x0d", "", "Host", "hOST\t"} {
		id, ok := lookupField(n)
		tok := n != "" && validName(n)
		if ok != tok || ok && id != LookupHeader(n) {
			t.Errorf("lookupField(%q) = %d, %v; token %v, LookupHeader %d", n, id, ok, tok, LookupHeader(n))
		}
	}
}

// TestKnownNonToken: a hand-built name with control bytes is not taken for
// a well-known one (LookupHeader compares words folded with |0x20).
func TestKnownNonToken(t *testing.T) {
	for _, n := range []string{"content\rlength", "Transfer\rEncoding", "x-b\x13-traceid"} {
		if h := (Header{Name: n}); h.Known() != IDOther {
			t.Errorf("%q known as %q", n, KnownName(h.Known()))
		}
	}
}
