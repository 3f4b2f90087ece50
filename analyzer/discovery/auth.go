package discovery

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"hash/maphash"
	"strings"
)

// authInfo is what one request says about its authentication. user is
// only fed to a distinct-count sketch, never stored or exported.
type authInfo struct {
	kind int
	name string // API key header or query parameter name
	alg  string // JWT alg
	iss  string // JWT issuer
	user string
}

// jwtInfo is the cached decoding of one bearer token.
type jwtInfo struct {
	ok            bool
	alg, iss, sub string
}

// apiKeyHeaders are request headers that carry API keys.
var apiKeyHeaders = map[string]bool{
	"x-api-key": true, "api-key": true, "apikey": true, "x-apikey": true, "x-auth-token": true,
	"x-access-token": true, "ocp-apim-subscription-key": true, "x-goog-api-key": true, "x-api-token": true,
	"private-token": true, "x-functions-key": true,
}

// apiKeyParams are query parameters that carry API keys or tokens.
var apiKeyParams = map[string]bool{
	"api_key": true, "apikey": true, "api-key": true, "key": true, "access_token": true, "token": true, "auth": true,
}

// sessionCookies are cookie names (lower case) of server sessions.
func isSessionCookie(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "sid", "jsessionid", "phpsessid", "connect.sid", "asp.net_sessionid", "_session", "session", "sessionid", "laravel_session":
		return true
	}
	return strings.Contains(n, "session") || strings.HasSuffix(n, "_sid")
}

// authHeader looks at one request header (name in lower case); the
// strongest scheme wins when a request carries several.
func (t *trie) authHeader(name, value string, au *authInfo) {
	switch {
	case name == "authorization":
		scheme, cred, _ := strings.Cut(strings.TrimSpace(value), " ")
		cred = strings.TrimSpace(cred)
		switch {
		case strings.EqualFold(scheme, "basic"):
			au.kind = authBasic
			au.user = t.basicUserOf(cred)
		case strings.EqualFold(scheme, "bearer"):
			if j := t.decodeJWT(cred); j.ok {
				au.kind, au.alg, au.iss, au.user = authBearerJWT, j.alg, j.iss, j.sub
			} else {
				au.kind = authBearer
			}
		default:
			au.kind = authOther
			au.name = "authorization:" + boundedToken(strings.ToLower(scheme))
		}
	case apiKeyHeaders[name]:
		if au.kind == authNone || au.kind == authSessionCookie {
			au.kind, au.name = authAPIKeyHeader, name
		}
	case name == "cookie":
		if au.kind != authNone {
			return
		}
		for c := value; c != ""; {
			var kv string
			kv, c, _ = strings.Cut(c, ";")
			k, _, _ := strings.Cut(strings.TrimSpace(kv), "=")
			if isSessionCookie(k) {
				au.kind, au.name = authSessionCookie, "cookie:"+boundedToken(strings.ToLower(k))
				return
			}
		}
	}
}

// basicUserOf is basicUser through a bounded direct-mapped cache keyed
// by the credentials, as decodeJWT's (a client sends the same ones on
// every request).
func (t *trie) basicUserOf(cred string) string {
	if len(cred) > maxCachedBasic {
		return basicUser(cred)
	}
	if t.basic == nil {
		t.basic = make([]basicSlot, basicSlots)
	}
	e := &t.basic[maphash.String(slotSeed, cred)&(basicSlots-1)]
	if e.cred != cred || e.cred == "" {
		e.cred, e.user = strings.Clone(cred), basicUser(cred)
	}
	return e.user
}

// basicSlots bounds basicUserOf's cache (a power of two), maxCachedBasic
// the credentials it keeps (at most 256 KB of them).
const (
	basicSlots     = 1024
	maxCachedBasic = 256
)

type basicSlot struct{ cred, user string }

// basicUser is the user name of Basic credentials ("" when they do not
// decode or have no colon), decoded on the stack when they are short.
func basicUser(cred string) string {
	var buf [192]byte
	var b []byte
	if base64.StdEncoding.DecodedLen(len(cred)) <= len(buf) {
		n, err := base64.StdEncoding.Decode(buf[:], []byte(cred))
		if err != nil {
			return ""
		}
		b = buf[:n]
	} else {
		var err error
		if b, err = base64.StdEncoding.DecodeString(cred); err != nil {
			return ""
		}
	}
	if u, _, ok := bytes.Cut(b, []byte{':'}); ok {
		return string(u)
	}
	return ""
}

// authQuery finds an API key in the query when no header carried one.
func authQuery(q string, au *authInfo) {
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		if v != "" && apiKeyParams[strings.ToLower(k)] {
			au.kind, au.name = authAPIKeyQuery, "query:"+boundedToken(strings.ToLower(k))
			return
		}
	}
}

// decodeJWT decodes the header and claims of a JWT (without verifying
// it), through a bounded per-worker cache keyed by the token: a
// direct-mapped table (a hit costs a hash and one comparison, less than
// a map lookup).
func (t *trie) decodeJWT(tok string) *jwtInfo {
	if len(tok) > maxCachedToken {
		t.big = parseJWT(tok) // not kept: a hostile header would pin its size in every slot
		return &t.big
	}
	if t.jwt == nil {
		t.jwt = make([]jwtSlot, jwtSlots)
	}
	e := &t.jwt[tokenSlot(tok)]
	if e.tok != tok || e.tok == "" {
		e.tok, e.info = strings.Clone(tok), parseJWT(tok)
	}
	return &e.info
}

// jwtSlots bounds decodeJWT's cache per worker (a power of two), and
// maxCachedToken the tokens it keeps (at most 16 MB of them per worker).
const (
	jwtSlots       = 4096
	maxCachedToken = 4096
)

type jwtSlot struct {
	tok  string
	info jwtInfo
}

// tokenSlot picks a token's slot (the seed only spreads tokens).
func tokenSlot(tok string) int {
	return int(maphash.String(slotSeed, tok) & (jwtSlots - 1))
}

var slotSeed = maphash.MakeSeed()

func parseJWT(tok string) jwtInfo {
	if len(tok) > 8192 {
		return jwtInfo{}
	}
	h, rest, ok := strings.Cut(tok, ".")
	if !ok {
		return jwtInfo{}
	}
	p, _, ok := strings.Cut(rest, ".")
	if !ok {
		return jwtInfo{}
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(h, "="))
	pb, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(p, "="))
	if err1 != nil || err2 != nil {
		return jwtInfo{}
	}
	var alg [1]string
	var claims [2]string // iss, sub
	if !jwtHeader(hb, alg[:]) || !jwtClaims(pb, claims[:]) || alg[0] == "" {
		return jwtInfo{}
	}
	return jwtInfo{ok: true, alg: boundedToken(alg[0]), iss: boundedIssuer(claims[0]), sub: claims[1]}
}

// jwtHeader and jwtClaims read a JWT's header (alg) and claims (iss,
// sub) as json.Unmarshal reads them into string fields, through
// flatStrings for plain documents.
func jwtHeader(b []byte, out []string) bool {
	if ok, handled := flatStrings(b, jwtHeadKeys, out); handled {
		return ok
	}
	var head struct {
		Alg string `json:"alg"`
	}
	err := json.Unmarshal(b, &head)
	out[0] = head.Alg
	return err == nil
}

func jwtClaims(b []byte, out []string) bool {
	if ok, handled := flatStrings(b, jwtClaimKeys, out); handled {
		return ok
	}
	var claims struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
	}
	err := json.Unmarshal(b, &claims)
	out[0], out[1] = claims.Iss, claims.Sub
	return err == nil
}

var (
	jwtHeadKeys  = []string{"alg"}
	jwtClaimKeys = []string{"iss", "sub"}
)

// boundedIssuer keeps an issuer (usually a URL) printable and short.
func boundedIssuer(s string) string {
	if len(s) > 128 {
		s = s[:128]
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return "(invalid)"
		}
	}
	return s
}
