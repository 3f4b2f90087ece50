package behavior

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"net/url"
	"strings"

	ident "github.com/apitap/apitap/analyzer/identity"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// identity is what one request says about who sent it. Strings point into
// the transaction (which allows keeping them); nothing here is exported
// before redaction.
type identity struct {
	ip            netip.Addr
	user          string // the principal: JWT sub, Basic user (not a login attempt's username)
	session       string // session cookie value
	sessionCookie string
	apiKey        string
	fp            uint64 // HTTP fingerprint: header names, order and casing, User-Agent family
	ua            string
	tool          bool // a library, tool or empty User-Agent
	spoofed       bool // a browser User-Agent without the headers browsers send
}

// resolver turns requests into identities; one per worker (its JWT cache
// is not shared).
type resolver struct {
	cfg      *Config
	trusted  bool // trusted_proxies set (fwd resolves)
	fwd      *ident.Resolver
	sessions nameSet                  // cookie names
	keys     nameSet                  // header names
	keyIDs   [http1.NumHeaderIDs]bool // keys that are well-known names
	jwtSub   map[string]string
	uaFam    map[string]string
}

func newResolver(cfg *Config) *resolver {
	r := &resolver{cfg: cfg, sessions: newNameSet(cfg.SessionCookies...), keys: newNameSet(cfg.APIKeyHeaders...), jwtSub: map[string]string{}, uaFam: map[string]string{}}
	for id := http1.IDOther + 1; int(id) < http1.NumHeaderIDs; id++ {
		r.keyIDs[id] = r.keys.m[http1.KnownName(id)]
	}
	r.fwd, _ = ident.New(cfg.TrustedProxies) // checked by Validate
	r.trusted = r.fwd.HasProxies()
	return r
}

// Bounds of the resolver's caches (each forgotten all at once when full).
const (
	maxJWTCache = 4096 // token -> subject
	maxUACache  = 4096 // User-Agent -> family
)

// resolve reads the request's headers once.
func (r *resolver) resolve(tx *reassembly.Transaction, id *identity) {
	*id = identity{ip: tx.ClientAddr()}
	req := tx.Request
	var xff, realIP, fwd, acceptLang string
	h := uint64(14695981039346656037)
	for i := range req.Headers {
		hd := &req.Headers[i]
		name := hd.Name
		hid := hd.Known()
		switch requestHeaders[hid] {
		case hAuthorization:
			r.authorization(hd.Value, id)
			continue
		case hCookie:
			if id.session == "" {
				id.sessionCookie, id.session = r.sessionCookie(hd.Value)
			}
			continue
		case hBody:
			continue // they follow the request, not the client
		case hUserAgent:
			id.ua = hd.Value
		case hXForwardedFor:
			xff = hd.Value
		case hXRealIP:
			realIP = hd.Value
		case hForwarded:
			fwd = hd.Value
		case hAcceptLanguage:
			acceptLang = hd.Value
		default:
			if id.apiKey == "" && (hid != http1.IDOther && r.keyIDs[hid] || hid == http1.IDOther && r.keys.len() > 0 && r.keys.has(name, lowerShort)) {
				id.apiKey = hd.Value
				continue
			}
		}
		for j := 0; j < len(name); j++ {
			h ^= uint64(name[j])
			h *= 1099511628211
		}
		h ^= '\n'
		h *= 1099511628211
	}
	fam, ok := r.uaFam[id.ua]
	if !ok {
		fam = uaFamily(id.ua)
		if len(id.ua) <= 512 {
			if len(r.uaFam) >= maxUACache {
				clear(r.uaFam)
			}
			r.uaFam[strings.Clone(id.ua)] = fam
		}
	}
	for j := 0; j < len(fam); j++ {
		h ^= uint64(fam[j])
		h *= 1099511628211
	}
	id.fp = h
	id.tool = fam == "" || !strings.HasPrefix(fam, "browser")
	id.spoofed = !id.tool && acceptLang == ""
	if !tx.ClientIP.IsValid() && r.trusted && r.fwd.Trusted(id.ip) {
		// not resolved by the sensor (the analyzer used on its own)
		if a, ok := r.fwd.Forwarded(xff, fwd, realIP); ok {
			id.ip = a
		}
	}
}

// The request headers resolve reads.
const (
	hOther = iota
	hAuthorization
	hCookie
	hBody // Content-Length, Content-Type, Transfer-Encoding
	hUserAgent
	hXForwardedFor
	hXRealIP
	hForwarded
	hAcceptLanguage
)

// requestHeaders are the kinds of the headers resolve reads, by
// well-known ID (every name here is a well-known, ASCII one).
var requestHeaders = func() (t [http1.NumHeaderIDs]int) {
	for id, k := range map[http1.HeaderID]int{
		http1.IDAuthorization: hAuthorization, http1.IDCookie: hCookie, http1.IDUserAgent: hUserAgent,
		http1.IDXForwardedFor: hXForwardedFor, http1.IDXRealIP: hXRealIP, http1.IDForwarded: hForwarded,
		http1.IDAcceptLanguage: hAcceptLanguage,
		http1.IDContentType:    hBody, http1.IDContentLength: hBody, http1.IDTransferEncoding: hBody,
	} {
		t[id] = k
	}
	return
}()

func (r *resolver) authorization(v string, id *identity) {
	scheme, cred, _ := strings.Cut(v, " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "bearer"):
		if sub, ok := r.jwtSub[cred]; ok { // only tokens of three parts are cached
			id.user = sub
		} else if strings.Count(cred, ".") == 2 {
			id.user = r.jwtSubject(cred)
		}
		if id.user == "" && id.apiKey == "" {
			id.apiKey = cred // an opaque token identifies its holder
		}
	case strings.EqualFold(scheme, "basic"):
		if len(cred) <= 512 {
			var buf [384]byte
			if n, err := base64.StdEncoding.Decode(buf[:], []byte(cred)); err == nil {
				if u, _, ok := bytes.Cut(buf[:n], []byte{':'}); ok && len(u) > 0 {
					id.user = string(u)
				}
			}
		}
	default:
		if id.apiKey == "" {
			id.apiKey = cred
		}
	}
}

// jwtSubject returns the token's "sub" claim (the signature is not
// checked: the sensor identifies, it does not authorize).
func (r *resolver) jwtSubject(tok string) string {
	sub := ""
	parts := strings.SplitN(tok, ".", 3)
	if len(parts) == 3 && len(parts[1]) <= 4096 {
		if raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "=")); err == nil {
			var c struct {
				Sub      json.RawMessage `json:"sub"`
				ClientID json.RawMessage `json:"client_id"`
			}
			if json.Unmarshal(raw, &c) == nil {
				sub = claimString(c.Sub)
				if sub == "" {
					sub = claimString(c.ClientID)
				}
				if len(sub) > 128 {
					sub = sub[:128]
				}
			}
		}
	}
	if len(tok) <= 4096 { // keys are cloned: tok points into the whole request head
		if len(r.jwtSub) >= maxJWTCache {
			clear(r.jwtSub)
		}
		r.jwtSub[strings.Clone(tok)] = sub
	}
	return sub
}

// sessionCookie finds the first configured session cookie.
func (r *resolver) sessionCookie(v string) (name, value string) {
	for v != "" {
		var kv string
		kv, v, _ = strings.Cut(v, ";")
		k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && val != "" && r.sessions.has(k, lowerShort) {
			return k, val
		}
	}
	return "", ""
}

// uaFamily names the client software: "browser/<engine>" for browsers,
// the tool's name for libraries and tools, "" when there is none.
func uaFamily(ua string) string {
	if ua == "" {
		return ""
	}
	l := ua
	if len(l) > 256 {
		l = l[:256]
	}
	low := strings.ToLower(l)
	for _, t := range tools {
		if strings.Contains(low, t) {
			return t
		}
	}
	if strings.HasPrefix(ua, "Mozilla/") {
		switch {
		case strings.Contains(l, "Firefox/"):
			return "browser/firefox"
		case strings.Contains(l, "Edg/"):
			return "browser/edge"
		case strings.Contains(l, "Chrome/"):
			return "browser/chrome"
		case strings.Contains(l, "Safari/"):
			return "browser/safari"
		}
		return "browser/other"
	}
	if i := strings.IndexAny(l, "/ ("); i > 0 {
		return strings.ToLower(l[:i])
	}
	return strings.ToLower(l)
}

// tools are User-Agent markers of libraries, tools and crawlers (checked
// before the browser markers: many tools pretend to be Mozilla).
var tools = []string{"curl", "wget", "python-requests", "python-urllib", "python-httpx", "aiohttp", "go-http-client", "okhttp", "java/", "apache-httpclient",
	"libwww-perl", "scrapy", "axios", "node-fetch", "undici", "postmanruntime", "insomnia", "httpie", "powershell", "headlesschrome", "phantomjs", "selenium",
	"puppeteer", "playwright", "sqlmap", "nikto", "nuclei", "masscan", "zgrab", "gobuster", "dirbuster", "ffuf", "wpscan", "bot", "crawler", "spider"}

// loginAttempt is what a login request tried.
type loginAttempt struct {
	user    string // the username tried (raw; redacted before export)
	success bool
	session string // the session cookie the response set
	resp    loginResp
}

// loginNames are last path segments of login endpoints.
var loginNames = newNameSet("login", "signin", "sign-in", "sign_in", "logon", "authenticate", "auth", "token", "session", "sessions", "log-in")

// parseLogin says whether the request is a login with a password and
// what it tried; paths are the configured login templates.
func (r *resolver) parseLogin(tx *reassembly.Transaction, tpl string) (loginAttempt, bool) {
	req := tx.Request
	if req.Method != "POST" || len(req.Body.Data) == 0 || len(req.Body.Data) > 8192 {
		return loginAttempt{}, false
	}
	configured := false
	for _, p := range r.cfg.LoginPaths {
		if p == tpl || p == req.Path {
			configured = true
		}
	}
	if !configured {
		last := req.Path
		if i := strings.LastIndexByte(strings.TrimRight(last, "/"), '/'); i >= 0 {
			last = strings.TrimRight(last[i+1:], "/")
		}
		if !loginNames.has(last, strings.ToLower) {
			return loginAttempt{}, false
		}
	}
	fields := map[string]string{}
	body := bytes.TrimSpace(req.Body.Data)
	if len(body) > 0 && body[0] == '{' {
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			return loginAttempt{}, false
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				fields[strings.ToLower(k)] = s
			}
		}
	} else {
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return loginAttempt{}, false
		}
		for k, v := range q {
			if len(v) > 0 {
				fields[strings.ToLower(k)] = v[0]
			}
		}
	}
	pw := false
	for _, k := range []string{"password", "passwd", "pass", "pwd", "passphrase"} {
		if fields[k] != "" {
			pw = true
		}
	}
	if !pw && !configured {
		return loginAttempt{}, false
	}
	var la loginAttempt
	for _, k := range r.cfg.UserFields {
		if v := fields[strings.ToLower(k)]; v != "" {
			la.user = strings.ToLower(strings.TrimSpace(v))
			if len(la.user) > 128 {
				la.user = la.user[:128]
			}
			break
		}
	}
	resp := tx.Response
	if resp == nil {
		return la, true
	}
	la.resp = loginResp{resp.Status, resp.Body.Data}
	la.success = resp.Status < 400 && !failureBody(resp.Body.Data)
	if la.success {
		for i := range resp.Headers {
			if resp.Headers[i].Known() == http1.IDSetCookie {
				if _, v := r.sessionCookie(strings.SplitN(resp.Headers[i].Value, ";", 2)[0]); v != "" {
					la.session = v
				}
			}
		}
	}
	return la, true
}

// failureBody says a 2xx login answer reports a failure anyway.
func failureBody(b []byte) bool {
	if len(b) > 512 {
		b = b[:512]
	}
	low := bytes.ToLower(b)
	for _, w := range [...]string{"invalid", "incorrect", "failed", "failure", "wrong", "denied", "unauthorized", "\"error\""} {
		if bytes.Contains(low, []byte(w)) {
			return true
		}
	}
	return false
}

// ownerKeys are JSON fields naming an object's owner, without the quote
// and the "d" they end with (found from their common ending, in one pass).
var ownerKeys = [...]string{"user_i", "userI", "owner_i", "ownerI", "customer_i", "customerI"}

// ownerOf returns the owner field's value of a JSON object response (the
// first 2 KiB), nil when there is none.
func ownerOf(b []byte) []byte {
	if len(b) > 2048 {
		b = b[:2048]
	}
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	for off := 0; ; {
		i := bytes.Index(b[off:], []byte(`d"`))
		if i < 0 {
			break
		}
		end := off + i + 1 // the closing quote of a key ending in "d"
		off = end + 1
		for _, k := range ownerKeys {
			if start := end - 2 - len(k); start >= 0 && b[start] == '"' && string(b[start+1:end-1]) == k {
				if v := fieldValue(b[end+1:]); v != nil {
					return v
				}
			}
		}
	}
	if i := bytes.Index(b, []byte(`"owner"`)); i >= 0 {
		return fieldValue(b[i+7:])
	}
	return nil
}

// fieldValue reads a scalar JSON value after a key (": value"), unquoted.
func fieldValue(v []byte) []byte {
	v = bytes.TrimLeft(v, " \t\r\n")
	if len(v) == 0 || v[0] != ':' {
		return nil
	}
	v = bytes.TrimLeft(v[1:], " \t\r\n")
	end := bytes.IndexAny(v, ",}]\n")
	if end < 0 {
		end = len(v)
	}
	v = bytes.Trim(bytes.TrimSpace(v[:end]), `"`)
	if len(v) > 0 && len(v) <= 128 {
		return v
	}
	return nil
}

// lowerShort lower-cases a header or cookie name without allocating when
// it is already lower case.
func lowerShort(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// probeNames are last path segments of endpoints that answer whether an
// account exists, one way or another.
var probeNames = newNameSet("forgot", "forgot-password", "forgot_password", "reset", "reset-password", "password-reset", "recover", "exists", "check",
	"availability", "lookup", "register", "signup", "sign-up", "verify-email")

// accountProbe returns the username an account endpoint was asked about
// ("" when the request is not one).
func (r *resolver) accountProbe(tx *reassembly.Transaction) string {
	req := tx.Request
	last := strings.TrimRight(req.Path, "/")
	if i := strings.LastIndexByte(last, '/'); i >= 0 {
		last = last[i+1:]
	}
	if !probeNames.has(last, strings.ToLower) {
		return ""
	}
	fields := map[string]string{}
	if q, err := url.ParseQuery(req.Query); err == nil {
		for k, v := range q {
			fields[strings.ToLower(k)] = v[0]
		}
	}
	body := bytes.TrimSpace(req.Body.Data)
	if len(body) > 0 && len(body) <= 8192 {
		if body[0] == '{' {
			var m map[string]any
			if json.Unmarshal(body, &m) == nil {
				for k, v := range m {
					if s, ok := v.(string); ok {
						fields[strings.ToLower(k)] = s
					}
				}
			}
		} else if q, err := url.ParseQuery(string(body)); err == nil {
			for k, v := range q {
				fields[strings.ToLower(k)] = v[0]
			}
		}
	}
	for _, k := range r.cfg.UserFields {
		if v := fields[strings.ToLower(k)]; v != "" {
			v = strings.ToLower(strings.TrimSpace(v))
			if len(v) > 128 {
				v = v[:128]
			}
			return v
		}
	}
	return ""
}

// claimString is a JWT claim as a string: strings unquoted, numbers as
// written ("sub": 123 is user 123), anything else "".
func claimString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
