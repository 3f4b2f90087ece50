package actorgen

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"time"

	"github.com/apitap/apitap/reassembly/http1"
)

// benign generates the legitimate heavy users.
func (g *gen) benign() {
	g.natOffice()
	g.carrierMobile()
	g.partnerReconciliation()
	g.partnerSync()
	g.bulkExport()
	g.crawlers()
	g.healthChecks()
	g.developers()
	g.visitors()
	g.busyUsers()
	g.batchJob()
}

func (g *gen) n(lo, hi int) int {
	return int(float64(lo+g.r.IntN(hi-lo+1)) * g.scale)
}

// shopUser is a customer account of the shop.
type shopUser struct {
	sub, email, password string
	customer             int
	orders               []int
}

func (g *gen) newShopUser() *shopUser {
	u := &shopUser{sub: fmt.Sprintf("u%07d", 1000000+g.r.IntN(9000000)), email: g.email(), password: "pw-" + g.hexStr(5), customer: 10000 + g.r.IntN(90000)}
	for k := 0; k < 3+g.r.IntN(15); k++ {
		u.orders = append(u.orders, 500000+g.r.IntN(400000))
	}
	return u
}

// login posts u's credentials (failing first typos times) and, when it
// succeeds, gives c the token. It returns the time after.
func (g *gen) login(sc int, c *client, u *shopUser, t time.Time, typos int) time.Time {
	for k := 0; k < typos; k++ {
		g.exchange(sc, c, t, "POST", ShopHost, "/api/v2/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, u.email, u.password+"x"), 401, loginFailed)
		t = t.Add(g.uniform(3*time.Second, 20*time.Second))
	}
	tok := g.userJWT(u.sub)
	g.exchange(sc, c, t, "POST", ShopHost, "/api/v2/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, u.email, u.password), 200, fmt.Sprintf(loginOK, tok))
	c.bearer = tok
	return t.Add(g.uniform(300*time.Millisecond, 2*time.Second))
}

// browse is a signed-in customer using the shop from start for dur, with
// gaps of about meanGap.
func (g *gen) browse(sc int, c *client, u *shopUser, start time.Time, dur, meanGap time.Duration) {
	cats := []string{"office", "lighting", "furniture", "accessories", "audio"}
	for t := start; t.Before(start.Add(dur)); t = t.Add(g.expo(meanGap)) {
		switch x := g.r.IntN(100); {
		case x < 25:
			id := g.zipf()
			g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/products/%d", id), "", 200, g.product(id))
		case x < 38:
			g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/products?category=%s&page=%d", cats[g.r.IntN(len(cats))], 1+g.r.IntN(6)), "", 200,
				g.productPage(cats[g.r.IntN(len(cats))], 1+g.r.IntN(6)))
		case x < 48:
			q := searchWords[g.r.IntN(len(searchWords))]
			g.exchange(sc, c, t, "GET", ShopHost, "/api/v2/search?q="+queryEscape(q), "", 200, g.searchResult(q))
		case x < 56:
			g.exchange(sc, c, t, "GET", ShopHost, "/api/v2/me", "", 200, g.profile(u.sub, u.email))
		case x < 66:
			g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/orders?page=%d", 1+g.r.IntN(2)), "", 200, g.orderList(u.customer, u.email, 1))
		case x < 78:
			id := u.orders[g.r.IntN(len(u.orders))]
			g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/orders/%d", id), "", 200, g.order(id, u.customer, u.email))
		case x < 88:
			g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/notifications?since=%d", t.Unix()-60), "", 200, g.notifications(g.r.IntN(5)/4))
		case x < 95:
			g.exchange(sc, c, t, "POST", ShopHost, "/api/v2/cart/items", fmt.Sprintf(`{"product_id":%d,"qty":%d}`, g.zipf(), 1+g.r.IntN(3)), 201, `{"ok":true,"items":2}`)
		default:
			g.exchange(sc, c, t, "DELETE", ShopHost, fmt.Sprintf("/api/v2/cart/items/%d", g.zipf()), "", 204, "")
		}
	}
}

func queryEscape(s string) string {
	b := []byte{}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ':
			b = append(b, '+')
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_':
			b = append(b, c)
		default:
			b = append(b, fmt.Sprintf("%%%02X", c)...)
		}
	}
	return string(b)
}

// natOffice: hundreds of employees of a customer company behind a few
// NAT addresses, each signing in (some mistype their password) and using
// the shop in sessions through the day.
func (g *gen) natOffice() {
	sc := g.scenario("nat_office", false, "credential_stuffing", "brute_force", "account_takeover", "rate_abuse", "user_enumeration")
	var nat []netip.Addr
	for k := 0; k < 2+g.r.IntN(3); k++ {
		nat = append(nat, g.addr("office"))
	}
	for k := 0; k < g.n(150, 300); k++ {
		u := g.newShopUser()
		g.out.Scenarios[sc].Users = append(g.out.Scenarios[sc].Users, u.sub)
		c := g.clientAt(nat[g.r.IntN(len(nat))], g.browser())
		t := g.at(g.uniform(0, g.span-20*time.Minute))
		for s := 0; s < 1+g.r.IntN(3) && g.within(t); s++ {
			typos := 0
			if x := g.r.IntN(100); x < 8 {
				typos = 1 + g.r.IntN(2)
			} else if x < 9 {
				typos = 3
				g.exchange(sc, c, t, "POST", ShopHost, "/api/v2/auth/password-reset", fmt.Sprintf(`{"email":%q}`, u.email), 202,
					`{"status":"if the address is registered, a reset link was sent"}`)
				t = t.Add(g.uniform(2*time.Minute, 6*time.Minute))
			}
			t = g.login(sc, c, u, t, typos)
			dur := g.uniform(10*time.Minute, 60*time.Minute)
			g.browse(sc, c, u, t, dur, g.uniform(15*time.Second, 60*time.Second))
			t = t.Add(dur + g.uniform(20*time.Minute, 90*time.Minute))
		}
	}
}

// carrierMobile: the shop's app on phones behind a mobile carrier's NAT,
// polling for notifications while open.
func (g *gen) carrierMobile() {
	sc := g.scenario("carrier_mobile_pollers", false, "bot", "rate_abuse")
	var nat []netip.Addr
	for k := 0; k < 3+g.r.IntN(4); k++ {
		nat = append(nat, g.addr("carrier"))
	}
	for k := 0; k < g.n(100, 200); k++ {
		u := g.newShopUser()
		g.out.Scenarios[sc].Users = append(g.out.Scenarios[sc].Users, u.sub)
		sw := g.mobileApp()
		c := g.clientAt(nat[g.r.IntN(len(nat))], sw)
		c.bearer = g.userJWT(u.sub) // signed in long ago: a refresh token renewed it
		t := g.at(g.uniform(0, g.span))
		for s := 0; s < 2+g.r.IntN(5); s++ {
			c.addr = nat[g.r.IntN(len(nat))] // the carrier may move the phone to another public address
			end := t.Add(g.uniform(2*time.Minute, 15*time.Minute))
			period := time.Duration(25+g.r.IntN(10)) * time.Second
			next := t
			for ; t.Before(end); t = t.Add(g.jitter(period, 0.15)) {
				g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/notifications?since=%d", t.Unix()-30), "", 200, g.notifications(g.r.IntN(20)/19))
				if !t.Before(next) {
					id := g.zipf()
					g.exchange(sc, c, t.Add(g.uniform(time.Second, 8*time.Second)), "GET", ShopHost, fmt.Sprintf("/api/v2/products/%d", id), "", 200, g.product(id))
					next = t.Add(g.expo(90 * time.Second))
				}
			}
			t = end.Add(g.uniform(5*time.Minute, 60*time.Minute))
		}
	}
}

// partnerReconciliation: a partner's reconciliation job: one API key, one
// cloud address, a call every 1.5 s (2,400 an hour) reading the orders it
// is entitled to (of many customers, with their e-mail addresses) in id
// order, and a few list pages every five minutes.
func (g *gen) partnerReconciliation() {
	sc := g.scenario("partner_reconciliation", false, "exfiltration", "bola", "rate_abuse", "bot", "scraping")
	key := "ak_live_" + g.hexStr(16)
	g.out.Scenarios[sc].Keys = append(g.out.Scenarios[sc].Keys, key)
	c := g.newClient("cloud", g.tool("java"))
	c.apiKey = key
	id := 400000 + g.r.IntN(50000)
	period := time.Duration(1400+g.r.IntN(200)) * time.Millisecond
	list := g.at(0)
	for t := g.at(g.uniform(0, time.Minute)); g.within(t); t = t.Add(g.jitter(period, 0.03)) {
		cust := 10000 + g.r.IntN(90000)
		g.exchange(sc, c, t, "GET", PartnerHost, fmt.Sprintf("/v1/orders/%d", id), "", 200, g.order(id, cust, g.email()))
		id++
		if !t.Before(list) {
			for p := 1; p <= 3; p++ {
				g.exchange(sc, c, t.Add(time.Duration(p)*300*time.Millisecond), "GET", PartnerHost, fmt.Sprintf("/v1/orders?updated_since=%d&page=%d", t.Unix()-300, p), "", 200,
					g.orderList(10000+g.r.IntN(90000), g.email(), p))
			}
			list = t.Add(5 * time.Minute)
		}
	}
}

// partnerSync: a service with client-credentials tokens polling an event
// feed every 10 s and acknowledging what it read; it fetches a new token
// every hour with its client secret.
func (g *gen) partnerSync() {
	sc := g.scenario("partner_sync_service", false, "bot", "rate_abuse")
	c := g.newClient("cloud", g.tool("go"))
	secret := "cs_" + g.hexStr(20)
	tokenAt := g.at(0)
	cursor := 1000000 + g.r.IntN(1000000)
	for t := g.at(g.uniform(0, 10*time.Second)); g.within(t); t = t.Add(g.jitter(10*time.Second, 0.01)) {
		if !t.Before(tokenAt) {
			c.bearer = ""
			tok := g.jwt(fmt.Sprintf(`{"iss":"https://id.example.com/","sub":"svc-ledger@clients","client_id":"svc-ledger","gty":"client-credentials","scope":"events:read","iat":%d,"exp":%d}`,
				t.Unix(), t.Unix()+3600))
			g.exchange(sc, c, t, "POST", PartnerHost, "/oauth/token", "grant_type=client_credentials&client_id=svc-ledger&client_secret="+secret, 200, fmt.Sprintf(loginOK, tok))
			c.bearer = tok
			tokenAt = t.Add(time.Hour - time.Minute)
			t = t.Add(500 * time.Millisecond)
		}
		n := g.r.IntN(4)
		g.exchange(sc, c, t, "GET", PartnerHost, fmt.Sprintf("/v1/events?since=%d&limit=100", cursor), "", 200,
			fmt.Sprintf(`{"events":[%s],"cursor":%d}`, repeatJoin(`{"type":"invoice.paid","id":1}`, n), cursor+n))
		if n > 0 {
			cursor += n
			g.exchange(sc, c, t.Add(200*time.Millisecond), "POST", PartnerHost, "/v1/events/ack", fmt.Sprintf(`{"cursor":%d}`, cursor), 204, "")
		}
	}
	g.out.Scenarios[sc].Users = append(g.out.Scenarios[sc].Users, "svc-ledger@clients")
}

func repeatJoin(s string, n int) string {
	out := ""
	for k := 0; k < n; k++ {
		if k > 0 {
			out += ","
		}
		out += s
	}
	return out
}

// bulkExport: back-office staff export the month's invoices: tens of
// pages of 50 customers' billing data in a minute, and a CSV report.
func (g *gen) bulkExport() {
	sc := g.scenario("bulk_export", false, "exfiltration", "scraping", "rate_abuse")
	office := g.addr("office")
	for k := 0; k < 2+g.r.IntN(2); k++ {
		sub := fmt.Sprintf("staff-%s", firstNames[g.r.IntN(len(firstNames))]+fmt.Sprint(k))
		g.out.Scenarios[sc].Users = append(g.out.Scenarios[sc].Users, sub)
		c := g.clientAt(office, g.browser())
		c.bearer = g.userJWT(sub)
		t := g.at(g.uniform(0, g.span-30*time.Minute))
		// ordinary back-office work
		for w := 0; w < 10+g.r.IntN(30); w++ {
			t = t.Add(g.expo(40 * time.Second))
			id := 10000 + g.r.IntN(90000)
			g.exchange(sc, c, t, "GET", AdminHost, fmt.Sprintf("/admin/api/customers/%d", id), "", 200, g.customer(id))
		}
		for e := 0; e < 1+g.r.IntN(2); e++ {
			t = t.Add(g.uniform(5*time.Minute, 30*time.Minute))
			pages := 30 + g.r.IntN(50)
			for p := 1; p <= pages; p++ {
				g.exchange(sc, c, t, "GET", AdminHost, fmt.Sprintf("/admin/api/invoices?month=2026-02&page=%d&per_page=50", p), "", 200, g.invoicePage(p, 50))
				t = t.Add(g.uniform(200*time.Millisecond, 1500*time.Millisecond))
			}
			rep := 7000 + g.r.IntN(1000)
			g.exchange(sc, c, t.Add(2*time.Second), "GET", AdminHost, fmt.Sprintf("/admin/api/reports/%d/export.csv", rep), "", 200, g.exportCSV(800+g.r.IntN(800)))
		}
	}
}

// crawlers: Googlebot and Bingbot from their published address ranges,
// crawling product pages (and the API calls the pages make) all day.
func (g *gen) crawlers() {
	sc := g.scenario("verified_crawlers", false, "scraping", "bot", "rate_abuse")
	bots := []struct {
		pool, ua, from string
	}{
		{"googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "googlebot(at)googlebot.com"},
		{"googlebot", "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "googlebot(at)googlebot.com"},
		{"bingbot", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", ""},
	}
	for k := 0; k < 3+g.r.IntN(3); k++ {
		b := bots[k%len(bots)]
		sw := &software{ua: b.ua, layout: layCrawler, accept: "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8"}
		if b.from != "" {
			sw.extra = []http1.Header{{Name: "From", Value: b.from}}
		}
		c := g.newClient(b.pool, sw)
		gap := time.Duration(800+g.r.IntN(3000)) * time.Millisecond
		for t := g.at(g.uniform(0, 20*time.Minute)); g.within(t); t = t.Add(g.jitter(gap, 0.5)) {
			id := 1 + g.r.IntN(g.catalog)
			if g.r.IntN(10) < 7 {
				g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/products/%d", id), "", 200, fmt.Sprintf(`<html><head><title>Product %d</title></head><body>...</body></html>`, id))
			} else {
				g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/products/%d", id), "", 200, g.product(id))
			}
		}
	}
}

// healthChecks: Kubernetes probes from the nodes, an AWS load balancer's
// checker and Google's health checkers, each on a fixed period.
func (g *gen) healthChecks() {
	sc := g.scenario("health_checks", false, "bot", "rate_abuse", "dos")
	type checker struct {
		pool, ua, path string
		period         time.Duration
		n              int
	}
	for _, ck := range []checker{
		{"k8snode", fmt.Sprintf("kube-probe/1.%d", 27+g.r.IntN(4)), "/healthz", 10 * time.Second, 2 + g.r.IntN(3)},
		{"k8snode", fmt.Sprintf("kube-probe/1.%d", 27+g.r.IntN(4)), "/readyz", 5 * time.Second, 2 + g.r.IntN(3)},
		{"vpc", "ELB-HealthChecker/2.0", "/health", 30 * time.Second, 2 + g.r.IntN(2)},
		{"googlehc", "GoogleHC/1.0", "/healthz", 5 * time.Second, 2 + g.r.IntN(2)},
	} {
		for k := 0; k < ck.n; k++ {
			c := g.newClient(ck.pool, &software{ua: ck.ua, layout: layProbe, accept: "*/*"})
			c.viaLB = false
			host := "10.20.0.10:8080"
			for t := g.at(g.uniform(0, ck.period)); g.within(t); t = t.Add(g.jitter(ck.period, 0.005)) {
				g.exchange(sc, c, t, "GET", host, ck.path, "", 200, `{"status":"ok"}`)
			}
		}
	}
}

// developers: engineers trying the API by hand with curl, Postman and
// HTTPie: every endpoint, wrong methods, missing tokens, bad bodies, a few
// ids in a row, odd search terms.
func (g *gen) developers() {
	sc := g.scenario("developers_exploring", false, "bola", "scraping", "bot", "user_enumeration")
	office := g.addr("office")
	tools := []string{"curl", "postman", "httpie", "curl", "python"}
	for k := 0; k < 2+g.r.IntN(4); k++ {
		sub := "dev-" + firstNames[g.r.IntN(len(firstNames))] + fmt.Sprint(k)
		g.out.Scenarios[sc].Users = append(g.out.Scenarios[sc].Users, sub)
		c := g.clientAt(office, g.tool(tools[k%len(tools)]))
		tok := g.userJWT(sub)
		t := g.at(g.uniform(0, g.span-40*time.Minute))
		for s := 0; s < 1+g.r.IntN(3); s++ {
			end := t.Add(g.uniform(10*time.Minute, 40*time.Minute))
			for t.Before(end) {
				c.bearer = tok
				switch x := g.r.IntN(100); {
				case x < 15: // a few ids in a row
					start := 1 + g.r.IntN(200)
					for id := start; id < start+3+g.r.IntN(8); id++ {
						g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/products/%d", id), "", 200, g.product(id))
						t = t.Add(g.uniform(2*time.Second, 15*time.Second))
					}
				case x < 25:
					g.exchange(sc, c, t, "GET", ShopHost, []string{"/api/v2/product/1", "/api/v2/users", "/api/v1/products", "/api/v2/orders/all", "/api/v2/docs", "/api/v2/swagger.json"}[g.r.IntN(6)], "", 404, `{"error":"not found"}`)
				case x < 32:
					g.exchange(sc, c, t, "DELETE", ShopHost, "/api/v2/products/12", "", 405, `{"error":"method not allowed"}`)
				case x < 40:
					c.bearer = ""
					g.exchange(sc, c, t, "GET", ShopHost, "/api/v2/me", "", 401, `{"error":"missing token"}`)
				case x < 48:
					g.exchange(sc, c, t, "POST", ShopHost, "/api/v2/cart/items", `{"product_id": 12, "qty": }`, 400, `{"error":"invalid JSON at offset 26"}`)
				case x < 55:
					g.exchange(sc, c, t, "OPTIONS", ShopHost, "/api/v2/products", "", 204, "")
				case x < 65:
					q := []string{"o'brien desk", "100% cotton", "a&b", "chair -leather", "\"standing desk\"", "lamp<30"}[g.r.IntN(6)]
					g.exchange(sc, c, t, "GET", ShopHost, "/api/v2/search?q="+queryEscape(q), "", 200, g.searchResult(q))
				case x < 75:
					id := 500000 + g.r.IntN(400000)
					g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/orders/%d", id), "", 403, `{"error":"forbidden"}`)
				case x < 85:
					g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/products?category=office&page=%d&limit=%d", 1+g.r.IntN(5), []int{10, 50, 100, 1000}[g.r.IntN(4)]), "", 200, g.productPage("office", 1))
				default:
					g.exchange(sc, c, t, "GET", PartnerHost, fmt.Sprintf("/v1/orders?page=%d", 1+g.r.IntN(3)), "", 401, `{"error":"api key required"}`)
				}
				t = t.Add(g.expo(20 * time.Second))
			}
			t = t.Add(g.uniform(10*time.Minute, 40*time.Minute))
		}
	}
}

// visitors: anonymous shoppers browsing the catalog, a few pages each (a
// tenth read many products).
func (g *gen) visitors() {
	sc := g.scenario("anonymous_visitors", false, "scraping", "bot")
	cats := []string{"office", "lighting", "furniture", "accessories", "audio"}
	for k := 0; k < g.n(300, 600); k++ {
		var sw *software
		if g.r.IntN(3) == 0 {
			sw = &software{ua: fmt.Sprintf("Mozilla/5.0 (iPhone; CPU iPhone OS 17_%d like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.%d Mobile/15E148 Safari/604.1", g.r.IntN(5), g.r.IntN(5)),
				layout: laySafari, lang: languages[g.r.IntN(len(languages))], accept: "application/json, text/plain, */*"}
		} else {
			sw = g.browser()
		}
		c := g.newClient("residential", sw)
		c.cookie = "sid=" + g.hexStr(16)
		n := 3 + g.r.IntN(28)
		if g.r.IntN(10) == 0 {
			n = 40 + g.r.IntN(41)
		}
		t := g.at(g.uniform(0, g.span))
		gap := g.uniform(5*time.Second, 40*time.Second)
		for i := 0; i < n; i++ {
			switch x := g.r.IntN(10); {
			case x < 6:
				id := g.zipf()
				g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/products/%d", id), "", 200, g.product(id))
			case x < 8:
				cat := cats[g.r.IntN(len(cats))]
				g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/products?category=%s&page=%d", cat, 1+g.r.IntN(4)), "", 200, g.productPage(cat, 1))
			default:
				q := searchWords[g.r.IntN(len(searchWords))]
				g.exchange(sc, c, t, "GET", ShopHost, "/api/v2/search?q="+queryEscape(q), "", 200, g.searchResult(q))
			}
			t = t.Add(g.expo(gap))
		}
	}
}

// busyUsers: power users of a customer working in the app all day:
// 10-30 calls a minute each for an hour or two (the throughput test's
// shape).
func (g *gen) busyUsers() {
	sc := g.scenario("busy_users", false, "rate_abuse", "exfiltration", "bola")
	for k := 0; k < g.n(20, 40); k++ {
		u := g.newShopUser()
		g.out.Scenarios[sc].Users = append(g.out.Scenarios[sc].Users, u.sub)
		c := g.newClient("residential", g.browser())
		c.bearer = g.userJWT(u.sub)
		start := g.at(g.uniform(0, g.span/2))
		g.browse(sc, c, u, start, g.uniform(time.Hour, 2*time.Hour), time.Duration(2000+g.r.IntN(4000))*time.Millisecond)
	}
}

// batchJob: an internal job with HTTP Basic credentials syncing every
// minute over plain HTTP.
func (g *gen) batchJob() {
	sc := g.scenario("internal_batch_job", false, "bot", "rate_abuse")
	c := g.newClient("internal", g.tool("python"))
	c.viaLB = false
	c.basic = base64.StdEncoding.EncodeToString([]byte("svc-batch:" + "Pw-" + g.hexStr(6)))
	g.out.Scenarios[sc].Users = append(g.out.Scenarios[sc].Users, "svc-batch")
	for t := g.at(g.uniform(0, time.Minute)); g.within(t); t = t.Add(g.jitter(time.Minute, 0.02)) {
		g.exchange(sc, c, t, "POST", AdminHost, "/admin/api/jobs/sync", `{"source":"erp","mode":"incremental"}`, 202, `{"job":"queued"}`)
	}
}
