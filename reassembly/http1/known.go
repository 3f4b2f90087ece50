package http1

// Well-known header names get a small number at parse time (Header.ID), so
// that each analyzer classifies a header by indexing a table it built once
// instead of folding and hashing the name again: five analyzers look at
// every header of every transaction.

// HeaderID numbers a well-known header name; 0 means not looked up (a
// Header built by hand), IDOther a name outside the list.
type HeaderID uint8

// The well-known names. Analyzers use the named ones directly; the rest
// only have to be known to be classified through a table.
const (
	IDNone HeaderID = iota
	IDOther
	IDHost
	IDUserAgent
	IDAccept
	IDAcceptEncoding
	IDAcceptLanguage
	IDAuthorization
	IDProxyAuthorization
	IDCookie
	IDSetCookie
	IDContentType
	IDContentLength
	IDContentEncoding
	IDTransferEncoding
	IDConnection
	IDKeepAlive
	IDUpgrade
	IDDate
	IDServer
	IDXForwardedFor
	IDXRealIP
	IDForwarded
	IDVia
	IDReferer
	IDOrigin
	IDXRequestID
	IDXAPIKey
	idCount // (the names below have no constant of their own)
)

// knownNames are the lower-case names, indexed by HeaderID (the first
// idCount ones are the constants above).
var knownNames = [...]string{
	"", "",
	"host", "user-agent", "accept", "accept-encoding", "accept-language",
	"authorization", "proxy-authorization", "cookie", "set-cookie",
	"content-type", "content-length", "content-encoding", "transfer-encoding",
	"connection", "keep-alive", "upgrade", "date", "server",
	"x-forwarded-for", "x-real-ip", "forwarded", "via", "referer", "origin",
	"x-request-id", "x-api-key",
	// known, without a constant
	"etag", "if-none-match", "if-modified-since", "last-modified", "cache-control",
	"pragma", "vary", "expires", "age", "location", "www-authenticate",
	"traceparent", "tracestate", "x-amzn-trace-id", "x-b3-traceid", "x-b3-spanid",
	"x-correlation-id", "content-security-policy", "strict-transport-security",
	"x-frame-options", "x-content-type-options", "x-xss-protection",
	"access-control-allow-origin", "access-control-allow-credentials",
	"access-control-request-method", "content-disposition", "range", "expect", "te",
	"x-powered-by", "x-aspnet-version", "x-csrf-token", "x-xsrf-token",
	"x-http-method-override", "api-key", "apikey", "x-apikey", "x-auth-token",
	"api-version", "x-api-version", "accept-version", "dnt", "priority",
	"sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest", "sec-fetch-user",
	"sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "upgrade-insecure-requests",
	"x-requested-with", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port",
	"if-match", "if-unmodified-since", "content-language", "retry-after",
	"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "alt-svc", "x-aspnetmvc-version",
	"x-access-token", "ocp-apim-subscription-key", "x-goog-api-key", "x-api-token", "private-token", "x-functions-key",
}

// NumHeaderIDs bounds HeaderID values: tables indexed by ID have this many
// entries.
const NumHeaderIDs = len(knownNames)

// KnownName returns the lower-case name of a well-known ID ("" for IDNone
// and IDOther).
func KnownName(id HeaderID) string { return knownNames[id] }

// knownSlots is an open-addressing table from a name's hash to its ID.
var knownSlots [512]HeaderID

const knownMaxLen = 40 // no well-known name is longer

func init() {
	for id := IDOther + 1; int(id) < len(knownNames); id++ {
		h := nameHash(knownNames[id])
		for knownSlots[h&511] != IDNone {
			h++
		}
		knownSlots[h&511] = id
	}
}

// nameHash hashes a header name case-insensitively, from its length and
// three of its bytes (cheap; LookupHeader compares the whole name after).
func nameHash(name string) uint32 {
	n := len(name)
	k := uint32(n)<<24 | uint32(name[0]|0x20)<<16 | uint32(name[n/2]|0x20)<<8 | uint32(name[n-1]|0x20)
	return (k * 2654435761) >> 23 // the top 9 bits: a slot of 512
}

// LookupHeader returns the ID of a header name (any casing; a token, as
// the parser accepts): a well-known one, or IDOther.
func LookupHeader(name string) HeaderID {
	if len(name) == 0 || len(name) > knownMaxLen {
		return IDOther
	}
	for h := nameHash(name); ; h++ {
		id := knownSlots[h&511]
		if id == IDNone {
			return IDOther
		}
		if k := knownNames[id]; len(k) == len(name) && foldEq(name, k) {
			return id
		}
	}
}

// lookupField is LookupHeader for a field name not known to be a token
// yet: it returns the ID and whether name is a token. A name foldEqTok
// matches with a well-known one is a token (the name of letters, digits
// and dashes, without the control bytes |0x20 maps onto digits and '-');
// any other name is checked byte by byte.
func lookupField(name string) (HeaderID, bool) {
	if len(name) == 0 || len(name) > knownMaxLen {
		return IDOther, len(name) > 0 && validName(name)
	}
	for h := nameHash(name); ; h++ {
		id := knownSlots[h&511]
		if id == IDNone {
			return IDOther, validName(name)
		}
		if k := knownNames[id]; len(k) == len(name) && foldEqTok(name, k) {
			return id, true
		}
	}
}

// Word tests for a byte below 0x21 (a control byte or a space): exact for
// whether there is one (Bit Twiddling Hacks, "hasless").
const (
	below64 = 0x2121212121212121
	high64  = 0x8080808080808080
	below32 = 0x21212121
	high32  = 0x80808080
)

// foldEqTok is foldEq that also refuses a byte below 0x21 in name.
func foldEqTok(name, lower string) bool {
	n := len(lower)
	switch {
	case n >= 8:
		for i := 0; i+8 < n; i += 8 {
			x := load64(name[i:])
			if x|0x2020202020202020 != load64(lower[i:]) || (x-below64)&^x&high64 != 0 {
				return false
			}
		}
		x := load64(name[n-8:])
		return x|0x2020202020202020 == load64(lower[n-8:]) && (x-below64)&^x&high64 == 0
	case n >= 4:
		x, y := load32(name), load32(name[n-4:])
		return x|0x20202020 == load32(lower) && y|0x20202020 == load32(lower[n-4:]) &&
			((x-below32)&^x|(y-below32)&^y)&high32 == 0
	}
	for i := 0; i < n; i++ {
		if name[i]|0x20 != lower[i] || name[i] < 0x21 {
			return false
		}
	}
	return true
}

// foldEq compares name with a lower-case name of letters, digits and
// dashes, ignoring ASCII case, eight bytes at a time: c|0x20 is the lower
// case of a letter and leaves digits and '-' as they are; the only other
// bytes it maps onto them are control characters, which a field name
// (a token) never holds.
func foldEq(name, lower string) bool {
	n := len(lower)
	switch {
	case n >= 8: // words, the last one overlapping the one before
		for i := 0; i+8 < n; i += 8 {
			if load64(name[i:])|0x2020202020202020 != load64(lower[i:]) {
				return false
			}
		}
		return load64(name[n-8:])|0x2020202020202020 == load64(lower[n-8:])
	case n >= 4: // two overlapping half-words
		return load32(name)|0x20202020 == load32(lower) && load32(name[n-4:])|0x20202020 == load32(lower[n-4:])
	}
	for i := 0; i < n; i++ {
		if name[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}

// load32 reads the first four bytes of s (little-endian).
func load32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// load64 reads the first eight bytes of s (little-endian).
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// Get returns the value of the first header with a well-known name, or "".
func Get(hs []Header, id HeaderID) string {
	for i := range hs {
		if hs[i].Known() == id {
			return hs[i].Value
		}
	}
	return ""
}

// Known returns the header's ID, looking it up when the Header was built
// by hand (ID not set).
func (h *Header) Known() HeaderID {
	if h.ID != IDNone {
		return h.ID
	}
	return lookupBuilt(h.Name)
}

// lookupBuilt looks up the name of a header built by hand (apart from
// Known, which stays small enough to inline).
func lookupBuilt(name string) HeaderID {
	if !validName(name) {
		return IDOther // LookupHeader takes tokens only
	}
	return LookupHeader(name)
}
