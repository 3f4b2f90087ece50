package gqlreq

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/apitap/apitap/reassembly/http1"
)

func post(body, ct string) *http1.Request {
	return &http1.Request{Method: "POST", Path: "/graphql", Headers: []http1.Header{{Name: "Content-Type", Value: ct}}, Body: http1.Body{Data: []byte(body)}}
}

func TestParse(t *testing.T) {
	p := NewParser(Limits{})
	cases := []struct {
		name string
		req  *http1.Request
		want string
	}{
		{"json named", post(`{"query":"query GetUser($id: ID!) { user(id: $id) { id name orders(first: 5) { id } } }","operationName":"GetUser","variables":{"id":"7"}}`, "application/json"),
			"json 1 [query GetUser roots=[user] args=[orders.first user.id] vars=[{id ID!}] depth=3 fields=5 aliases=0 repeat=1 intro=false cycle=false]"},
		{"selected by operationName", post(`{"query":"query A { a } mutation B($x: String) { b(x: $x) { ok } }","operationName":"B"}`, "application/json"),
			"json 1 [mutation B roots=[b] args=[b.x] vars=[{x String}] depth=2 fields=2 aliases=0 repeat=1 intro=false cycle=false]"},
		{"anonymous shorthand", post(`{"query":"{ products { sku } }"}`, "application/json"),
			"json 1 [query {products} roots=[products] args=[] vars=[] depth=2 fields=2 aliases=0 repeat=1 intro=false cycle=false]"},
		{"batch", post(`[{"query":"query A { a }"},{"query":"query B { b }"},{"query":"query C { c }"}]`, "application/json"),
			"json 3 [query A roots=[a] args=[] vars=[] depth=1 fields=1 aliases=0 repeat=1 intro=false cycle=false query B roots=[b] args=[] vars=[] depth=1 fields=1 aliases=0 repeat=1 intro=false cycle=false query C roots=[c] args=[] vars=[] depth=1 fields=1 aliases=0 repeat=1 intro=false cycle=false]"},
		{"application/graphql", post(`subscription OnPrice { price { sku } }`, "application/graphql"),
			"graphql 1 [subscription OnPrice roots=[price] args=[] vars=[] depth=2 fields=2 aliases=0 repeat=1 intro=false cycle=false]"},
		{"GET", &http1.Request{Method: "GET", Path: "/graphql", Query: "query=" + url.QueryEscape("query Me { me { id } }")},
			"get 1 [query Me roots=[me] args=[] vars=[] depth=2 fields=2 aliases=0 repeat=1 intro=false cycle=false]"},
		{"introspection", post(`{"query":"query IntrospectionQuery { __schema { types { name } } }"}`, "application/json"),
			"json 1 [query IntrospectionQuery roots=[__schema] args=[] vars=[] depth=3 fields=3 aliases=0 repeat=1 intro=true cycle=false]"},
		{"aliases", post(`{"query":"{ a1: login(u: \"a\") { ok } a2: login(u: \"b\") { ok } a3: login(u: \"c\") { ok } }"}`, "application/json"),
			"json 1 [query {login} roots=[login] args=[login.u] vars=[] depth=2 fields=6 aliases=3 repeat=3 intro=false cycle=false]"},
		{"fragment cycle", post(`{"query":"query Q { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"}`, "application/json"),
			"json 1 [query Q roots=[] args=[] vars=[] depth=0 fields=0 aliases=0 repeat=0 intro=false cycle=true]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := p.Parse(tc.req)
			if r == nil {
				t.Fatal("not recognised")
			}
			var ops []string
			for _, o := range r.Ops {
				ops = append(ops, fmt.Sprintf("%s roots=%v args=%v vars=%v depth=%d fields=%d aliases=%d repeat=%d intro=%v cycle=%v",
					o.Key(), o.RootFields, o.Args, o.Variables, o.Depth, o.Fields, o.Aliases, o.MaxRepeat, o.Introspection, o.FragmentCycle))
			}
			if got := fmt.Sprintf("%s %d %v", r.Via, r.Batch, ops); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	// persisted query: a hash, no text
	r := p.Parse(post(`{"operationName":"Feed","extensions":{"persistedQuery":{"version":1,"sha256Hash":"ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"}}}`, "application/json"))
	if r == nil || len(r.Ops) != 1 || !r.Ops[0].Persisted || r.Ops[0].Hash != "ecf4edb46db40b51" || r.Ops[0].Name != "Feed" {
		t.Errorf("persisted: %+v", r)
	}
	// not GraphQL
	for _, b := range []string{`{"name":"x"}`, `[1,2]`, `query=1`, `{"query":12}`} {
		if r := p.Parse(post(b, "application/json")); r != nil {
			t.Errorf("%s recognised: %+v", b, r)
		}
	}
	// graphql-ws
	if r := p.ParseMessage([]byte(`{"id":"1","type":"subscribe","payload":{"query":"subscription S { ticks }"}}`)); r == nil || r.Ops[0].Key() != "subscription S" {
		t.Errorf("graphql-ws: %+v", r)
	}
}

func TestParseResponse(t *testing.T) {
	p := NewParser(Limits{})
	r, ok := p.ParseResponse([]byte(`{"data":{"user":{"id":"1"},"count":3},"errors":[{"message":"Cannot query field \"nam\" on type \"User\". Did you mean \"name\"?"},{"message":"boom","extensions":{"stacktrace":["at resolver (/home/app/src/user.js:10)"]}}]}`))
	if !ok || strings.Join(r.DataFields, ",") != "count:number,user:object" || r.Errors != 2 || !r.Suggestions || !r.Verbose {
		t.Errorf("%+v %v", r, ok)
	}
	if _, ok := p.ParseResponse([]byte(`{"items":[]}`)); ok {
		t.Error("not a GraphQL response")
	}
}

func FuzzExtract(f *testing.F) {
	f.Add([]byte(`{"query":"query GetUser($id: ID!) { user(id: $id) { ...F } } fragment F on User { id ...F }","variables":{"id":1}}`), false)
	f.Add([]byte(`[{"query":"{ a: x b: x }"},{"extensions":{"persistedQuery":{"sha256Hash":"ab"}}}]`), false)
	f.Add([]byte(`query=%7B+a+%7B+b+%7D+%7D&variables=%7B%7D`), true)
	f.Add([]byte(`{"data":{"a":1},"errors":[{"message":"Did you mean"}]}`), false)
	p := NewParser(Limits{MaxWalk: 2000, MaxTokens: 2000})
	f.Fuzz(func(t *testing.T, b []byte, get bool) {
		req := post(string(b), "application/json")
		if get {
			req = &http1.Request{Method: "GET", Query: string(b)}
		}
		if r := p.Parse(req); r != nil {
			for _, o := range r.Ops {
				if len(o.RootFields) > 64 || len(o.Args) > 64 || len(o.Variables) > 64 {
					t.Fatalf("unbounded names: %+v", o)
				}
			}
		}
		p.ParseResponse(b)
		p.ParseMessage(b)
	})
}

// TestRoots: a mutation's root selections with their response keys and
// string-valued arguments (literals, variables, input object fields);
// RootSelections counts aliases of one field apart.
func TestRoots(t *testing.T) {
	p := NewParser(Limits{})
	r := p.Parse(post(`{"query":"mutation M($pw: String!, $in: In) { a: login(user: \"ann\", password: $pw) { token } b: login(input: {user: \"bo\", password: $pw}) { token } other(x: $in, n: 3) }"}`, "application/json"))
	if r == nil || len(r.Ops) != 1 {
		t.Fatal("not parsed")
	}
	o := r.Ops[0]
	got := fmt.Sprintf("%d %v %+v", o.RootSelections, o.RootFields, o.Roots)
	want := "3 [login other] [{Key:a Name:login Args:[{Name:user Value:ann Var:} {Name:password Value: Var:pw}]} {Key:b Name:login Args:[{Name:input.user Value:bo Var:} {Name:input.password Value: Var:pw}]} {Key:other Name:other Args:[{Name:x Value: Var:in}]}]"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if q := p.Parse(post(`{"query":"{ a: me { id } b: me { id } }"}`, "application/json")); q.Ops[0].RootSelections != 2 || q.Ops[0].Roots != nil {
		t.Errorf("query: %+v", q.Ops[0])
	}
}

// TestBatchNoStaleFields: a batch parsed after another does not inherit
// the earlier one's fields (encoding/json reuses a slice's elements): the
// persisted-query hash of the first batch's first request must not reach
// the second batch's, which sent none.
func TestBatchNoStaleFields(t *testing.T) {
	p := NewParser(Limits{})
	first := p.ParseJSON([]byte(`[{"query":"{ me { id } }","extensions":{"persistedQuery":{"sha256Hash":"998bcac94c17d1c4aa"}}},{"query":"{ a }"}]`), ViaJSON)
	if first == nil || first.Ops[0].Hash == "" {
		t.Fatalf("first batch: %+v", first)
	}
	second := p.ParseJSON([]byte(`[{"query":"{ me { id } }"},{"query":"{ a }"}]`), ViaJSON)
	if second == nil || second.Ops[0].Hash != "" || second.Ops[0].Persisted {
		t.Fatalf("second batch inherited the first one's hash: %+v", second.Ops[0])
	}
}
