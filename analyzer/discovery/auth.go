package discovery

import (
	"strings"

	"github.com/apitap/apitap/analyzer/identity"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
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

// apiKeyParams are query parameters that carry API keys or tokens.
var apiKeyParams = map[string]bool{
	"api_key": true, "apikey": true, "api-key": true, "key": true, "access_token": true, "token": true, "auth": true,
}

// authHeader looks at one request header (name in lower case); the
// strongest scheme wins when a request carries several. The
// Authorization header is read from the credentials the sensor parsed
// once for every analyzer (tx.Auth, package identity), or parsed here
// with the same parser when the transaction came without them.
func (t *trie) authHeader(name, value string, au *authInfo, tx *reassembly.Transaction) {
	switch {
	case name == "authorization":
		switch a := t.creds.AuthOf(tx, value, &t.auth); a.Kind {
		case reassembly.AuthBasic:
			au.kind, au.user = authBasic, a.Principal
		case reassembly.AuthBearerJWT:
			au.kind, au.alg, au.iss, au.user = authBearerJWT, boundedToken(a.JWTAlg), boundedIssuer(a.JWTIssuer), a.Principal
		case reassembly.AuthBearer:
			au.kind = authBearer
		default:
			scheme, _, _ := strings.Cut(strings.TrimSpace(value), " ")
			au.kind = authOther
			au.name = "authorization:" + boundedToken(strings.ToLower(scheme))
		}
	case identity.IsAPIKeyHeader(&http1.Header{Name: name}): // identity.APIKeyHeaders, all well-known names
		if au.kind == authNone || au.kind == authSessionCookie {
			au.kind, au.name = authAPIKeyHeader, name
		}
	case name == "cookie":
		if au.kind != authNone {
			return
		}
		k := tx.Auth.SessionCookie // the sensor's one rule (identity.IsSessionCookie)
		if !tx.Auth.Parsed {
			k, _ = identity.SessionCookie(value)
		}
		if k != "" {
			au.kind, au.name = authSessionCookie, "cookie:"+boundedToken(strings.ToLower(k))
		}
	}
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
