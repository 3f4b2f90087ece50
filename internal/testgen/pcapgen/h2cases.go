package pcapgen

import (
	"fmt"
	"net/netip"
	"strings"

	xh2 "golang.org/x/net/http2"
)

// HTTP/2 and gRPC test captures (see Cases).

var (
	h2srv   = netip.MustParseAddrPort("10.0.2.10:8080")
	grpcSrv = netip.MustParseAddrPort("10.0.5.10:50051")
)

// h2Prior is prior-knowledge h2c: GET, POST, a gzip body, a 404, trailers,
// a cancelled and a refused stream, and a server push.
func h2Prior() (Link, *Encap, []Packet) {
	a := NewAPI(31)
	c := NewConn(cli4, h2srv, Base)
	p := c.Handshake()
	cli, srv := NewH2(true), NewH2(false)
	p = append(p, c.Send(true, cli.Take())...)
	p = append(p, c.Send(false, srv.Take())...)
	get := func(id uint32, path string, extra ...string) {
		cli.Headers(id, true, append([]string{":method", "GET", ":scheme", "http", ":authority", "api.shop.example", ":path", path,
			"user-agent", "Go-http-client/2.0", "accept-encoding", "gzip"}, extra...)...)
		p = append(p, c.Send(true, cli.Take())...)
	}
	respond := func(id uint32, status int, body, enc string) {
		h := []string{":status", fmt.Sprint(status), "content-type", "application/json"}
		b := []byte(body)
		if enc == "gzip" {
			h = append(h, "content-encoding", "gzip")
			b = gzipBytes(body)
		}
		srv.Headers(id, body == "", h...)
		if body != "" {
			srv.Data(id, true, b)
		}
		p = append(p, c.Send(false, srv.Take())...)
	}
	get(1, "/v1/users/1042", "authorization", "Bearer "+a.JWT("u1042"))
	respond(1, 200, a.User(1042, true), "")
	cli.Headers(3, false, ":method", "POST", ":scheme", "http", ":authority", "api.shop.example", ":path", "/v1/cart",
		"user-agent", "Go-http-client/2.0", "content-type", "application/json")
	cli.Data(3, true, []byte(`{"sku":"SKU-00042","qty":2}`))
	p = append(p, c.Send(true, cli.Take())...)
	srv.Headers(3, false, ":status", "201", "content-type", "application/json")
	srv.Data(3, false, []byte(`{"cart_id":"c-77","items":1}`))
	srv.Headers(3, true, "x-cart-version", "7")
	p = append(p, c.Send(false, srv.Take())...)
	get(5, "/v1/products?page=2")
	respond(5, 200, a.Products(2, 4000), "gzip")
	get(7, "/v1/missing")
	respond(7, 404, "", "")
	get(9, "/v1/orders/77")
	cli.Framer().WriteRSTStream(9, xh2.ErrCodeCancel)
	p = append(p, c.Send(true, cli.Take())...)
	get(11, "/v1/reports/daily")
	srv.Framer().WriteRSTStream(11, xh2.ErrCodeRefusedStream)
	p = append(p, c.Send(false, srv.Take())...)
	get(13, "/index.html")
	srv.Framer().WritePushPromise(xh2.PushPromiseParam{StreamID: 13, PromiseID: 2, EndHeaders: true,
		BlockFragment: srv.Block(":method", "GET", ":scheme", "http", ":authority", "api.shop.example", ":path", "/static/app.css")})
	srv.Headers(13, false, ":status", "200", "content-type", "text/html")
	srv.Data(13, true, []byte("<html><link rel=stylesheet href=/static/app.css></html>"))
	srv.Headers(2, false, ":status", "200", "content-type", "text/css")
	srv.Data(2, true, []byte("body{margin:0}"))
	p = append(p, c.Send(false, srv.Take())...)
	return Ethernet, &Encap{}, append(p, c.Close()...)
}

// h2Upgrade is HTTP/1.1 "Upgrade: h2c" as curl --http2 sends it: the
// request is answered on stream 1 after the 101.
func h2Upgrade() (Link, *Encap, []Packet) {
	a := NewAPI(32)
	c := NewConn(cli4, h2srv, Base)
	p := c.Handshake()
	p = append(p, c.Send(true, []byte("GET /v1/status HTTP/1.1\r\nHost: api.shop.example\r\nUser-Agent: curl/8.14.1\r\nAccept: */*\r\n"+
		"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"))...)
	cli, srv := NewH2(true), NewH2(false)
	srv.Headers(1, false, ":status", "200", "content-type", "application/json")
	srv.Data(1, true, []byte(`{"status":"ok"}`))
	p = append(p, c.Send(false, append([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"), srv.Take()...))...)
	p = append(p, c.Send(true, cli.Take())...)
	for i, path := range []string{"/v1/users/7", "/v1/orders/12"} {
		id := uint32(3 + 2*i)
		cli.Headers(id, true, ":method", "GET", ":scheme", "http", ":authority", "api.shop.example", ":path", path, "user-agent", "curl/8.14.1", "accept", "*/*")
		p = append(p, c.Send(true, cli.Take())...)
		srv.Headers(id, false, ":status", "200", "content-type", "application/json")
		srv.Data(id, true, []byte(a.User(7, false)))
		p = append(p, c.Send(false, srv.Take())...)
	}
	return Ethernet, &Encap{}, append(p, c.Close()...)
}

// h2MidStream is a long HTTP/2 connection the capture joins inside a
// response body: paths used before the join are sent as HPACK references
// to entries the capture never saw (unresolved), new paths literally.
func h2MidStream() (Link, *Encap, []Packet) {
	a := NewAPI(33)
	c := NewConn(cli4, h2srv, Base)
	c.Handshake()
	cli, srv := NewH2(true), NewH2(false)
	c.Send(true, cli.Take())
	c.Send(false, srv.Take())
	var p []Packet
	for i := 0; i < 40; i++ {
		id := uint32(2*i + 1)
		path := fmt.Sprintf("/v1/products/%d", 100+i%5) // five paths, indexed after their first use
		if i%4 == 3 {
			path = fmt.Sprintf("/v1/orders/%d", 5000+i) // a new path: a literal
		}
		cli.Headers(id, true, ":method", "GET", ":scheme", "http", ":authority", "api.shop.example", ":path", path, "user-agent", "Go-http-client/2.0")
		q := c.Send(true, cli.Take())
		srv.Headers(id, false, ":status", "200", "content-type", "application/json")
		srv.Data(id, true, []byte(a.Products(1+i%3, 3000)))
		r := c.Send(false, srv.Take())
		if i == 20 {
			r = r[1:] // the capture starts inside this response's body
		} else if i < 20 {
			continue
		}
		p = append(p, q...)
		p = append(p, r...)
	}
	if i := indexOf(p, func(x Packet) bool { return x.Seg.Src == h2srv && len(x.Seg.Payload) > 0 }); i > 0 {
		p = p[i:] // starting at that response segment
	}
	return Ethernet, &Encap{}, append(p, c.Close()...)
}

func indexOf(p []Packet, f func(Packet) bool) int {
	for i := range p {
		if f(p[i]) {
			return i
		}
	}
	return -1
}

// grpcCase is gRPC: unary (one call gzip-compressed), server streaming,
// client streaming, bidirectional streaming, and an error (trailers-only).
func grpcCase() (Link, *Encap, []Packet) {
	c := NewConn(cli4, grpcSrv, Base)
	p := c.Handshake()
	p = append(p, grpcConn(c, "payments.shop.internal:50051", grpcCalls(NewAPI(34), 0))...)
	return Ethernet, &Encap{}, append(p, c.Close()...)
}

// grpcCalls is a client's session with the demo's gRPC services (v: a
// variant number).
func grpcCalls(a *API, v int) []grpcCall {
	r := a.R
	user := 3000 + v
	email := fmt.Sprintf("%s.%s@mail.example", strings.ToLower(firstNames[v%len(firstNames)]), strings.ToLower(lastNames[(v+3)%len(lastNames)]))
	auth := []string{"authorization", "Bearer " + a.JWT(fmt.Sprintf("svc-%d", v))}
	var items, stock, levels, events []PB
	for k := 0; k < 2+r.IntN(3); k++ {
		items = append(items, PB{1, fmt.Sprintf("SKU-%05d", r.IntN(99999)), 2, 1 + r.IntN(4)})
	}
	for k := 0; k < 3; k++ {
		sku := fmt.Sprintf("SKU-%05d", r.IntN(99999))
		stock = append(stock, PB{1, sku, 2, 1 + r.IntN(20)})
		levels = append(levels, PB{1, sku, 2, 10 + r.IntN(200)})
	}
	for _, st := range []string{"PAID", "PACKED", "SHIPPED"} {
		events = append(events, PB{1, 7000 + v, 2, st, 3, 1999 + r.IntN(50000)})
	}
	return []grpcCall{
		{path: "/shop.v1.Users/GetUser", req: []PB{{1, user}}, resp: []PB{{1, user, 2, email, 3, fmt.Sprintf("+1415555%04d", r.IntN(10000)), 4, firstNames[v%len(firstNames)]}}, metadata: auth},
		{path: "/shop.v1.Payments/Charge", req: []PB{{1, email, 2, "4111111111111111", 3, 1999 + r.IntN(90000), 4, "USD"}},
			resp: []PB{{1, fmt.Sprintf("ch_%012x", r.Uint64()&0xffffffffffff), 2, "APPROVED", 3, "1111"}}, metadata: auth, gzip: true},
		{path: "/shop.v1.Orders/WatchOrders", req: []PB{{1, user}}, resp: events, metadata: auth},
		{path: "/shop.v1.Orders/UploadItems", req: items, resp: []PB{{1, len(items)}}, metadata: auth},
		{path: "/shop.v1.Inventory/SyncStock", req: stock, resp: levels, metadata: auth},
		{path: "/shop.v1.Users/GetUser", req: []PB{{1, 99999}}, status: 5, message: "user 99999 not found", metadata: auth},
	}
}

func gzipBytes(s string) []byte { return GRPCMessage([]byte(s), true)[5:] }
