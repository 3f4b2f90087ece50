package discovery

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/reassembly/websocket"
)

// TestGraphQLOperations: each operation on POST /graphql (and a GET
// query, a batch, a persisted query) is an entry under its endpoint with
// its fields, arguments, variables, data shape and errors; the OpenAPI
// export carries them in x-graphql-operations.
func TestGraphQLOperations(t *testing.T) {
	c := NewCatalog(NewConfig(), "test")
	gql := func(body, resp string) {
		x := tx("POST", "api.example", "/graphql", 200)
		x.Request.Headers = []http1.Header{{Name: "Content-Type", Value: "application/json"}}
		x.Request.Body.Data = []byte(body)
		x.Response.Body.Data = []byte(resp)
		c.Observe(x)
	}
	for i := 0; i < 3; i++ {
		gql(`{"query":"query GetUser($id: ID!) { user(id: $id) { id name } }","operationName":"GetUser","variables":{"id":"1"}}`, `{"data":{"user":{"id":"1","name":"a"}}}`)
	}
	gql(`{"query":"mutation AddToCart($sku: String!, $qty: Int) { addToCart(sku: $sku, qty: $qty) { total } }"}`, `{"data":null,"errors":[{"message":"out of stock"}]}`)
	gql(`[{"query":"query A { products { sku } }"},{"query":"{ me { id } }"}]`, `[{"data":{"products":[]}},{"data":{"me":{"id":"7"}}}]`)
	gql(`{"operationName":"Feed","extensions":{"persistedQuery":{"version":1,"sha256Hash":"ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"}}}`, `{"data":{"feed":[]}}`)
	x := tx("GET", "api.example", "/graphql?query=query%20Me%20%7B%20me%20%7B%20id%20%7D%20%7D", 200)
	c.Observe(x)
	v := c.View()
	var got []string
	for _, ep := range v.Endpoints {
		j := ep.JSON(v.Time)
		if j.GraphQL == nil {
			continue
		}
		for _, o := range j.GraphQL.Operations {
			vars, _ := json.Marshal(o.Variables)
			data, _ := json.Marshal(o.Data)
			got = append(got, fmt.Sprintf("%s %s: %s %s calls=%d errors=%d roots=%v args=%v vars=%s data=%s persisted=%d", j.Method, j.Path, o.Type, o.Name, o.Calls, o.Errors, o.RootFields, o.Arguments, vars, data, o.Persisted))
		}
	}
	want := []string{
		`GET /graphql: query Me calls=1 errors=0 roots=[me] args=[] vars={} data=null persisted=0`,
		`POST /graphql: mutation AddToCart calls=1 errors=1 roots=[addToCart] args=[addToCart.qty addToCart.sku] vars={"qty":"Int","sku":"String!"} data=null persisted=0`,
		`POST /graphql: query A calls=1 errors=0 roots=[products] args=[] vars={} data={"products":"array"} persisted=0`,
		`POST /graphql: query Feed calls=1 errors=0 roots=[] args=[] vars={} data={"feed":"array"} persisted=1`,
		`POST /graphql: query GetUser calls=3 errors=0 roots=[user] args=[user.id] vars={"id":"ID!"} data={"user":"object"} persisted=0`,
		`POST /graphql: query  calls=1 errors=0 roots=[me] args=[] vars={} data={"me":"object"} persisted=0`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got\n%s\nwant\n%s", join(got), join(want))
	}
	doc, err := v.OpenAPI(OpenAPIOptions{JSON: true})
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Paths map[string]map[string]struct {
			Ops []map[string]any `json:"x-graphql-operations"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	if ops := d.Paths["/graphql"]["post"].Ops; len(ops) != 5 {
		t.Errorf("x-graphql-operations: %v", ops)
	}
}

func join(s []string) string {
	out := ""
	for _, x := range s {
		out += x + "\n"
	}
	return out
}

// TestGraphQLSensitive: a single operation gets the transaction's
// sensitive response types; a batch's operations those the graphql
// analyzer attributed to their elements (Notes.GraphQL.Sensitive), and
// none when it could not; the JSON catalog and the OpenAPI extension
// show them by name.
func TestGraphQLSensitive(t *testing.T) {
	c := NewCatalog(NewConfig(), "test")
	email, card := event.SensitiveBit("email"), event.SensitiveBit("card")
	gql := func(body string, sens uint64, note *reassembly.GraphQLNote) {
		x := tx("POST", "api.example", "/graphql", 200)
		x.Request.Headers = []http1.Header{{Name: "Content-Type", Value: "application/json"}}
		x.Request.Body.Data = []byte(body)
		x.Response.Body.Data = []byte(`[{"data":{}},{"data":{}}]`)
		x.Notes.SensitiveResponse, x.Notes.GraphQL = sens, note
		c.Observe(x)
	}
	gql(`{"query":"query Me { me { email } }"}`, email, nil)
	gql(`[{"query":"query Wallet { wallet { card } }"},{"query":"query Products { products { sku } }"}]`, card, &reassembly.GraphQLNote{Operations: 2, Sensitive: []uint64{card, 0}})
	gql(`[{"query":"query Orders { orders { id } }"},{"query":"query Tags { tags }"}]`, email, &reassembly.GraphQLNote{Operations: 2})
	// an element without a query: the next operation's answer is the second element
	gql(`[{"foo":1},{"query":"query Cards { cards }"}]`, card, &reassembly.GraphQLNote{Operations: 2, Sensitive: []uint64{0, card}})
	v := c.View()
	var got []string
	for _, ep := range v.Endpoints {
		if j := ep.JSON(v.Time); j.GraphQL != nil {
			for _, o := range j.GraphQL.Operations {
				got = append(got, fmt.Sprintf("%s:%v", o.Name, o.Sensitive))
			}
		}
	}
	if want := "[Cards:[card] Me:[email] Orders:[] Products:[] Tags:[] Wallet:[card]]"; fmt.Sprint(got) != want {
		t.Errorf("got %v, want %s", got, want)
	}
	doc, err := v.OpenAPI(OpenAPIOptions{JSON: true})
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Paths map[string]map[string]struct {
			Ops []struct {
				Name      string   `json:"name"`
				Sensitive []string `json:"sensitiveData"`
			} `json:"x-graphql-operations"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	var ext []string
	for _, o := range d.Paths["/graphql"]["post"].Ops {
		ext = append(ext, o.Name+":"+strings.Join(o.Sensitive, ","))
	}
	if want := "[Cards:card Me:email Orders: Products: Tags: Wallet:card]"; fmt.Sprint(ext) != want {
		t.Errorf("x-graphql-operations: %v, want %s", ext, want)
	}
}

// TestGraphQLWebSocketAnswers: over WebSocket, a server's answer
// ("next") is attributed to the operation its id named on the same
// connection: its data shape and sensitive types; an id of another
// connection, or one never subscribed, attributes nothing.
func TestGraphQLWebSocketAnswers(t *testing.T) {
	c := NewCatalog(NewConfig(), "test")
	up := tx("GET", "api.example", "/graphql", 101)
	up.Flow.ID = "conn1"
	c.Observe(up)
	msg := func(flow string, fromClient bool, body string, sens uint64) {
		x := tx("GET", "api.example", "/graphql", 0)
		x.Flow.ID = flow
		x.Message = &reassembly.Message{Message: &websocket.Message{FromClient: fromClient, Opcode: websocket.OpText, Data: []byte(body)}}
		if fromClient {
			x.Request.Body.Data = []byte(body)
		} else {
			x.Response = &http1.Response{Status: 101, Body: http1.Body{Data: []byte(body)}}
			x.Notes.SensitiveResponse = sens
		}
		c.Observe(x)
	}
	email, phone := event.SensitiveBit("email"), event.SensitiveBit("phone")
	msg("conn1", true, `{"id":"a","type":"subscribe","payload":{"query":"subscription OnProfile { profile { email } }"}}`, 0)
	msg("conn1", true, `{"id":"b","type":"subscribe","payload":{"query":"subscription OnPrice { price }"}}`, 0)
	msg("conn1", false, `{"id":"a","type":"next","payload":{"data":{"profile":{"email":"x"}}}}`, email)
	msg("conn1", false, `{"id":"b","type":"next","payload":{"data":{"price":3}}}`, 0)
	msg("conn2", false, `{"id":"b","type":"next","payload":{"data":{"price":{"p":1}}}}`, phone) // another connection
	msg("conn1", false, `{"id":"z","type":"next","payload":{"data":{"x":1}}}`, phone)           // never subscribed
	v := c.View()
	var got []string
	for _, ep := range v.Endpoints {
		if j := ep.JSON(v.Time); j.GraphQL != nil {
			for _, o := range j.GraphQL.Operations {
				data, _ := json.Marshal(o.Data)
				got = append(got, fmt.Sprintf("%s calls=%d data=%s sensitive=%v", o.Name, o.Calls, data, o.Sensitive))
			}
		}
	}
	want := `[OnPrice calls=1 data={"price":"number"} sensitive=[] OnProfile calls=1 data={"profile":"object"} sensitive=[email]]`
	if fmt.Sprint(got) != want {
		t.Errorf("got  %v\nwant %s", got, want)
	}
}
