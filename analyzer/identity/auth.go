package identity

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"hash/maphash"
	"strings"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// JWT is what the sensor reads from a JSON Web Token: its header's
// algorithm and the claims that name who holds it. The signature is not
// checked: the sensor identifies, it does not authorize. A token is a JWT
// when it has three dot-separated parts whose first two are base64url
// JSON objects and whose header names an algorithm ("none" included).
type JWT struct {
	Alg, Issuer, Subject string
	// ClientID is the client_id claim, else the azp (authorized party).
	ClientID string
	Unsigned bool // alg none or an empty signature
	// Service says the holder is a service, not a person: a
	// client-credentials grant ("gty"), an Auth0-style "...@clients"
	// subject, or a client id that is the subject or stands alone.
	Service bool
}

// Principal is who the token speaks for: its subject, else its client id
// (client-credential tokens of integrations).
func (j *JWT) Principal() string {
	if j.Subject != "" {
		return j.Subject
	}
	return j.ClientID
}

// ParseJWT decodes tok's header and claims; ok is false when tok is not a
// JWT (see JWT). Claims longer than 128 bytes are cut; tokens longer than
// 8 KiB are not decoded.
func ParseJWT(tok string) (j JWT, ok bool) {
	if len(tok) > 8192 {
		return j, false
	}
	h, rest, ok1 := strings.Cut(tok, ".")
	p, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sig, '.') >= 0 {
		return j, false
	}
	var head struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss      json.RawMessage `json:"iss"`
		Sub      json.RawMessage `json:"sub"`
		ClientID json.RawMessage `json:"client_id"`
		AZP      json.RawMessage `json:"azp"`
		GTY      json.RawMessage `json:"gty"`
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(h, "="))
	pb, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(p, "="))
	if err1 != nil || err2 != nil || !isObject(hb) || !isObject(pb) || json.Unmarshal(hb, &head) != nil || json.Unmarshal(pb, &claims) != nil || head.Alg == "" {
		return j, false
	}
	j = JWT{Alg: bounded(head.Alg, 32), Issuer: claim(claims.Iss), Subject: claim(claims.Sub), ClientID: claim(claims.ClientID)}
	if j.ClientID == "" {
		j.ClientID = claim(claims.AZP)
	}
	j.Unsigned = strings.EqualFold(head.Alg, "none") || sig == ""
	gty := claim(claims.GTY)
	j.Service = gty == "client-credentials" || gty == "client_credentials" || strings.HasSuffix(j.Subject, "@clients") ||
		j.ClientID != "" && (j.Subject == "" || j.Subject == j.ClientID)
	return j, true
}

func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 1 && b[0] == '{'
}

// claim is a string or number claim as text (bounded), "" otherwise.
func claim(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return bounded(s, 128)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return bounded(n.String(), 128)
	}
	return ""
}

func bounded(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Parser reads a request's credentials, once per transaction, through a
// bounded cache of decoded tokens. One per worker (not safe for concurrent
// use).
type Parser struct {
	slots []jwtSlot
}

type jwtSlot struct {
	tok string
	jwt JWT
	ok  bool
}

// Cache bounds: slots (a power of two) and the longest token kept (a
// hostile header must not pin its size in every slot).
const (
	jwtSlots    = 4096
	maxCacheTok = 4096
)

var slotSeed = maphash.MakeSeed()

// JWT decodes tok through the cache.
func (p *Parser) JWT(tok string) (JWT, bool) {
	if len(tok) > maxCacheTok {
		return ParseJWT(tok)
	}
	if p.slots == nil {
		p.slots = make([]jwtSlot, jwtSlots)
	}
	e := &p.slots[maphash.String(slotSeed, tok)&(jwtSlots-1)]
	if e.tok != tok || e.tok == "" {
		e.tok = strings.Clone(tok)
		e.jwt, e.ok = ParseJWT(tok)
	}
	return e.jwt, e.ok
}

// Auth reads the request's credentials into tx.Auth, in one pass over its
// headers: from the Authorization header the scheme, the principal (a
// JWT's subject or client id, a Basic user name) and, for opaque bearer
// tokens and other schemes, the credential itself; the value of the first
// API key header (APIKeyHeaders); the first session cookie of its Cookie
// headers (IsSessionCookie). Credentials are raw: for keying actors, never
// exported.
func (p *Parser) Auth(tx *reassembly.Transaction) {
	tx.Auth = reassembly.Auth{Parsed: true}
	if tx.Request == nil {
		return
	}
	var authz, key, cookie, session string
	var haveAuthz, haveKey bool // the first of each counts, as http1.Get
	for i := range tx.Request.Headers {
		h := &tx.Request.Headers[i]
		switch id := h.Known(); {
		case id == http1.IDAuthorization && !haveAuthz:
			authz, haveAuthz = h.Value, true
		case apiKeyIDs[id] && !haveKey:
			key, haveKey = h.Value, true
		case id == http1.IDCookie && !sessionName(cookie):
			// HTTP/2 clients may split cookies over several fields: a
			// framework's session cookie in a later one comes first
			if k, v := SessionCookie(h.Value); k != "" && (session == "" || sessionName(k)) {
				cookie, session = k, v
			}
		}
	}
	p.Parse(authz, &tx.Auth)
	tx.Auth.APIKey, tx.Auth.SessionCookie, tx.Auth.Session, tx.Auth.Parsed = key, cookie, session, true
}

// IsSessionCookie says whether a cookie's name (any casing) names a server
// session: the session cookies of the common frameworks (sessionNames),
// any name holding "session", any ending in "_sid". The sensitive analyzer
// counts such cookies as credentials; SessionCookie picks a request's
// session by it.
func IsSessionCookie(name string) bool {
	if sessionName(name) {
		return true
	}
	return hasFold(name, "session") || len(name) >= 4 && strings.EqualFold(name[len(name)-4:], "_sid")
}

// sessionNames are the session cookies of the common frameworks (lower
// case).
var sessionNames = map[string]bool{
	"sid": true, "jsessionid": true, "phpsessid": true, "connect.sid": true, "asp.net_sessionid": true,
	"_session": true, "session": true, "sessionid": true, "session_id": true, "laravel_session": true,
}

// sessionName says whether name is one of sessionNames, in any casing.
func sessionName(name string) bool {
	var buf [24]byte
	if len(name) > len(buf) {
		return false // longer than any of them
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return sessionNames[string(buf[:len(name)])]
}

// hasFold says whether s holds sub (lower case ASCII) in any casing.
func hasFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// minSessionToken is the shortest value a cookie named only like a session
// (not one of sessionNames) must have to be taken for one: analytics
// cookies hold flags, counters and timeouts (_hjIncludedInSessionSample=0,
// sessionTimeout=1800) that many browsers share.
const minSessionToken = 16

// SessionCookie finds a request's session in a Cookie header's value v
// (pairs separated by ';'), or in a Set-Cookie value's first pair: the
// first cookie of sessionNames with a value, else the first other cookie
// IsSessionCookie names whose value is a token (minSessionToken bytes or
// more); its name as sent and its value, unquoted. "" when there is none.
func SessionCookie(v string) (name, value string) {
	var other, otherVal string
	for v != "" {
		var kv string
		kv, v, _ = strings.Cut(v, ";")
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		switch {
		case val == "":
		case sessionName(k):
			return k, val
		case other == "" && len(val) >= minSessionToken && IsSessionCookie(k):
			other, otherVal = k, val
		}
	}
	return other, otherVal
}

// APIKeyHeaders are the request headers, in lower case, that carry an API
// key: one list for the sensitive analyzer's credential findings, the
// catalog's authentication schemes, the behaviour analyzer's default
// api_key_headers, the redaction of exported headers (package redact) and
// tx.Auth.APIKey. Each is a well-known header name of package http1, so
// that a header is classified by its ID.
var APIKeyHeaders = []string{
	"x-api-key", "api-key", "apikey", "x-apikey", "x-auth-token", "x-access-token",
	"ocp-apim-subscription-key", "x-goog-api-key", "x-api-token", "private-token", "x-functions-key",
}

// apiKeyIDs marks APIKeyHeaders by header ID.
var apiKeyIDs = func() (ids [http1.NumHeaderIDs]bool) {
	for _, n := range APIKeyHeaders {
		id := http1.LookupHeader(n)
		if id == http1.IDOther {
			panic("identity: API key header " + n + " is not a well-known name of package http1")
		}
		ids[id] = true
	}
	return
}()

// IsAPIKeyHeader says whether the header (any casing) carries an API key
// (APIKeyHeaders).
func IsAPIKeyHeader(h *http1.Header) bool { return apiKeyIDs[h.Known()] }

// IsAPIKeyID says whether a well-known header ID is one of APIKeyHeaders.
func IsAPIKeyID(id http1.HeaderID) bool { return apiKeyIDs[id] }

// AuthOf returns the credentials the sensor read into tx.Auth or, for a
// transaction built without them (tests, tools), the Authorization
// header's value v parsed into scratch.
func (p *Parser) AuthOf(tx *reassembly.Transaction, v string, scratch *reassembly.Auth) *reassembly.Auth {
	if tx.Auth.Kind != "" {
		return &tx.Auth
	}
	p.Parse(v, scratch)
	return scratch
}

// Parse reads an Authorization header's value v into a (which it
// overwrites; the zero Auth when v is empty).
func (p *Parser) Parse(v string, a *reassembly.Auth) {
	*a = reassembly.Auth{}
	if v == "" {
		return
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(v), " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "bearer"):
		if j, ok := p.JWT(cred); ok {
			a.Kind, a.Principal, a.JWTAlg, a.JWTIssuer, a.JWTUnsigned, a.JWTService = reassembly.AuthBearerJWT, j.Principal(), j.Alg, j.Issuer, j.Unsigned, j.Service
			return
		}
		a.Kind, a.Credential = reassembly.AuthBearer, cred
	case strings.EqualFold(scheme, "basic"):
		a.Kind = reassembly.AuthBasic
		if len(cred) <= 512 {
			var buf [384]byte
			if n, err := base64.StdEncoding.Decode(buf[:], []byte(cred)); err == nil {
				if u, _, ok := bytes.Cut(buf[:n], []byte{':'}); ok && len(u) > 0 {
					a.Principal = bounded(string(u), 128)
				}
			}
		}
	default:
		a.Kind, a.Credential = reassembly.AuthOther, cred
		a.Principal = signer(scheme, cred)
	}
}

// signer names who signs a request with a scheme whose credential changes
// on every request (a nonce, a date, a signature): the Digest user name,
// an AWS signature's access key id, a Hawk id, an HTTP Signature's keyId.
// Keyed by its credential, each request would be someone new. "" for
// other schemes, whose credential is stable (Token abc, ApiKey abc).
func signer(scheme, cred string) string {
	var param string
	switch {
	case strings.EqualFold(scheme, "digest"):
		param = "username"
	case strings.EqualFold(scheme, "hawk"):
		param = "id"
	case strings.EqualFold(scheme, "signature"):
		param = "keyId"
	case strings.EqualFold(scheme, "aws4-hmac-sha256"):
		param = "Credential"
	default:
		return ""
	}
	for rest := cred; rest != ""; {
		var kv string
		kv, rest, _ = strings.Cut(rest, ",")
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), param) {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		if param == "Credential" { // AKID/date/region/service/aws4_request
			v, _, _ = strings.Cut(v, "/")
		}
		return bounded(v, 128)
	}
	return ""
}
