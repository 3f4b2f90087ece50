package pcapgen

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/klauspost/compress/flate"
)

// WSFrame encodes one WebSocket frame (RFC 6455): client frames are
// masked with mask (a fixed key keeps captures deterministic); rsv1 marks
// a permessage-deflate message's first frame.
func WSFrame(fin, rsv1 bool, op byte, payload []byte, client bool, mask [4]byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	out := []byte{b0}
	mbit := byte(0)
	if client {
		mbit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, mbit|byte(n))
	case n < 1<<16:
		out = append(out, mbit|126, byte(n>>8), byte(n))
	default:
		out = append(out, mbit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !client {
		return append(out, payload...)
	}
	out = append(out, mask[:]...)
	for i, c := range payload {
		out = append(out, c^mask[i&3])
	}
	return out
}

// Deflate compresses one permessage-deflate message without context
// takeover (RFC 7692: raw DEFLATE, the final 00 00 ff ff removed).
func Deflate(msg []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	w.Write(msg)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// graphqlDemo is the demo's GraphQL API (graph.shop.example): a web app's
// named operations, a batch, a cacheable GET, a persisted query, a
// subscription over WebSocket (graphql-ws, permessage-deflate), a
// notifications WebSocket, and (FLAGGED) an attacker's introspection,
// deep query, alias brute force and batch of logins.
func graphqlDemo(a *API, newConn func(cli, srv netip.Addr, sport uint16, at time.Duration) *Conn, add func([]Packet)) {
	srv := netip.MustParseAddr("10.0.4.10")
	host := "graph.shop.example"
	gql := func(body string) []byte {
		return a.Request("POST", host, "/graphql", nil, body)
	}
	ok := func(body string) []byte { return Response(200, body, "") }
	const frag = ` fragment ProductFields on Product { sku name price }`
	ops := []struct{ req, resp string }{
		{`{"operationName":"GetMe","query":"query GetMe { me { id name email } }"}`, `{"data":{"me":{"id":"1","name":"Ann Lee","email":"ann.lee@mail.example"}}}`},
		{`{"operationName":"GetProduct","query":"query GetProduct($sku: String!) { product(sku: $sku) { ...ProductFields reviews { rating } } }` + frag + `","variables":{"sku":"SKU-104"}}`, `{"data":{"product":{"sku":"SKU-104","name":"Desk lamp","price":29.9,"reviews":[{"rating":4}]}}}`},
		{`{"operationName":"AddToCart","query":"mutation AddToCart($sku: String!, $qty: Int) { addToCart(sku: $sku, qty: $qty) { id total } }","variables":{"sku":"SKU-104","qty":2}}`, `{"data":{"addToCart":{"id":"c-1","total":59.8}}}`},
		{`[{"operationName":"GetMe","query":"query GetMe { me { id name email } }"},{"query":"query Categories { products { category } }"}]`, `[{"data":{"me":{"id":"2","name":"Bo Chen","email":"bo.chen@mail.example"}}},{"data":{"products":[{"category":"books"}]}}]`},
		{`{"operationName":"FeedProducts","extensions":{"persistedQuery":{"version":1,"sha256Hash":"5e1bbd63a4b61cd3c6bfa1e3f1f15b8c3e4a1a3d0b7c6a4e2f1d0c9b8a7f6e5d"}}}`, `{"data":{"products":[{"sku":"SKU-101","name":"Mug","price":9.9}]}}`},
	}
	for i := 0; i < 3; i++ {
		c := newConn(netip.AddrFrom4([4]byte{10, 0, 1, byte(60 + i)}), srv, 80, time.Duration(60+150*i)*time.Second)
		p := c.Handshake()
		for k := 0; k < 6; k++ {
			o := ops[(i+k)%len(ops)]
			p = append(p, c.Exchange(gql(o.req), ok(o.resp))...)
		}
		p = append(p, c.Exchange(a.Request("GET", host, "/graphql?query=query%20TopProducts%20%7B%20products(first%3A%203)%20%7B%20sku%20name%20%7D%20%7D", nil, ""), ok(`{"data":{"products":[{"sku":"SKU-101","name":"Mug"}]}}`))...)
		add(append(p, c.Close()...))
	}
	// a subscription over WebSocket: graphql-ws, permessage-deflate
	{
		c := newConn(netip.AddrFrom4([4]byte{10, 0, 1, 63}), srv, 80, 90*time.Second)
		p := c.Handshake()
		p = append(p, c.Exchange(a.Request("GET", host, "/graphql", []string{"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: graphql-transport-ws", "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover"}, ""),
			[]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\nSec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n\r\n"))...)
		mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
		cli := func(msg string) []Packet {
			return c.Send(true, WSFrame(true, true, 1, Deflate([]byte(msg)), true, mask))
		}
		sv := func(msg string) []Packet {
			return c.Send(false, WSFrame(true, true, 1, Deflate([]byte(msg)), false, mask))
		}
		p = append(p, cli(`{"type":"connection_init","payload":{}}`)...)
		p = append(p, sv(`{"type":"connection_ack"}`)...)
		p = append(p, cli(`{"id":"1","type":"subscribe","payload":{"operationName":"OnOrderStatus","query":"subscription OnOrderStatus($id: ID!) { orderStatus(id: $id) { status eta } }","variables":{"id":"5001"}}}`)...)
		for k, st := range []string{"paid", "packed", "shipped", "out_for_delivery", "delivered"} {
			p = append(p, sv(fmt.Sprintf(`{"id":"1","type":"next","payload":{"data":{"orderStatus":{"status":%q,"eta":"2026-01-1%dT12:00:00Z"}}}}`, st, 6+k))...)
		}
		p = append(p, c.Send(false, WSFrame(true, false, 0x9, nil, false, mask))...) // ping
		p = append(p, c.Send(true, WSFrame(true, false, 0xA, nil, true, mask))...)   // pong
		p = append(p, cli(`{"id":"1","type":"complete"}`)...)
		p = append(p, c.Send(true, WSFrame(true, false, 0x8, []byte{0x03, 0xe8}, true, mask))...)
		p = append(p, c.Send(false, WSFrame(true, false, 0x8, []byte{0x03, 0xe8}, false, mask))...)
		add(append(p, c.Close()...))
	}
	// a notifications WebSocket (no compression); a message carries an
	// e-mail address (the sensitive analyzer scans messages)
	{
		c := newConn(netip.AddrFrom4([4]byte{10, 0, 1, 64}), srv, 80, 240*time.Second)
		p := c.Handshake()
		p = append(p, c.Exchange(a.Request("GET", host, "/ws/notifications", []string{"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==", "Sec-WebSocket-Version: 13"}, ""),
			[]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n\r\n"))...)
		mask := [4]byte{1, 2, 3, 4}
		p = append(p, c.Send(true, WSFrame(true, false, 1, []byte(`{"subscribe":"orders"}`), true, mask))...)
		for k := 0; k < 4; k++ {
			p = append(p, c.Send(false, WSFrame(true, false, 1, []byte(fmt.Sprintf(`{"event":"order.updated","order":%d,"notify":"ann.lee@mail.example"}`, 5001+k)), false, mask))...)
		}
		// a fragmented message
		p = append(p, c.Send(false, WSFrame(false, false, 1, []byte(`{"event":"digest",`), false, mask))...)
		p = append(p, c.Send(false, WSFrame(true, false, 0, []byte(`"orders":4}`), false, mask))...)
		p = append(p, c.Send(true, WSFrame(true, false, 0x8, []byte{0x03, 0xe9}, true, mask))...)
		add(append(p, c.Close()...))
	}
	// FLAGGED (GraphQL abuse): introspection, a deep query, a login brute
	// force under aliases and a batch of logins.
	{
		c := newConn(netip.MustParseAddr("203.0.113.50"), srv, 80, 330*time.Second)
		c.Step = 10 * time.Millisecond
		p := c.Handshake()
		p = append(p, c.Exchange(gql(`{"operationName":"IntrospectionQuery","query":"query IntrospectionQuery { __schema { queryType { name } types { name fields { name } } } }"}`),
			ok(`{"data":{"__schema":{"queryType":{"name":"Query"},"types":[]}}}`))...)
		p = append(p, c.Exchange(gql(`{"query":"query Deep { me { `+strings.Repeat("friends { ", 12)+"name"+strings.Repeat(" }", 12)+` } }"}`), ok(`{"data":{"me":null}}`))...)
		var al []string
		for k := 0; k < 25; k++ {
			al = append(al, fmt.Sprintf(`a%d: login(email: \"admin@shop.example\", password: \"guess%d\") { token }`, k, k))
		}
		p = append(p, c.Exchange(gql(`{"query":"mutation { `+strings.Join(al, " ")+` }"}`), ok(`{"data":null,"errors":[{"message":"invalid credentials"}]}`))...)
		var batch []string
		for k := 0; k < 20; k++ {
			batch = append(batch, fmt.Sprintf(`{"query":"mutation Login($e: String!, $p: String!) { login(email: $e, password: $p) { token } }","variables":{"e":"user%02d@mail.example","p":"Winter2025!"}}`, k))
		}
		p = append(p, c.Exchange(gql("["+strings.Join(batch, ",")+"]"), ok(`[{"data":{"login":null}}]`))...)
		p = append(p, c.Exchange(gql(`{"query":"query { me { nam } }"}`), Response(200, `{"errors":[{"message":"Cannot query field \"nam\" on type \"User\". Did you mean \"name\"?"}]}`, ""))...)
		add(append(p, c.Close()...))
	}
}
