package graphql

import (
	"fmt"
	"testing"
	"time"

	"github.com/apitap/apitap/analyzer/aggregate"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/graphql/gqlreq"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

func noteOf(t *testing.T, body, resp string, status int, sens uint64) *reassembly.GraphQLNote {
	t.Helper()
	w := &worker{cfg: NewConfig(), p: gqlreq.NewParser(gqlreq.Limits{}), agg: aggregate.New(time.Minute, 10, "gq-")}
	tx := gqlTx("api.example", body)
	tx.Response = &http1.Response{Status: status, Body: http1.Body{Data: []byte(resp)}}
	tx.Notes.SensitiveResponse = sens
	w.Analyze(tx, &rec{})
	return tx.Notes.GraphQL
}

func loginsString(n *reassembly.GraphQLNote) string {
	if n == nil {
		return "nil"
	}
	s := fmt.Sprintf("ops=%d", n.Operations)
	for _, l := range n.Logins {
		s += fmt.Sprintf(" %s:failed=%v", l.User, l.Failed)
	}
	return s
}

// TestNoteLogins: login attempts are read per batch element and per
// alias, with the username from literals, variables or an input object,
// and the outcome from the response (an error whose path names the
// field, a null, a payload that says it failed, an HTTP error); mutations
// that are not logins, or logins without a password, are not counted.
func TestNoteLogins(t *testing.T) {
	const login = `mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { token } }`
	cases := []struct {
		name, body, resp string
		status           int
		want             string
	}{
		{"single query", `{"query":"{ me { id } }"}`, `{"data":{"me":{"id":"1"}}}`, 200, "nil"},
		{"batch of queries", `[{"query":"{ a }"},{"query":"{ b }"}]`, `[{"data":{"a":1}},{"data":{"b":2}}]`, 200, "ops=2"},
		{"one login, success", `{"query":"` + login + `","variables":{"email":"Ann@Mail.example","password":"pw"}}`, `{"data":{"login":{"token":"t"}}}`, 200,
			"ops=1 ann@mail.example:failed=false"},
		{"batch of logins", `[{"query":"` + login + `","variables":{"email":"a@x.example","password":"1"}},{"query":"` + login + `","variables":{"email":"b@x.example","password":"2"}},{"query":"` + login + `","variables":{"email":"c@x.example","password":"3"}}]`,
			`[{"data":{"login":null}},{"data":{"login":{"token":"t"}}},{"data":null,"errors":[{"message":"bad credentials","path":["login"]}]}]`, 200,
			"ops=3 a@x.example:failed=true b@x.example:failed=false c@x.example:failed=true"},
		{"aliases", `{"query":"mutation { a0: login(email: \"u0@x.example\", password: \"p0\") { token } a1: login(email: \"u1@x.example\", password: \"p1\") { token } a2: login(email: \"u2@x.example\", password: \"p2\") { token } }"}`,
			`{"data":{"a0":{"token":"t"},"a1":null,"a2":null},"errors":[{"message":"Invalid password","path":["a1"]},{"message":"Invalid password","path":["a2"]}]}`, 200,
			"ops=3 u0@x.example:failed=false u1@x.example:failed=true u2@x.example:failed=true"},
		{"input object variable", `{"query":"mutation SignIn($in: SignInInput!) { signIn(input: $in) { ok message } }","variables":{"in":{"username":"Bob","password":"hunter2"}}}`,
			`{"data":{"signIn":{"ok":false,"message":"Invalid credentials"}}}`, 200, "ops=1 bob:failed=true"},
		{"input object literal", `{"query":"mutation { tokenAuth(input: {user: \"carol\", pass: \"x\"}) { token } }"}`, `{"data":{"tokenAuth":{"token":"t"}}}`, 200,
			"ops=1 carol:failed=false"},
		{"element without a query first", `[{"extensions":{}},{"query":"` + login + `","variables":{"email":"e@x.example","password":"1"}}]`,
			`[{"errors":[{"message":"no query"}]},{"data":{"login":{"token":"t"}}}]`, 200, "ops=2 e@x.example:failed=false"},
		{"HTTP error", `{"query":"` + login + `","variables":{"email":"d@x.example","password":"1"}}`, `rate limited`, 429, "ops=1 d@x.example:failed=true"},
		{"not a login", `{"query":"mutation { changePassword(old: \"a\", password: \"b\") { ok } register(email: \"e@x.example\", password: \"c\") { ok } }"}`, `{"data":{}}`, 200, "nil"},
		{"login without password", `{"query":"mutation { loginWithMagicLink(email: \"f@x.example\") { sent } }"}`, `{"data":{"loginWithMagicLink":{"sent":true}}}`, 200, "nil"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := loginsString(noteOf(t, tc.body, tc.resp, tc.status, 0)); got != tc.want {
				t.Errorf("got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestNoteSensitive: a batch's sensitive types are attributed to the
// element of the response array they were found in, whatever the
// sensitive analyzer (which scans a sample of responses in stage two)
// said of the transaction.
func TestNoteSensitive(t *testing.T) {
	email, card, phone := event.SensitiveBit("email"), event.SensitiveBit("card"), event.SensitiveBit("phone")
	body := `[{"query":"{ me { email } }"},{"query":"{ products { sku } }"},{"query":"{ wallet { card } }"}]`
	resp := `[{"data":{"me":{"email":"ann.lee@mail.example"}}},{"data":{"products":[{"sku":"SKU-1"}]}},{"data":{"wallet":{"card":"4111 1111 1111 1111","phone":"+1 202 555 0143"}}}]`
	for _, verdict := range []uint64{email | card, 0} {
		n := noteOf(t, body, resp, 200, verdict)
		if n == nil || fmt.Sprint(n.Sensitive) != fmt.Sprint([]uint64{email, 0, card | phone}) {
			t.Fatalf("verdict %d: got %+v, want [%d 0 %d]", verdict, n, email, card|phone)
		}
	}
	clean := `[{"data":{"me":{"name":"Ann"}}},{"data":{"products":[{"sku":"SKU-1"}]}},{"data":{"wallet":{"balance":3}}}]`
	if n := noteOf(t, body, clean, 200, 0); n == nil || n.Sensitive != nil {
		t.Errorf("nothing found in the response: %+v", n)
	}
	// an element without a query keeps its place: the others are
	// attributed by their index in the batch
	skip := `[{"query":"{ me { email } }"},{"extensions":{}},{"query":"{ wallet { card } }"}]`
	if n := noteOf(t, skip, resp, 200, email|card); n == nil || fmt.Sprint(n.Sensitive) != fmt.Sprint([]uint64{email, 0, card | phone}) {
		t.Errorf("element without a query: %+v", n)
	}
	// an answer that is not one element per operation is not attributed
	if n := noteOf(t, body, `{"errors":[{"message":"batching disabled"}]}`, 200, email); n == nil || n.Sensitive != nil {
		t.Errorf("no array: %+v", n)
	}
}

// FuzzNote: any request and response body pair through the analyzer
// (the note's login, outcome and per-element readers): no panic, and the
// note stays within its bounds.
func FuzzNote(f *testing.F) {
	f.Add([]byte(`[{"query":"mutation L($e: String!, $p: String!) { login(email: $e, password: $p) { token } }","variables":{"e":"a@x","p":"1"}},{"query":"{ me { email } }"}]`),
		[]byte(`[{"data":{"login":null},"errors":[{"message":"no","path":["login",0]}]},{"data":{"me":{"email":"a@b.example"}}}]`), 200)
	f.Add([]byte(`{"query":"mutation { a: signIn(input: {user: \"u\", password: \"p\"}) { ok } b: signIn(input: $in) { ok } }","variables":{"in":{"user":7,"password":["x"]}}}`),
		[]byte(`{"data":{"a":{"ok":false},"b":null},"errors":[{"path":[]},{"path":null}]}`), 401)
	w := &worker{cfg: NewConfig(), p: gqlreq.NewParser(gqlreq.Limits{MaxWalk: 2000, MaxTokens: 2000}), agg: aggregate.New(time.Minute, 10, "gq-")}
	f.Fuzz(func(t *testing.T, req, resp []byte, status int) {
		tx := gqlTx("api.example", string(req))
		tx.Response = &http1.Response{Status: status, Body: http1.Body{Data: resp}}
		tx.Notes.SensitiveResponse = ^uint64(0)
		w.Analyze(tx, &rec{})
		if n := tx.Notes.GraphQL; n != nil {
			if len(n.Logins) > maxNoteLogins || n.Sensitive != nil && len(n.Sensitive) < 2 {
				t.Fatalf("note out of bounds: %d logins, %d elements", len(n.Logins), len(n.Sensitive))
			}
			for _, l := range n.Logins {
				if len(l.User) > 128 {
					t.Fatalf("username of %d bytes", len(l.User))
				}
			}
		}
	})
}
