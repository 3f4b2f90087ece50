package actorgen

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// Exchange is one generated request and its answer.
type Exchange struct {
	At       time.Time
	Client   netip.AddrPort // the client (resolved: behind the load balancer, the forwarded address)
	Peer     netip.Addr     // the packet source when a load balancer forwarded the request (invalid otherwise)
	Server   netip.AddrPort
	Conn     uint64 // connection number: the exchanges of one connection share it
	Seq      int    // the exchange's number on its connection
	Method   string
	Host     string
	Target   string
	Header   []http1.Header
	Body     string
	Status   int
	RespHdr  []http1.Header
	RespBody string
	Latency  time.Duration
	Scenario int // index in Traffic.Scenarios
}

// Scenario is one labelled actor (or group of actors) of the traffic.
type Scenario struct {
	Name  string
	Abuse bool
	// Class is, for abuse, the detection class that must be raised for
	// the scenario's actor (Also lists other acceptable classes); for
	// benign traffic, the class it could be mistaken for.
	Class string
	Also  []string
	// The identities a detection or blocklist entry is attributed by.
	IPs   []netip.Addr
	Users []string // JWT subjects and Basic users, as sent
	Keys  []string // API keys and opaque tokens, as sent
	// Requests is the number of exchanges generated for it.
	Requests int
}

// Traffic is what Generate returns: exchanges in capture-time order.
type Traffic struct {
	Start     time.Time
	Span      time.Duration
	Scenarios []Scenario
	Exchanges []Exchange
}

// Options choose what is generated.
type Options struct {
	// Span is the capture time covered (default 2h).
	Span time.Duration
	// Scale multiplies the number of benign actors (default 1).
	Scale float64
	// NoAbuse leaves the abuse scenarios out.
	NoAbuse bool
}

// Hosts of the generated API.
const (
	ShopHost    = "shop.example.com"        // behind a TLS-terminating load balancer (X-Forwarded-Proto: https)
	PartnerHost = "partner-api.example.com" // plain HTTP straight to the service
	AdminHost   = "backoffice.internal"     // plain HTTP inside the network
)

// LoadBalancers are the addresses that forward ShopHost's requests (the
// packet source of its exchanges): trust them as proxies.
var LoadBalancers = netip.MustParsePrefix("10.0.5.0/24")

var (
	shopServer    = netip.MustParseAddrPort("10.20.0.10:8080")
	partnerServer = netip.MustParseAddrPort("10.20.1.10:80")
	adminServer   = netip.MustParseAddrPort("10.20.2.10:80")
)

// Generate makes traffic for seed.
func Generate(seed uint64, opt Options) *Traffic {
	if opt.Span <= 0 {
		opt.Span = 2 * time.Hour
	}
	if opt.Scale <= 0 {
		opt.Scale = 1
	}
	g := &gen{r: rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15+7)), t0: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC),
		span: opt.Span, scale: opt.Scale, used: map[netip.Addr]bool{}, conns: map[connKey]*connState{}}
	g.out = &Traffic{Start: g.t0, Span: opt.Span}
	g.catalog = 3000 + g.r.IntN(3000)
	g.benign()
	if !opt.NoAbuse {
		g.abuse()
	}
	ex := g.out.Exchanges
	sort.SliceStable(ex, func(i, j int) bool { return ex[i].At.Before(ex[j].At) })
	// connection sequence numbers in time order
	seq := map[uint64]int{}
	for i := range ex {
		ex[i].Seq = seq[ex[i].Conn]
		seq[ex[i].Conn]++
	}
	for i := range g.out.Scenarios {
		s := &g.out.Scenarios[i]
		s.IPs = dedupAddrs(s.IPs)
	}
	return g.out
}

func dedupAddrs(a []netip.Addr) []netip.Addr {
	slices.SortFunc(a, func(x, y netip.Addr) int { return x.Compare(y) })
	return slices.Compact(a)
}

type gen struct {
	r       *rand.Rand
	t0      time.Time
	span    time.Duration
	scale   float64
	out     *Traffic
	used    map[netip.Addr]bool
	conns   map[connKey]*connState
	nconn   uint64
	catalog int // product ids 1..catalog
	orderID int
}

type connKey struct {
	addr netip.Addr
	ua   string
}

type connState struct {
	id   uint64
	port uint16
	last time.Time
	left int
}

// scenario starts a labelled scenario and returns its index.
func (g *gen) scenario(name string, abuse bool, class string, also ...string) int {
	g.out.Scenarios = append(g.out.Scenarios, Scenario{Name: name, Abuse: abuse, Class: class, Also: also})
	return len(g.out.Scenarios) - 1
}

// at is the capture time d after the start.
func (g *gen) at(d time.Duration) time.Time { return g.t0.Add(d) }

// within says whether t is inside the capture.
func (g *gen) within(t time.Time) bool { return !t.Before(g.t0) && t.Before(g.t0.Add(g.span)) }

// uniform is a random duration in [lo, hi).
func (g *gen) uniform(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(g.r.Int64N(int64(hi-lo)))
}

// expo is an exponentially distributed gap of the given mean (at least
// 150 ms: a person clicks, a page loads).
func (g *gen) expo(mean time.Duration) time.Duration {
	d := time.Duration(g.r.ExpFloat64() * float64(mean))
	return max(d, 150*time.Millisecond)
}

// jitter is d within +-frac.
func (g *gen) jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 + frac*(2*g.r.Float64()-1)))
}

// zipf draws a product id: a few are popular, most are rarely read.
func (g *gen) zipf() int {
	// inverse of a power law over 1..catalog, exponent about 1.1
	u := g.r.Float64()
	x := math.Pow(float64(g.catalog), u)
	return 1 + (int(x)-1)%g.catalog
}

// client is one HTTP client: an address and the software on it.
type client struct {
	addr netip.Addr
	sw   *software
	// the identity it sends (any may be empty)
	bearer, apiKey, cookie, basic string
	viaLB                         bool // reaches ShopHost through the load balancer
	lb                            netip.Addr
}

// exchange appends one exchange of c to scenario sc.
func (g *gen) exchange(sc int, c *client, t time.Time, method, host, target string, body string, status int, resp string, extra ...http1.Header) {
	if !g.within(t) {
		return
	}
	srv := shopServer
	switch host {
	case PartnerHost:
		srv = partnerServer
	case AdminHost:
		srv = adminServer
	}
	hs := c.sw.headers(host, c, body != "", method)
	hs = append(hs, extra...)
	if body != "" {
		ct := "application/json"
		if body[0] != '{' && body[0] != '[' {
			ct = "application/x-www-form-urlencoded"
		}
		hs = append(hs, http1.Header{Name: "Content-Type", Value: ct}, http1.Header{Name: "Content-Length", Value: fmt.Sprint(len(body))})
	}
	peer := netip.Addr{}
	if host == ShopHost && c.viaLB {
		peer = c.lb
		hs = append(hs, http1.Header{Name: "X-Forwarded-For", Value: c.addr.String()}, http1.Header{Name: "X-Forwarded-Proto", Value: "https"})
	}
	for i := range hs {
		hs[i].ID = http1.LookupHeader(hs[i].Name)
	}
	cs := g.conn(c, t)
	lat := time.Duration(3+g.r.IntN(40)) * time.Millisecond
	if len(resp) > 4096 {
		lat += time.Duration(len(resp)/20000) * time.Millisecond
	}
	rh := []http1.Header{{Name: "Date", Value: t.UTC().Format(time.RFC1123)}, {Name: "Content-Type", Value: respType(resp)},
		{Name: "Content-Length", Value: fmt.Sprint(len(resp))}}
	for i := range rh {
		rh[i].ID = http1.LookupHeader(rh[i].Name)
	}
	s := &g.out.Scenarios[sc]
	s.Requests++
	if !slices.Contains(s.IPs, c.addr) {
		s.IPs = append(s.IPs, c.addr)
	}
	g.out.Exchanges = append(g.out.Exchanges, Exchange{At: t, Client: netip.AddrPortFrom(c.addr, cs.port), Peer: peer, Server: srv, Conn: cs.id,
		Method: method, Host: host, Target: target, Header: hs, Body: body, Status: status, RespHdr: rh, RespBody: resp, Latency: lat, Scenario: sc})
}

func respType(b string) string {
	switch {
	case b == "":
		return "application/json"
	case b[0] == '{' || b[0] == '[':
		return "application/json"
	case strings.HasPrefix(b, "<"):
		return "text/html"
	}
	return "text/csv"
}

// conn returns the keep-alive connection c uses at t: a new one after an
// idle minute or a number of requests.
func (g *gen) conn(c *client, t time.Time) *connState {
	k := connKey{c.addr, c.sw.ua + c.bearer + c.apiKey + c.cookie}
	cs := g.conns[k]
	if cs == nil || t.Sub(cs.last) > time.Minute || cs.left <= 0 {
		g.nconn++
		cs = &connState{id: g.nconn, port: uint16(1024 + g.r.IntN(60000)), left: 20 + g.r.IntN(200)}
		g.conns[k] = cs
	}
	cs.last = t
	cs.left--
	return cs
}

// identity helpers

// jwt is an unsigned-looking RS256 token (the signature is random bytes).
func (g *gen) jwt(claims string) string {
	enc := base64.RawURLEncoding
	sig := make([]byte, 64)
	for i := range sig {
		sig[i] = byte(g.r.Uint32())
	}
	return enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT","kid":"k1"}`)) + "." + enc.EncodeToString([]byte(claims)) + "." + enc.EncodeToString(sig)
}

func (g *gen) userJWT(sub string) string {
	iat := g.t0.Unix() - int64(g.r.IntN(3600))
	return g.jwt(fmt.Sprintf(`{"iss":"https://id.example.com/","sub":%q,"aud":"shop-api","iat":%d,"exp":%d,"scope":"openid profile shop"}`, sub, iat, iat+86400))
}

func (g *gen) hexStr(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return hex.EncodeToString(b)
}

// names for e-mail addresses and usernames
var firstNames = []string{"anna", "ben", "carla", "dmitri", "elena", "farid", "grace", "hugo", "ines", "jonas", "kofi", "lena", "marco", "nadia", "oscar",
	"priya", "quentin", "rosa", "sven", "tara", "umar", "vera", "wei", "ximena", "yusuf", "zoe", "li", "mateo", "sofia", "noah"}
var lastNames = []string{"smith", "garcia", "mueller", "rossi", "dubois", "kowalski", "nguyen", "kim", "silva", "jensen", "novak", "haddad", "ivanova",
	"okafor", "tanaka", "brown", "lopez", "weber", "moreau", "costa"}
var mailDomains = []string{"gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "proton.me", "web.de", "orange.fr", "icloud.com", "gmx.net", "mail.ru"}

func (g *gen) email() string {
	f, l := firstNames[g.r.IntN(len(firstNames))], lastNames[g.r.IntN(len(lastNames))]
	switch g.r.IntN(4) {
	case 0:
		return fmt.Sprintf("%s.%s@%s", f, l, mailDomains[g.r.IntN(len(mailDomains))])
	case 1:
		return fmt.Sprintf("%s%s%d@%s", f[:1], l, g.r.IntN(100), mailDomains[g.r.IntN(len(mailDomains))])
	case 2:
		return fmt.Sprintf("%s_%s%d@%s", f, l[:3], 1950+g.r.IntN(60), mailDomains[g.r.IntN(len(mailDomains))])
	}
	return fmt.Sprintf("%s%d@%s", f, g.r.IntN(10000), mailDomains[g.r.IntN(len(mailDomains))])
}

// Transaction builds the transaction the sensor would hand the analyzers
// for e (the client resolved through the load balancer, as the sensor
// does with sensor.trusted_proxies).
func (e *Exchange) Transaction() *reassembly.Transaction {
	src := e.Client
	if e.Peer.IsValid() {
		src = netip.AddrPortFrom(e.Peer, e.Client.Port())
	}
	path, query, _ := strings.Cut(e.Target, "?")
	body := e.RespBody
	if len(body) > maxBody { // the parser keeps this much of a body
		body = body[:maxBody]
	}
	req := &http1.Request{Method: e.Method, Target: e.Target, Path: path, Query: query, Host: e.Host, Proto: "HTTP/1.1", Headers: e.Header,
		Body: http1.Body{Data: []byte(e.Body), WireBytes: int64(len(e.Body))}, Start: e.At, End: e.At.Add(200 * time.Microsecond)}
	resp := &http1.Response{Status: e.Status, Reason: reason(e.Status), Proto: "HTTP/1.1", Headers: e.RespHdr,
		Body: http1.Body{Data: []byte(body), WireBytes: int64(len(e.RespBody))}, Start: e.At.Add(e.Latency), End: e.At.Add(e.Latency + 100*time.Microsecond)}
	tx := &reassembly.Transaction{Flow: reassembly.Flow{ID: fmt.Sprintf("c%d", e.Conn), Client: src, Server: e.Server, Order: e.Conn, Confirmed: true, Handshake: true},
		Seq: e.Seq, Exchange: http1.Exchange{Request: req, Response: resp}}
	if e.Peer.IsValid() {
		tx.ClientIP = e.Client.Addr()
	}
	return tx
}

// maxBody is the parser's default bound on a kept body.
const maxBody = 64 << 10

func reason(s int) string {
	switch s {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 429:
		return "Too Many Requests"
	case 503:
		return "Service Unavailable"
	}
	return "Status"
}
