package behavior

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/netip"
	"net/url"
	"slices"
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
	service       bool   // user is a client-credentials token's client
	basic         bool   // user comes from Basic credentials
	session       string // session cookie value
	sessionCookie string
	apiKey        string
	fp            uint64 // HTTP fingerprint: header names, order and casing, User-Agent family
	shape         uint64 // header names, order and casing only
	ua            string
	agent         agent
	crawler       int8 // the configured crawler the User-Agent names, -1 none
	tool          bool // not a browser (a library, tool, crawler, checker or no User-Agent)
	spoofed       bool // a browser User-Agent without the headers browsers send
}

// resolver turns requests into identities; one per analyzer instance (its
// caches are not shared).
type resolver struct {
	cfg      *Config
	trusted  bool // trusted_proxies set (fwd resolves)
	fwd      *ident.Resolver
	sessions nameSet                  // cookie names
	keys     nameSet                  // header names
	keyIDs   [http1.NumHeaderIDs]bool // keys that are well-known names
	creds    ident.Parser             // for transactions without tx.Auth
	auth     reassembly.Auth          // what creds parsed
	uaInfo   map[string]uaInfo
	crawlers []crawler
}

// uaInfo is what a User-Agent says.
type uaInfo struct {
	agent   agent
	family  string
	crawler int8
}

func newResolver(cfg *Config, crawlers []crawler) *resolver {
	r := &resolver{cfg: cfg, sessions: newNameSet(cfg.SessionCookies...), keys: newNameSet(cfg.APIKeyHeaders...),
		uaInfo: map[string]uaInfo{}, crawlers: crawlers}
	for id := http1.IDOther + 1; int(id) < http1.NumHeaderIDs; id++ {
		r.keyIDs[id] = r.keys.m[http1.KnownName(id)]
	}
	r.fwd, _ = ident.New(cfg.TrustedProxies) // checked by Validate
	r.trusted = r.fwd.HasProxies()
	return r
}

// Bounds of the resolver's caches (each forgotten all at once when full).
const (
	maxUACache = 4096 // User-Agent -> family
)

// resolve reads the request's headers once.
func (r *resolver) resolve(tx *reassembly.Transaction, id *identity) {
	*id = identity{ip: tx.ClientAddr(), crawler: -1}
	req := tx.Request
	// the session cookie the sensor read once (tx.Auth), unless the
	// configuration names the session cookies
	fromAuth := tx.Auth.Parsed && r.cfg.SessionCookies == nil
	if fromAuth {
		id.sessionCookie, id.session = tx.Auth.SessionCookie, tx.Auth.Session
	}
	var xff, realIP, fwd, acceptLang string
	h := uint64(14695981039346656037)
	for i := range req.Headers {
		hd := &req.Headers[i]
		name := hd.Name
		hid := hd.Known()
		switch requestHeaders[hid] {
		case hAuthorization:
			r.authorization(tx, hd.Value, id)
			continue
		case hCookie:
			if id.session == "" && !fromAuth {
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
		// the name as sent (casing counts), a word at a time (mixName,
		// inline: this runs for every header of every request)
		const k = 0x9e3779b97f4a7c15
		var t uint64
		switch n := len(name); {
		case n >= 8:
			for i := 0; i+8 < n; i += 8 {
				h = (h ^ word(name, i)) * k
				h ^= h >> 31
			}
			t = word(name, n-8)
		case n >= 4:
			t = uint64(half(name, 0)) | uint64(half(name, n-4))<<32
		default:
			for i := 0; i < n; i++ {
				t = t<<8 | uint64(name[i])
			}
		}
		h = (h ^ t ^ uint64(len(name))<<56) * k
		h ^= h >> 31
	}
	id.shape = h
	info, ok := r.uaInfo[id.ua]
	if !ok {
		info.agent, info.family = classifyAgent(id.ua)
		info.crawler = -1
		if id.ua != "" && len(r.crawlers) > 0 && info.agent != agentChecker {
			low := strings.ToLower(id.ua[:min(len(id.ua), 256)])
			for i := range r.crawlers {
				for _, a := range r.crawlers[i].agents {
					if strings.Contains(low, a) {
						info.crawler = int8(i)
						if info.agent == agentBrowser || info.agent == agentTool {
							info.agent = agentCrawler
						}
					}
				}
				if info.crawler >= 0 {
					break
				}
			}
		}
		if len(id.ua) <= 512 {
			if len(r.uaInfo) >= maxUACache {
				clear(r.uaInfo)
			}
			r.uaInfo[strings.Clone(id.ua)] = info
		}
	}
	id.fp = mixName(h, info.family)
	id.agent, id.crawler = info.agent, info.crawler
	id.tool = info.agent != agentBrowser
	id.spoofed = !id.tool && acceptLang == ""
	if !tx.ClientIP.IsValid() && r.trusted && r.fwd.Trusted(id.ip) {
		// not resolved by the sensor (the analyzer used on its own)
		if a, ok := r.fwd.Forwarded(xff, fwd, realIP); ok {
			id.ip = a
		}
	}
}

// mixName folds a header name (as sent: casing counts) into a print, a
// word at a time.
func mixName(h uint64, s string) uint64 {
	const k = 0x9e3779b97f4a7c15
	n := len(s)
	var t uint64
	switch {
	case n >= 8: // whole words, then the last 8 bytes (overlapping)
		for i := 0; i+8 < n; i += 8 {
			h = (h ^ word(s, i)) * k
			h ^= h >> 31
		}
		t = word(s, n-8)
	case n >= 4: // the first and the last 4 bytes (overlapping)
		t = uint64(half(s, 0)) | uint64(half(s, n-4))<<32
	default:
		for i := 0; i < n; i++ {
			t = t<<8 | uint64(s[i])
		}
	}
	h = (h ^ t ^ uint64(n)<<56) * k // the length: "ab"+"c" is not "a"+"bc"
	return h ^ h>>31
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

// authorization reads who the Authorization header names from the
// credentials the sensor parsed once for every analyzer (tx.Auth, package
// identity: one set of rules for tokens); a transaction built without
// them (tests, tools) is parsed here with the same parser.
func (r *resolver) authorization(tx *reassembly.Transaction, v string, id *identity) {
	switch a := r.creds.AuthOf(tx, v, &r.auth); a.Kind {
	case reassembly.AuthBearerJWT:
		id.user, id.service = a.Principal, a.JWTService
		if id.user == "" && id.apiKey == "" { // a token naming nobody identifies its holder
			_, cred, _ := strings.Cut(strings.TrimSpace(v), " ")
			id.apiKey = strings.TrimSpace(cred)
		}
	case reassembly.AuthBearer:
		if id.apiKey == "" {
			id.apiKey = a.Credential // an opaque token identifies its holder
		}
	case reassembly.AuthBasic:
		if a.Principal != "" {
			id.user, id.basic = a.Principal, true
		}
	case reassembly.AuthOther:
		switch {
		case a.Principal != "": // the signer of a scheme whose credential changes per request
			id.user = a.Principal
		case id.apiKey == "":
			id.apiKey = a.Credential
		}
	}
}

// sessionCookie finds the request's session cookie: the first one the
// configuration names (session_cookies; an empty list: none), else, by
// default, the sensor's (identity.SessionCookie).
func (r *resolver) sessionCookie(v string) (name, value string) {
	if r.cfg.SessionCookies == nil {
		return ident.SessionCookie(v)
	}
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

// loginAttempt is what a login request tried.
type loginAttempt struct {
	user    string // the username tried (raw; redacted before export)
	success bool
	session string // the session cookie the response set
	resp    loginResp
	form    uint64 // the body's field names in order and its spacing (the client's template)
}

// loginNames are last path segments of login endpoints.
var loginNames = newNameSet("login", "signin", "sign-in", "sign_in", "logon", "authenticate", "auth", "token", "session", "sessions", "log-in")

// parseLogin says whether the request is a login with a password and
// what it tried; paths are the configured login templates.
func (r *resolver) parseLogin(tx *reassembly.Transaction, tpl string) (loginAttempt, bool) {
	req := tx.Request
	if req.Method != "POST" || len(req.Body.Bytes()) == 0 || len(req.Body.Bytes()) > 8192 {
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
		if !mayNamePassword(req.Body.Bytes()) {
			return loginAttempt{}, false // (a checkout session, a token by client credentials)
		}
	}
	body := bytes.TrimSpace(req.Body.Bytes())
	fields, ok := loginFields(body)
	if !ok {
		return loginAttempt{}, false
	}
	pw := false
	for _, k := range passwordFields {
		if fields[k] != "" {
			pw = true
		}
	}
	if !pw && !configured {
		return loginAttempt{}, false
	}
	var la loginAttempt
	la.form = formShape(body)
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
	la.resp = loginResp{resp.Status, resp.Body.Bytes()}
	la.success = resp.Status < 400 && !failureBody(resp.Body.Bytes())
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
		foldForm(fields, q)
	}
	body := bytes.TrimSpace(req.Body.Bytes())
	if len(body) > 0 && len(body) <= 8192 {
		if body[0] == '{' {
			var m map[string]any
			if json.Unmarshal(body, &m) == nil {
				foldJSON(fields, m)
			}
		} else if q, err := url.ParseQuery(string(body)); err == nil {
			foldForm(fields, q)
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
// formShape hashes the field names of a JSON object or form body in their
// order, with the JSON spacing: what a client's template sends whatever
// values it fills in.
func formShape(body []byte) uint64 {
	h := uint64(14695981039346656037)
	mix := func(b []byte) {
		for _, c := range b {
			h ^= uint64(c)
			h *= 1099511628211
		}
		h ^= 0xff
		h *= 1099511628211
	}
	if len(body) > 0 && body[0] == '{' {
		mix([]byte{'{'}) // JSON, not a form
		if bytes.Contains(body, []byte(`": `)) {
			mix([]byte{' '})
		}
		// the keys of the top-level object: strings at depth 1 followed by
		// a colon (a scan, no decoding)
		depth, n := 0, 0
		for i := 0; i < len(body) && n < 64; i++ {
			switch c := body[i]; c {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			case '"':
				j := i + 1
				for j < len(body) && body[j] != '"' {
					if body[j] == '\\' {
						j++
					}
					j++
				}
				if j >= len(body) {
					return h
				}
				k := j + 1
				for k < len(body) && (body[k] == ' ' || body[k] == '\t' || body[k] == '\n' || body[k] == '\r') {
					k++
				}
				if depth == 1 && k < len(body) && body[k] == ':' {
					mix(body[i+1 : j])
					n++
				}
				i = j
			}
		}
		return h
	}
	for _, kv := range bytes.Split(body, []byte{'&'}) {
		k, _, _ := bytes.Cut(kv, []byte{'='})
		mix(k)
	}
	return h
}

// foldJSON copies a JSON object's string fields into dst under lower-case
// names. Names that differ only in case ("Password", "password") resolve
// the same way every run: in byte order, the last wins (the lower-case
// one).
func foldJSON(dst map[string]string, m map[string]any) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if s, ok := m[k].(string); ok {
			dst[strings.ToLower(k)] = s
		}
	}
}

// loginFields decodes a login body (JSON, else a form) into its fields,
// names lower-cased (see foldJSON and foldForm); ok is false when it does
// not decode.
func loginFields(body []byte) (fields map[string]string, ok bool) {
	fields = map[string]string{}
	if len(body) > 0 && body[0] == '{' {
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			return nil, false
		}
		foldJSON(fields, m)
		return fields, true
	}
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, false
	}
	foldForm(fields, q)
	return fields, true
}

// passwordFields are the (lower-cased) fields that make a login attempt.
var passwordFields = []string{"password", "passwd", "pass", "pwd", "passphrase"}

// mayNamePassword says whether body could hold one of the password fields
// parseLogin looks for once decoded: it spells "pass" or "pwd" in any case,
// or has an escape (JSON's backslash, a form's percent) that could spell
// them. Bodies without either are not decoded: paths named like a login
// (/v1/checkout/sessions, /oauth/token) mostly carry something else.
func mayNamePassword(body []byte) bool {
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '\\', '%':
			return true
		case 'p', 'P':
			r := body[i+1:]
			if len(r) >= 2 && r[0]|0x20 == 'w' && r[1]|0x20 == 'd' || len(r) >= 3 && r[0]|0x20 == 'a' && r[1]|0x20 == 's' && r[2]|0x20 == 's' {
				return true
			}
		}
	}
	return false
}

// foldForm is foldJSON for form and query fields (the first value of
// each).
func foldForm(dst map[string]string, q url.Values) {
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if v := q[k]; len(v) > 0 {
			dst[strings.ToLower(k)] = v[0]
		}
	}
}
