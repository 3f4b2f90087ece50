package attack

import (
	"maps"
	"slices"
	"testing"

	"encoding/base64"
	"encoding/hex"
	"fmt"
	"github.com/apitap/apitap/reassembly/http1"
	"math/rand/v2"
	"net/url"
	"strings"
)

// The benign corpus: realistic API traffic, generated deterministically,
// full of values that look like attacks to a careless matcher (names with
// apostrophes, SQL-like prose, HTML in descriptions, URLs and file paths
// as values, base64, JWTs, code snippets in support tickets, passwords
// with shell and SQL characters, templates, markdown). Every request is
// built as bytes on the wire and parsed by the HTTP/1 parser, as in the
// sensor.

// benignText are free-text values users type: support tickets, reviews,
// comments, bios, notes.
var benignText = []string{
	"Hi team, I can't log in since yesterday. It says 'invalid token' - can you help?",
	"Please select the plan that fits your team; you can upgrade or drop down any time.",
	"Union Square store, 2nd floor (next to the café)",
	"We dropped support for IE11 -- see the changelog for details.",
	"Order by Friday and get free shipping! 50% off; limited stock.",
	"Tom & Jerry, Rock 'n' roll, Salt & Pepper",
	"If you're not sure which size to pick, select the larger one.",
	"Where is my order #10234? It was supposed to arrive on Monday.",
	"Great product. 5 stars -- would buy again :)",
	"Delete my account please, and remove all my data from your systems.",
	"I tried `curl -X POST https://api.example.com/v1/orders -H 'Content-Type: application/json'` and got a 500 error.",
	"When I run `npm install` I get: Error: Cannot find module 'express' at Function.Module._resolveFilename (internal/modules/cjs/loader.js:880:15)",
	"The report query `SELECT count(*) FROM orders WHERE status = 'open'` takes 30s on the dashboard, can you look?",
	"Stack trace: java.lang.NullPointerException at com.example.shop.CartService.total(CartService.java:42)",
	"My config file is at /home/deploy/app/config/settings.yml and the logs are in /var/log/app/.",
	"On Windows the installer writes to C:\\Program Files\\Example\\app.exe - is that expected?",
	"Python snippet: for i in range(10): print(i * 2)  # prints even numbers",
	"JS: const total = items.reduce((a, b) => a + b.price, 0); if (total > 100) { applyDiscount(); }",
	"Hello {{ first_name }}, your order {{ order_id }} has shipped.",
	"Dear ${customer}, thanks for your purchase of ${product}.",
	"Use the <b>bold</b> tag for emphasis and <i>italic</i> for titles.",
	"Price range: 10 < x < 100, and 2 > 1 obviously",
	"a|b|c separated values; 1;2;3 as well",
	"Ping me when the fix is out; I'll test it on staging & prod.",
	"It's 5 o'clock somewhere -- cheers!",
	"O'Reilly Media, D'Angelo's Pizza, Ng'ang'a Kamau",
	"The meeting is from 9 to 5, or 10 to 6 if you prefer.",
	"We need to update the set of users who can drop tables in the staging DB.",
	"Running `ls -la` in the container shows the file is there.",
	"Error 1064: You have an error near 'ORDER' -- seems the ORM generated bad SQL after the upgrade.",
	"Markdown: **bold**, _italic_, [link](https://docs.example.com/guide#setup) and `code`.",
	"Cat videos, dog videos, sleep sounds and echo chamber podcasts",
	"Please alert me when the price drops below $20.",
	"Ship to: 221B Baker Street, London NW1 6XE",
	"Can you confirm that the import (CSV, about 2 MB) finished?",
	"The function returns null when the input is empty; we expected an empty list.",
	"Temperature dropped from 25°C to 12°C overnight 🌧️",
	"Κάλεσε με αύριο, ευχαριστώ",
	"注文の確認をお願いします。",
	"Besides, the select box doesn't scroll on Safari 17.",
	"My password manager generated something like x7#Qp!2&z; is that OK?",
	"Drop-off point: Gate 4, between the union hall and the library.",
	"Execution time went from 120ms to 900ms after yesterday's deploy.",
	"`git clone git@github.com:example/app.git && cd app && make` works on my machine",
	"The shell script fails with 'permission denied' on /usr/local/bin/deploy.sh",
	"I'd like a refund for order 7781 - the item arrived damaged (photo attached).",
	"WHERE do I find my invoices? The FROM address on your emails is noreply@example.com",
	"The UNION of both lists should have 42 entries; it has 40.",
	"1 or 2 items per order, and 3 and 4 are backordered",
	"Cost = price * quantity + tax (8.5%)",
	"Run this in the console: document.querySelector('#cart').click()",
	"Regex I use for zip codes: ^\\d{5}(-\\d{4})?$",
	"<p>Thanks for the quick reply!</p><p>Best,<br>Anna</p>",
	"See https://status.example.com/incidents/2024-05-01 for the outage report.",
	"Our webhook endpoint is https://hooks.example.org/apitap?token=abc123&env=prod",
	"He said: \"it's fine\" -- but it wasn't.",
	"Version 2.3.1 -> 2.4.0 broke the export; rolling back to 2.3.1 fixed it.",
	"Can you add me to the beta? My user id is 88231 and my team is 'Growth & Ops'.",
	"To reproduce: open /settings, click Save twice, then reload the page.",
	"From our side everything looks good; waiting on the payment provider.",
	"Kill the old job first, then start the new one at 02:00 UTC.",
	"The time (in UTC) is shown in the header; the date is wrong though.",
	"SELECT your favourite colour from the list below",
	"Having trouble with the checkout -- the button does nothing.",
	"I want to insert a new row in the table between rows 3 and 4 of the spreadsheet.",
}

// benignNames are people and companies.
var benignNames = []string{"Anna Schmidt", "Liam O'Brien", "Sinéad O'Connor", "José García", "D'Arcy Moore", "Zoë Zhang", "Jean-Luc Picard",
	"Mary-Kate O'Neil", "Nguyễn Văn An", "Bob's Burgers", "Smith & Sons Ltd.", "AT&T", "Ben & Jerry's", "O'Reilly Auto Parts", "Dr. Rao",
	"Ann Lee", "Select Comfort Inc.", "Union Pacific", "Order of the Phoenix", "Drop Box Storage", "Sleep Number", "Echo Park Dental"}

// benignHTML are rich-text descriptions (a CMS or shop).
var benignHTML = []string{
	`<p>Ergonomic <strong>laptop stand</strong> with adjustable height.</p><ul><li>Aluminium</li><li>Foldable</li></ul>`,
	`<h2>Specs</h2><table><tr><td>Weight</td><td>1.2 kg</td></tr></table>`,
	`<p>See our <a href="https://shop.example.com/size-guide" target="_blank" rel="noopener">size guide</a>.</p>`,
	`<img src="https://cdn.example.com/img/p/1234/front.jpg" alt="Front view" width="400" height="300">`,
	`<p>Tom &amp; Jerry edition &mdash; limited &lt;500&gt; pieces</p>`,
	`<blockquote>Best purchase this year.</blockquote><p>&ndash; Anna</p>`,
	`<p style="color:#333;font-size:14px">Free returns within 30 days.</p>`,
	`<div class="promo"><span>-20%</span> on all <em>summer</em> items</div>`,
	`<ol><li>Unbox</li><li>Charge for 2h</li><li>Pair with the app</li></ol>`,
	`<p>Questions? Mail <a href="mailto:support@example.com">support@example.com</a></p>`,
}

// benignURLs are URL-valued parameters.
var benignURLs = []string{"https://app.example.com/callback", "https://shop.example.com/orders/1234?tab=items", "https://cdn.example.com/a/b/c.png",
	"https://hooks.slack.com/services/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", "http://localhost.example.com/", "https://example.org/search?q=drop+shipping&page=2",
	"/dashboard", "/settings/profile#security", "https://accounts.example.com/oauth/authorize?client_id=web&scope=openid%20email",
	"s3://my-bucket/exports/2024/05/orders.csv", "https://docs.example.com/api/v2/#section-3.1", "ftp://files.example.net/pub/readme.txt"}

// benignPaths are file paths as values.
var benignPaths = []string{"reports/2024/q1/summary.pdf", "../images/photo.png", "docs/readme.md", "/uploads/avatars/88231.jpg",
	"C:\\Users\\Public\\Documents\\report.docx", "./config/app.yaml", "assets/css/main.min.css", "/home/anna/projects/site/index.html",
	"exports/orders 2024-05.csv", "templates/email/welcome.html", "..\\shared\\logo.svg", "/var/www/html/uploads/2024/05/invoice.pdf"}

// benignPasswords have the characters injections use.
var benignPasswords = []string{"P@ssw0rd!", "Tr0ub4dor&3", "correct horse battery staple", "x7#Qp!2&z;", "s3cr3t'pa$$", "hunter2",
	"a\"b'c;d|e`f", "Summer2024!!", "p4ss--word", "1=1isnotapassword", "<3kittens<3", "${HOME}sweet", "rm-rf-me", "O'Neil1987!"}

var benignAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
	"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
	"okhttp/4.12.0", "python-requests/2.31.0", "Go-http-client/1.1", "axios/1.6.8", "ShopApp/5.2.1 (iOS 17.4; iPhone15,2)",
	"aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64", "curl/8.5.0", "PostmanRuntime/7.37.3",
	"Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP1A.240405.002)", "Apache-HttpClient/4.5.14 (Java/17.0.10)",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "kube-probe/1.29", "Prometheus/2.51.2",
}

var benignWords = []string{"laptop", "stand", "blue", "shoes", "union", "select", "drop", "order", "table", "chair", "desk", "lamp",
	"sleep", "echo", "cat", "dog", "time", "date", "script", "alert", "update", "delete", "insert", "from", "where", "and", "or",
	"exec", "shell", "bash", "python", "java", "ping", "kill", "set", "env", "top", "more", "find", "head", "tail", "type", "dir",
	"summer", "sale", "gift", "card", "coffee", "mug", "garden", "hose", "winter", "jacket", "running", "bike", "helmet"}

// benignGen makes the benign corpus.
type benignGen struct {
	r   *rand.Rand
	n   int
	jwt []string
	// clients each send their own User-Agent and cookies with every
	// request, as browsers and apps do
	clients []benignClient
}

type benignClient struct{ agent, cookie, apiKey, jwt string }

func newBenignGen(seed uint64) *benignGen {
	g := &benignGen{r: rand.New(rand.NewPCG(seed, 7))}
	for i := 0; i < 32; i++ {
		claims := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"sub":"user%d","name":"%s","iat":17150%05d,"scope":"read write"}`, i, benignNames[i%len(benignNames)], g.r.IntN(99999)))
		sig := make([]byte, 32)
		for j := range sig {
			sig[j] = byte(g.r.Uint32())
		}
		g.jwt = append(g.jwt, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."+claims+"."+base64.RawURLEncoding.EncodeToString(sig))
	}
	for i := 0; i < 256; i++ {
		g.clients = append(g.clients, benignClient{agent: g.pick(benignAgents), jwt: g.pick(g.jwt), apiKey: "sk_live_" + g.hexID(16),
			cookie: fmt.Sprintf("session=%s; _ga=GA1.2.%d.%d; consent=%s; theme=dark", g.hexID(20), g.r.IntN(1e9), 1700000000+g.r.IntN(1e7),
				url.QueryEscape(`{"necessary":true,"analytics":false}`))})
	}
	return g
}

func (g *benignGen) pick(s []string) string { return s[g.r.IntN(len(s))] }

func (g *benignGen) hexID(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return hex.EncodeToString(b)
}

func (g *benignGen) uuid() string {
	h := g.hexID(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (g *benignGen) text() string {
	switch g.r.IntN(10) {
	case 0:
		return g.pick(benignHTML)
	case 1:
		return g.pick(benignText) + " " + g.pick(benignText)
	case 2:
		return g.pick(benignNames)
	}
	return g.pick(benignText)
}

// jsonStr quotes s as JSON does (with HTML characters escaped half of
// the time, as Go's encoder does).
func (g *benignGen) jsonStr(s string) string {
	q := jsonString(s)
	if g.r.IntN(2) == 0 {
		q = strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`).Replace(q)
	}
	return q
}

// headers are the common request headers of a client.
func (g *benignGen) headers(b *strings.Builder, host string) {
	c := &g.clients[g.r.IntN(len(g.clients))]
	fmt.Fprintf(b, "Host: %s\r\n", host)
	fmt.Fprintf(b, "User-Agent: %s\r\n", c.agent)
	b.WriteString("Accept: application/json, text/plain, */*\r\n")
	if g.r.IntN(2) == 0 {
		b.WriteString("Accept-Language: en-US,en;q=0.9,de;q=0.8\r\nAccept-Encoding: gzip, deflate, br\r\n")
	}
	switch g.r.IntN(4) {
	case 0:
		fmt.Fprintf(b, "Authorization: Bearer %s\r\n", c.jwt)
	case 1:
		fmt.Fprintf(b, "X-Api-Key: %s\r\n", c.apiKey)
	case 2:
		fmt.Fprintf(b, "Cookie: %s\r\n", c.cookie)
	}
	if g.r.IntN(3) == 0 {
		fmt.Fprintf(b, "X-Request-ID: %s\r\n", g.uuid())
	}
	if g.r.IntN(4) == 0 {
		fmt.Fprintf(b, "traceparent: 00-%s-%s-01\r\n", g.hexID(16), g.hexID(8))
	}
	if g.r.IntN(4) == 0 {
		fmt.Fprintf(b, "X-Forwarded-For: 203.0.113.%d, 10.0.%d.%d\r\n", g.r.IntN(255), g.r.IntN(255), g.r.IntN(255))
	}
	if g.r.IntN(3) == 0 {
		q := url.QueryEscape(g.pick(benignWords) + " " + g.pick(benignWords))
		if g.r.IntN(3) == 0 {
			q = url.QueryEscape(g.pick(benignText))
		}
		fmt.Fprintf(b, "Referer: https://%s/search?q=%s&page=%d\r\n", strings.TrimPrefix(host, "api."), q, 1+g.r.IntN(5))
	}
	if g.r.IntN(6) == 0 {
		fmt.Fprintf(b, "If-None-Match: W/\"%s\"\r\n", g.hexID(8))
	}
	if g.r.IntN(8) == 0 {
		fmt.Fprintf(b, "Origin: https://app.%s\r\n", strings.TrimPrefix(host, "api."))
	}
}

// request builds one request on the wire.
func (g *benignGen) request(method, target, host, ct, body string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, target)
	g.headers(&b, host)
	if body != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\nContent-Length: %d\r\n", ct, len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return []byte(b.String())
}

// next returns the next benign request.
func (g *benignGen) next() []byte {
	g.n++
	hosts := []string{"api.shop.example", "api.saas.example", "api.cms.example", "api.pay.example"}
	host := g.pick(hosts)
	q := url.QueryEscape
	switch k := g.r.IntN(20); k {
	case 0, 1, 2: // search and list
		params := []string{"page=" + fmt.Sprint(1+g.r.IntN(20)), "limit=" + fmt.Sprint([]int{10, 20, 50, 100}[g.r.IntN(4)])}
		switch g.r.IntN(8) {
		case 0:
			params = append(params, "q="+q(g.pick(benignText)))
		case 1:
			params = append(params, "q="+q(g.pick(benignWords)+" "+g.pick(benignWords)))
		case 2:
			params = append(params, "sort=-created_at", "fields=id,name,price,updated_at")
		case 3:
			params = append(params, "filter[name]="+q(g.pick(benignNames)), "filter[status]=active")
		case 4:
			params = append(params, "from=2024-0"+fmt.Sprint(1+g.r.IntN(9))+"-01T00:00:00Z", "to=2024-12-31T23:59:59Z", "tz=Europe/Berlin")
		case 5:
			params = append(params, "include=author,comments.user", "order_by=date", "order=desc")
		case 6:
			params = append(params, "tags="+q("sale,summer & beach,kids' toys"))
		case 7:
			params = append(params, "q="+q(g.pick(benignNames)), "type=user")
		}
		g.r.Shuffle(len(params), func(i, j int) { params[i], params[j] = params[j], params[i] })
		path := []string{"/v1/products", "/v1/users", "/v2/articles", "/v1/orders", "/api/search", "/v1/customers"}[g.r.IntN(6)]
		return g.request("GET", path+"?"+strings.Join(params, "&"), host, "", "")
	case 3, 4: // get one
		paths := []string{"/v1/users/" + fmt.Sprint(10000+g.r.IntN(90000)), "/v1/orders/" + g.uuid(), "/v2/articles/2024/05/why-we-dropped-" + g.pick(benignWords),
			"/v1/files/reports/2024/summary.pdf", "/v1/accounts/me/settings", "/v1/products/" + g.pick(benignWords) + "-" + g.pick(benignWords) + "-" + fmt.Sprint(g.r.IntN(999)),
			"/blog/how-to-select-the-right-plan", "/v1/invoices/INV-2024-" + fmt.Sprint(g.r.IntN(9999)) + ".pdf", "/static/js/app." + g.hexID(4) + ".js",
			"/.well-known/openid-configuration", "/v1/users/me/avatar.png", "/v1/search/" + q(g.pick(benignWords)+" & "+g.pick(benignWords))}
		return g.request("GET", g.pick(paths), host, "", "")
	case 5, 6, 7: // create or update with JSON
		var body string
		switch g.r.IntN(8) {
		case 0:
			body = fmt.Sprintf(`{"name":%s,"email":"%s@example.com","address":{"street":%s,"city":"Dublin","zip":"D02 X285"},"marketing_opt_in":%v}`,
				g.jsonStr(g.pick(benignNames)), strings.ToLower(strings.ReplaceAll(g.pick(benignWords), " ", ".")), g.jsonStr("12 O'Connell St. & Sons"), g.r.IntN(2) == 0)
		case 1:
			body = fmt.Sprintf(`{"title":%s,"description":%s,"price":%d.%02d,"tags":["%s","%s"],"sku":"SKU-%s"}`, g.jsonStr(g.pick(benignWords)+" "+g.pick(benignWords)),
				g.jsonStr(g.pick(benignHTML)), g.r.IntN(500), g.r.IntN(100), g.pick(benignWords), g.pick(benignWords), strings.ToUpper(g.hexID(3)))
		case 2:
			body = fmt.Sprintf(`{"subject":%s,"message":%s,"priority":"%s","attachments":[{"name":%s,"url":%s}]}`, g.jsonStr(g.pick(benignText)), g.jsonStr(g.text()),
				[]string{"low", "normal", "high"}[g.r.IntN(3)], g.jsonStr(g.pick(benignPaths)), g.jsonStr(g.pick(benignURLs)))
		case 3:
			body = fmt.Sprintf(`{"items":[{"product_id":%d,"qty":%d},{"product_id":%d,"qty":1}],"note":%s,"coupon":"SUMMER%d","gift_message":%s}`,
				g.r.IntN(99999), 1+g.r.IntN(5), g.r.IntN(99999), g.jsonStr(g.text()), g.r.IntN(50), g.jsonStr(g.pick(benignText)))
		case 4:
			body = fmt.Sprintf(`{"url":%s,"events":["order.created","order.paid"],"secret":"whsec_%s","active":true}`, g.jsonStr(g.pick(benignURLs)), g.hexID(12))
		case 5:
			body = fmt.Sprintf(`{"query":"query Products($q: String!, $first: Int) { products(search: $q, first: $first) { edges { node { id name price } } } }","variables":{"q":%s,"first":%d}}`,
				g.jsonStr(g.pick(benignWords)+" "+g.pick(benignText)[:10]), 10+g.r.IntN(40))
		case 6:
			body = fmt.Sprintf(`{"settings":{"theme":"dark","locale":"en-GB","timezone":"America/New_York","notifications":{"email":true,"sms":false}},"bio":%s,"website":%s}`,
				g.jsonStr(g.text()), g.jsonStr(g.pick(benignURLs)))
		case 7:
			body = fmt.Sprintf(`{"file":{"name":%s,"content_base64":"%s","path":%s},"template":%s}`, g.jsonStr(g.pick(benignPaths)),
				base64.StdEncoding.EncodeToString([]byte(g.pick(benignText)+g.hexID(24))), g.jsonStr(g.pick(benignPaths)), g.jsonStr("Hello {{ user.name }}, ${amount} is due"))
		}
		method := []string{"POST", "PUT", "PATCH"}[g.r.IntN(3)]
		path := []string{"/v1/users", "/v1/products", "/v1/tickets", "/v1/orders", "/v1/webhooks", "/graphql", "/v1/accounts/me", "/v1/files"}[g.r.IntN(8)]
		return g.request(method, path, host, "application/json", body)
	case 8: // login and token forms
		var body string
		switch g.r.IntN(3) {
		case 0:
			body = "username=" + q(strings.ToLower(strings.Fields(g.pick(benignNames))[0])) + "&password=" + q(g.pick(benignPasswords)) + "&remember=on"
		case 1:
			body = "grant_type=authorization_code&code=" + g.hexID(16) + "&redirect_uri=" + q(g.pick(benignURLs)) + "&client_id=web-app"
		case 2:
			body = "grant_type=refresh_token&refresh_token=" + g.hexID(32) + "&scope=" + q("openid email profile")
		}
		return g.request("POST", []string{"/login", "/oauth/token", "/v1/session"}[g.r.IntN(3)], host, "application/x-www-form-urlencoded", body)
	case 9: // contact and comment forms
		body := "name=" + q(g.pick(benignNames)) + "&email=" + q("someone@example.org") + "&message=" + q(g.text()) + "&subscribe=1"
		return g.request("POST", "/contact", host, "application/x-www-form-urlencoded; charset=UTF-8", body)
	case 10: // multipart uploads
		boundary := "----WebKitFormBoundary" + g.hexID(8)
		var b strings.Builder
		fname := g.pick([]string{"report Q3 (final).pdf", "O'Brien résumé.docx", "photo 2024-05-01.jpg", "data export.csv", "avatar.png", "notes & ideas.txt"})
		ctype := map[string]string{".pdf": "application/pdf", ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
			".jpg": "image/jpeg", ".csv": "text/csv", ".png": "image/png", ".txt": "text/plain"}[fname[strings.LastIndexByte(fname, '.'):]]
		content := map[string]string{"application/pdf": "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "image/jpeg": "\xff\xd8\xff\xe0\x00\x10JFIF\x00",
			"text/csv": "id,name,comment\n1,Anna,\"select all; drop none\"\n2,Liam O'Brien,\"<b>vip</b>\"\n", "image/png": "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
			"text/plain": g.pick(benignText) + "\n" + g.pick(benignText) + "\n"}[ctype]
		if content == "" {
			content = "PK\x03\x04\x14\x00\x06\x00word/document.xml"
		}
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n%s\r\n", boundary, g.pick(benignText))
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\nContent-Type: %s\r\n\r\n%s\r\n--%s--\r\n", boundary, fname, ctype, content, boundary)
		return g.request("POST", "/v1/uploads", host, "multipart/form-data; boundary="+boundary, b.String())
	case 11: // redirects and callbacks
		params := []string{"redirect_uri=" + q(g.pick(benignURLs)), "state=" + g.hexID(8), "next=" + q("/account/orders?page=2"), "return_to=" + q("https://www."+strings.TrimPrefix(host, "api.")+"/cart")}
		return g.request("GET", "/oauth/authorize?response_type=code&client_id=web&"+params[g.r.IntN(len(params))], host, "", "")
	case 12: // XML (SOAP-ish)
		body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><order><customer>%s</customer><note>%s</note><total currency="EUR">%d.00</total></order>`,
			strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(g.pick(benignNames)), strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(g.pick(benignText)), g.r.IntN(900))
		return g.request("POST", "/soap/orders", host, "application/xml", body)
	case 13: // deletes and actions
		return g.request([]string{"DELETE", "POST"}[g.r.IntN(2)], []string{"/v1/sessions/" + g.hexID(12), "/v1/orders/" + fmt.Sprint(g.r.IntN(99999)) + "/cancel",
			"/v1/vms/vm-" + g.hexID(4) + "/actions/shutdown", "/v1/jobs/" + g.uuid() + "/kill", "/v1/cache/flush"}[g.r.IntN(5)], host, "", "")
	case 14: // analytics beacons
		return g.request("POST", "/collect", host, "text/plain;charset=UTF-8", fmt.Sprintf(`{"event":"page_view","path":%s,"referrer":%s,"ua":%s,"screen":"1920x1080","ts":%d}`,
			g.jsonStr("/products/"+g.pick(benignWords)), g.jsonStr(g.pick(benignURLs)), g.jsonStr(g.pick(benignAgents)), 1715000000000+g.r.IntN(1e9)))
	case 15: // config and admin APIs with technical values
		body := fmt.Sprintf(`{"name":"nightly-export","schedule":"0 2 * * *","command":%s,"env":{"TZ":"UTC","LOG_LEVEL":"info"},"output":%s}`,
			g.jsonStr(g.pick([]string{"export --format csv --since 24h", "backup-db", "reindex products", "send-digest --dry-run"})), g.jsonStr(g.pick(benignPaths)))
		return g.request("PUT", "/v1/jobs/nightly-export", host, "application/json", body)
	case 16: // translations and i18n
		body := fmt.Sprintf(`{"key":"checkout.button.%s","values":{"en":%s,"fr":%s,"de":"Jetzt kaufen & sparen"}}`, g.pick(benignWords), g.jsonStr("Select & pay"), g.jsonStr("Sélectionner l'option"))
		return g.request("PATCH", "/v1/i18n/strings", host, "application/json", body)
	case 17: // payments
		body := fmt.Sprintf(`{"amount":%d,"currency":"usd","description":%s,"metadata":{"order_id":"%d","customer_note":%s},"statement_descriptor":"EXAMPLE*SHOP"}`,
			100+g.r.IntN(99900), g.jsonStr("Order #"+fmt.Sprint(g.r.IntN(99999))+" - "+g.pick(benignNames)), g.r.IntN(99999), g.jsonStr(g.pick(benignText)))
		return g.request("POST", "/v1/payment_intents", host, "application/json", body)
	case 18: // query with many parameters from a frontend
		params := []string{"utm_source=newsletter", "utm_medium=email", "utm_campaign=" + q("summer sale -- 50% off"), "gclid=" + g.hexID(10),
			"category=" + q(g.pick(benignWords)), "price_min=10", "price_max=100", "color=" + q("blue|red"), "sort=price_asc"}
		return g.request("GET", "/v1/catalog?"+strings.Join(params[:3+g.r.IntN(6)], "&"), host, "", "")
	default: // markdown and code in a comment API
		body := fmt.Sprintf(`{"body":%s,"format":"markdown","mentions":["@anna","@liam"]}`, g.jsonStr("```js\n"+g.pick(benignText)+"\n```\n"+g.pick(benignText)))
		return g.request("POST", "/v1/issues/"+fmt.Sprint(g.r.IntN(999))+"/comments", host, "application/json", body)
	}
}

// benignSize is how many requests the benign corpus has.
const benignSize = 30000

// TestBenignCorpus runs the fast engine over the benign corpus: false
// positives must stay under 0.1% of the requests.
func TestBenignCorpus(t *testing.T) {
	w := newWorker(newTestState(t))
	fps, n := benignEval(w, benignSize)
	rate := float64(len(fps)) / float64(n)
	t.Logf("benign corpus: %d requests, %d flagged (%.3f%%)", n, len(fps), 100*rate)
	byRule := map[string][]string{}
	for _, f := range fps {
		byRule[f.rule] = append(byRule[f.rule], f.line)
	}
	for _, r := range slices.Sorted(maps.Keys(byRule)) {
		t.Logf("  %4d %s, e.g. %s", len(byRule[r]), r, byRule[r][0])
	}
	if rate >= 0.001 {
		t.Errorf("false-positive rate %.3f%% >= 0.1%%", 100*rate)
	}
}

type flagged struct{ rule, line string }

// benignEval returns the flagged requests of the first n of the corpus.
func benignEval(w *worker, n int) (fps []flagged, total int) {
	g := newBenignGen(1)
	var lim http1.Limits
	var st http1.Stats
	conn := http1.NewConn(&lim, &st, nil)
	for i := 0; i < n; i++ {
		req := g.next()
		dets := wireRun(w, fmt.Sprint("benign-", i), req, nil, conn, &lim, &st)
		if len(dets) > 0 {
			line := string(req)
			if j := strings.Index(line, "\r\n"); j > 0 {
				line = line[:j]
			}
			d := dets[0]
			fps = append(fps, flagged{d.class + " " + d.rule, fmt.Sprintf("%s=%q in %s", d.name, d.value, line)})
		}
	}
	return fps, n
}
