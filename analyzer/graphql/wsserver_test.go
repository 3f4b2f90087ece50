package graphql_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"

	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/internal/testgen/pcapgen"
	"github.com/apitap/apitap/internal/testutil/netrec"
	"github.com/apitap/apitap/reassembly"
)

// TestGraphQLOverWebSocketRealServer: gqlgen's WebSocket transport (the
// graphql-transport-ws protocol of the graphql-ws library, and the older
// subscriptions-transport-ws one, which gqlgen calls graphql-ws), with
// gqlgen's test schema, driven by a client that opens a connection per
// protocol and runs a named subscription, an anonymous one and a query.
// Every message is reported once, and the catalog lists the operations
// under the endpoint that upgraded the connection (GET /graphql), with
// the calls the client made and the data shape of the server's answers.
func TestGraphQLOverWebSocketRealServer(t *testing.T) {
	h := testserver.New()
	h.AddTransport(transport.Websocket{})
	h.AddTransport(transport.POST{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	rec := &netrec.Recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	sent := 0
	type protocol struct{ name, start, data string }
	for _, p := range []protocol{{"graphql-transport-ws", "subscribe", "next"}, {"graphql-ws", "start", "data"}} {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/graphql", &websocket.DialOptions{
			HTTPClient: &http.Client{Transport: &http.Transport{DialContext: rec.Dial}}, Subprotocols: []string{p.name}})
		if err != nil {
			t.Fatal(err)
		}
		write := func(v any) {
			b, _ := json.Marshal(v)
			if err := c.Write(ctx, websocket.MessageText, b); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		read := func(want string) {
			_, b, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sent++
			var m struct{ Type string }
			if json.Unmarshal(b, &m) != nil || m.Type != want {
				t.Fatalf("%s: got %s, want a %s message", p.name, b, want)
			}
		}
		write(map[string]any{"type": "connection_init", "payload": map[string]any{}})
		read("connection_ack")
		if p.name == "graphql-ws" {
			read("ka") // subscriptions-transport-ws: a keep-alive right after the ack
		}
		subscribe := func(id, query string, next int) {
			write(map[string]any{"id": id, "type": p.start, "payload": map[string]any{"query": query}})
			for i := 0; i < next; i++ {
				h.SendNextSubscriptionMessage()
				read(p.data)
			}
			h.SendCompleteSubscriptionMessage()
			read("complete")
		}
		subscribe("1", "subscription OnName { name }", 3)
		subscribe("2", "subscription { name }", 2)
		write(map[string]any{"id": "3", "type": p.start, "payload": map[string]any{"query": "query GetName { name }", "operationName": "GetName"}})
		read(p.data)
		read("complete")
		c.Close(websocket.StatusNormalClosure, "")
		sent += 2 // the close and its echo
	}

	var msgs, clientMsgs int
	cat := discovery.NewCatalog(discovery.NewConfig(), "test")
	chain := chainOf(t, "sensitive", "attack", "graphql")
	rw := reassembly.NewWorker(reassembly.Config{}, func(tx *reassembly.Transaction) {
		tx.Notes = reassembly.Notes{}
		chain.Analyze(tx, &recorder{classes: map[string]bool{}})
		cat.Observe(tx)
	})
	rw.OnMessage = func(tx *reassembly.Transaction) {
		msgs++
		if tx.Message.FromClient {
			clientMsgs++
		}
		tx.Notes = reassembly.Notes{}
		chain.Analyze(tx, &recorder{classes: map[string]bool{}})
		cat.Observe(tx)
	}
	replayWorker(t, rw, rec.Packets(netip.MustParseAddr("10.0.1.30"), netip.MustParseAddrPort("10.0.2.10:80"), pcapgen.Base))
	var ops []string
	v := cat.View()
	for _, ep := range v.Endpoints {
		j := ep.JSON(v.Time)
		if j.GraphQL == nil {
			continue
		}
		for _, o := range j.GraphQL.Operations {
			name := o.Name
			if name == "" {
				name = "{" + strings.Join(o.RootFields, ",") + "}"
			}
			data, _ := json.Marshal(o.Data)
			ops = append(ops, j.Method+" "+j.Path+" "+o.Type+" "+name+" calls="+strconv.FormatUint(o.Calls, 10)+" data="+string(data))
		}
	}
	sort.Strings(ops)
	// the data shape comes from the server's answers ("next", "data"),
	// matched to the operation by its id on the connection
	want := []string{`GET /graphql query GetName calls=2 data={"name":"string"}`, `GET /graphql subscription OnName calls=2 data={"name":"string"}`,
		`GET /graphql subscription {name} calls=2 data={"name":"string"}`}
	t.Logf("graphql over websocket (gqlgen, graphql-transport-ws and graphql-ws): %d messages sent and received, %d reported (%d from the client); catalog %v",
		sent, msgs, clientMsgs, ops)
	if msgs != sent {
		t.Errorf("%d messages reported, %d exchanged", msgs, sent)
	}
	if strings.Join(ops, "|") != strings.Join(want, "|") {
		t.Errorf("catalog %v, want %v", ops, want)
	}
}
