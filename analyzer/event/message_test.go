package event

import (
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testutil/eventtest"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/reassembly/websocket"
)

// wsMessage is a WebSocket message as reassembly hands it on: a
// transaction whose Message is set, the client's message as the request
// body, the request naming the upgraded endpoint.
func wsMessage(fromClient bool, op websocket.Opcode, data string) *reassembly.Transaction {
	tx := sampleTx()
	tx.Protocol = reassembly.ProtoWebSocket
	tx.Seq, tx.Flags = 4, 0
	m := &websocket.Message{FromClient: fromClient, Opcode: op, Data: []byte(data), WireBytes: int64(len(data)) - 3, Size: int64(len(data)), Fragments: 2, Compressed: true,
		Start: t0.Add(time.Second), End: t0.Add(time.Second + time.Millisecond)}
	if op == websocket.OpClose {
		m.Data, m.CloseCode, m.CloseReason, m.WireBytes, m.Size, m.Fragments, m.Compressed = nil, 1000, "bye", 5, 0, 1, false
	}
	tx.Message = &reassembly.Message{Message: m, Upgrade: 3}
	req := &http1.Request{Method: "GET", Host: "api.example", Path: "/v1/live", Start: m.Start, End: m.End}
	tx.Request, tx.Response = req, nil
	if fromClient {
		req.Body.Data = m.Data
	} else {
		tx.Response = &http1.Response{Status: 101, Body: http1.Body{Data: m.Data}, Start: m.Start, End: m.End}
	}
	return tx
}

// TestMessageEvent: WebSocket message events (a client text message with
// its content opted in, a server close) validate against
// message.schema.json; a message written as a transaction (what the
// reassembler hands a caller without OnMessage) carries protocol
// websocket, which transaction.schema.json allows.
func TestMessageEvent(t *testing.T) {
	e := Encoder{Sensor: "s", BodyBytes: 64}
	text := wsMessage(true, websocket.OpText, `{"type":"subscribe","id":"1","payload":{"query":"subscription { orders { id } }"}}`)
	line := e.AppendMessage(nil, text)
	eventtest.Validate(t, line)
	for _, want := range []string{`"type":"message"`, `"protocol":"websocket"`, `"seq":4,"upgrade_seq":3`, `"direction":"client","opcode":"text","fragments":2,"compressed":true`, `"content":"{\"type\":\"subscribe\"`} {
		if !strings.Contains(string(line), want) {
			t.Errorf("missing %s in\n%s", want, line)
		}
	}
	closing := wsMessage(false, websocket.OpClose, "")
	line = e.AppendMessage(nil, closing)
	eventtest.Validate(t, line)
	if !strings.Contains(string(line), `"direction":"server","opcode":"close"`) || !strings.Contains(string(line), `"close_code":1000,"close_reason":"bye"`) {
		t.Errorf("close message: %s", line)
	}
	line = e.AppendTransaction(nil, text)
	eventtest.Validate(t, line)
	if !strings.Contains(string(line), `"protocol":"websocket"`) {
		t.Errorf("message as a transaction: %s", line)
	}
}

// TestGraphQLTransactionEvent: a batched GraphQL request and its answer
// written as a transaction (body content opted in) validate.
func TestGraphQLTransactionEvent(t *testing.T) {
	tx := sampleTx()
	tx.Flags = 0
	body := `[{"query":"query GetMe { me { email } }","operationName":"GetMe"},{"query":"mutation Login($e: String!, $p: String!) { login(email: $e, password: $p) { token } }","variables":{"e":"a@b.example","p":"x"}}]`
	tx.Request.Method, tx.Request.Target, tx.Request.Path, tx.Request.Query = "POST", "/graphql", "/graphql", ""
	tx.Request.Headers = []http1.Header{{Name: "Host", Value: "api.example"}, {Name: "Content-Type", Value: "application/json"}}
	tx.Request.Body = http1.Body{Data: []byte(body), WireBytes: int64(len(body))}
	tx.Response.Body = http1.Body{Data: []byte(`[{"data":{"me":{"email":"ann@mail.example"}}},{"data":{"login":null}}]`), WireBytes: 70}
	tx.Notes.GraphQL = &reassembly.GraphQLNote{Operations: 2, Logins: []reassembly.GraphQLLogin{{User: "a@b.example", Failed: true}}}
	for _, e := range []Encoder{{Sensor: "s"}, {Sensor: "s", BodyBytes: 256}} {
		line := e.AppendTransaction(nil, tx)
		eventtest.Validate(t, line)
		if !strings.Contains(string(line), `"method":"POST","host":"api.example","path":"/graphql"`) {
			t.Errorf("graphql transaction: %s", line)
		}
	}
}
