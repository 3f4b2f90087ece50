package pcapgen

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// Demo returns the packets of the demo capture: about ten minutes of API
// traffic to two hosts from 30 clients, mostly ordinary, with traffic that
// apitap's analyzers flag (marked below).
func Demo() []Packet {
	a := NewAPI(2026)
	r := a.R
	type flow struct{ pkts []Packet }
	var flows []flow
	shop := netip.MustParseAddr("10.0.2.10")
	partner := netip.MustParseAddr("10.0.3.10")
	clientIP := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 1, byte(20 + i)}) }
	port := uint16(40000)
	newConn := func(cli netip.Addr, srv netip.Addr, sport uint16, at time.Duration) *Conn {
		port++
		c := NewConn(netip.AddrPortFrom(cli, port), netip.AddrPortFrom(srv, sport), Base.Add(at))
		c.Step = 300 * time.Microsecond
		return c
	}
	add := func(c *Conn, pkts []Packet) { flows = append(flows, flow{pkts}) }

	// Ordinary shop traffic: 30 clients, keep-alive sessions of 4-12 calls.
	for i := 0; i < 30; i++ {
		c := newConn(clientIP(i), shop, 80, time.Duration(r.IntN(540))*time.Second)
		user := 1000 + i
		auth := "Authorization: Bearer " + a.JWT(fmt.Sprintf("u%d", user))
		p := c.Handshake()
		for k := 0; k < 4+r.IntN(9); k++ {
			switch r.IntN(6) {
			case 0:
				p = append(p, c.Exchange(a.Request("GET", "api.shop.example", fmt.Sprintf("/v1/users/%d", user), []string{auth}, ""), Response(200, a.User(user, true), ""))...)
			case 1:
				id := 5000 + r.IntN(3000)
				p = append(p, c.Exchange(a.Request("GET", "api.shop.example", fmt.Sprintf("/v1/orders/%d", id), []string{auth}, ""), Response(200, a.Order(id, user), ""))...)
			case 2:
				pg := 1 + r.IntN(5)
				enc := ""
				if r.IntN(2) == 0 {
					enc = "gzip"
				}
				p = append(p, c.Exchange(a.Request("GET", "api.shop.example", fmt.Sprintf("/v1/products?page=%d&sort=price", pg), nil, ""), Response(200, a.Products(pg, 1200+r.IntN(2000)), enc))...)
			case 3:
				p = append(p, c.Exchange(a.Request("POST", "api.shop.example", "/v1/cart", []string{auth, "Cookie: sid=" + fmt.Sprintf("%016x", r.Uint64())}, fmt.Sprintf(`{"sku":"SKU-%05d","qty":%d}`, r.IntN(99999), 1+r.IntN(3))), Response(201, `{"cart_id":"c-1","items":1}`, ""))...)
			case 4:
				p = append(p, c.Exchange(a.Request("GET", "api.shop.example", fmt.Sprintf("/v1/search?q=%s&limit=20", []string{"lamp", "desk", "usb"}[r.IntN(3)]), nil, ""), Response(200, a.Products(9, 800), "chunked"))...)
			default:
				p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/cart", []string{auth}, ""), Response(200, `{"items":[],"total":0}`, ""))...)
			}
		}
		add(c, append(p, c.Close()...))
	}
	// Partner API with OAuth tokens and UUID account ids.
	for i := 0; i < 6; i++ {
		c := newConn(clientIP(40+i), partner, 8080, time.Duration(r.IntN(540))*time.Second)
		p := c.Handshake()
		p = append(p, c.Exchange(a.Request("POST", "auth.partner.example", "/oauth/token", []string{"Content-Type: application/x-www-form-urlencoded"}, "grant_type=client_credentials&client_id=partner-"+fmt.Sprint(i)),
			Response(200, `{"access_token":"`+a.JWT(fmt.Sprint("partner-", i))+`","token_type":"Bearer","expires_in":3600}`, ""))...)
		for k := 0; k < 5; k++ {
			id := fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.IntN(65536), r.IntN(4096), r.IntN(4096), r.Uint64()&0xffffffffffff)
			p = append(p, c.Exchange(a.Request("GET", "auth.partner.example", "/v2/accounts/"+id, []string{"Authorization: Bearer " + a.JWT("partner")}, ""),
				Response(200, fmt.Sprintf(`{"id":"%s","iban":"DE89370400440532013000","balance":%d}`, id, r.IntN(100000)), ""))...)
		}
		add(c, append(p, c.Close()...))
	}
	// FLAGGED (credential stuffing): many usernames against /v1/login from 3
	// IPs sharing one user agent, nearly all 401.
	for ip := 0; ip < 3; ip++ {
		c := newConn(netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + ip)}), shop, 80, 120*time.Second+time.Duration(ip)*time.Second)
		c.Step = 20 * time.Millisecond
		p := c.Handshake()
		for k := 0; k < 25; k++ {
			body := fmt.Sprintf(`{"username":"user%03d@mail.example","password":"Spring2025!"}`, ip*25+k)
			status, rb := 401, `{"error":"invalid credentials"}`
			if ip == 2 && k == 24 {
				status, rb = 200, `{"token":"`+a.JWT("victim")+`"}`
			}
			req := []byte(fmt.Sprintf("POST /v1/login HTTP/1.1\r\nHost: api.shop.example\r\nUser-Agent: python-requests/2.31.0\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
			p = append(p, c.Exchange(req, Response(status, rb, ""))...)
		}
		add(c, append(p, c.Close()...))
	}
	// FLAGGED (attacks): SQL injection and path traversal probes.
	{
		c := newConn(netip.MustParseAddr("198.51.100.7"), shop, 80, 200*time.Second)
		p := c.Handshake()
		for _, t := range []string{"/v1/products?page=1%27%20OR%201=1--", "/v1/search?q=%27%20UNION%20SELECT%20username,password%20FROM%20users--", "/v1/files?name=../../../../etc/passwd", "/v1/search?q=%3Cscript%3Ealert(1)%3C/script%3E"} {
			p = append(p, c.Exchange(a.Request("GET", "api.shop.example", t, nil, ""), Response(400, `{"error":"bad request"}`, ""))...)
		}
		add(c, append(p, c.Close()...))
	}
	// FLAGGED (scanner): sqlmap/nikto user agents spraying paths, 404s.
	{
		c := newConn(netip.MustParseAddr("198.51.100.66"), shop, 80, 300*time.Second)
		c.Step = 5 * time.Millisecond
		p := c.Handshake()
		for k, path := range []string{"/.env", "/admin", "/wp-login.php", "/.git/config", "/phpmyadmin/", "/server-status", "/api/v1/debug", "/backup.zip", "/actuator/env", "/console"} {
			ua := "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:00" + fmt.Sprint(k) + ")"
			req := []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: api.shop.example\r\nUser-Agent: %s\r\n\r\n", path, ua))
			p = append(p, c.Exchange(req, Response(404, `{"error":"not found"}`, ""))...)
		}
		add(c, append(p, c.Close()...))
	}
	// FLAGGED (BOLA): one user walks other users' orders.
	{
		c := newConn(clientIP(90), shop, 80, 400*time.Second)
		c.Step = 10 * time.Millisecond
		auth := "Authorization: Bearer " + a.JWT("u1090")
		p := c.Handshake()
		for id := 7000; id < 7030; id++ {
			p = append(p, c.Exchange(a.Request("GET", "api.shop.example", fmt.Sprintf("/v1/orders/%d", id), []string{auth}, ""), Response(200, a.Order(id, 2000+r.IntN(500)), ""))...)
		}
		add(c, append(p, c.Close()...))
	}
	// FLAGGED (sensitive data): an unauthenticated export returning PII,
	// test card numbers and SSNs; Basic auth over plaintext; alg none JWT.
	{
		c := newConn(clientIP(91), shop, 80, 450*time.Second)
		p := c.Handshake()
		var rows []string
		for k := 0; k < 8; k++ {
			rows = append(rows, fmt.Sprintf(`{"user":%s,"card_number":"4111111111111111","ssn":"123-45-67%02d"}`, a.User(3000+k, true), 10+k))
		}
		p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/internal/export?format=json", nil, ""), Response(200, "["+strings.Join(rows, ",")+"]", ""))...)
		p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/admin/stats", []string{"Authorization: Basic YWRtaW46aHVudGVyMg=="}, ""), Response(200, `{"users":4211,"orders":90211}`, ""))...)
		p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/users/1001", []string{"Authorization: Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1MTAwMSIsImFkbWluIjp0cnVlfQ."}, ""), Response(200, a.User(1001, true), ""))...)
		add(c, append(p, c.Close()...))
	}
	// gRPC between services (HTTP/2 with prior knowledge): five clients of
	// the shop.v1 services (users, payments, order streams, inventory
	// sync); the capture joined one connection mid-stream.
	// FLAGGED (attack): one client puts a SQL injection in a Charge note.
	// FLAGGED (sensitive data): users' e-mails and phones in responses.
	g := NewAPI(2027)
	grpcSrv := netip.MustParseAddr("10.0.5.10")
	for i := 0; i < 5; i++ {
		c := newConn(netip.AddrFrom4([4]byte{10, 0, 6, byte(20 + i)}), grpcSrv, 50051, time.Duration(30+g.R.IntN(500))*time.Second)
		c.Step = time.Millisecond
		calls := grpcCalls(g, i)
		if i == 3 {
			calls = append(calls, grpcCall{path: "/shop.v1.Payments/Charge", metadata: []string{"authorization", "Bearer " + g.JWT("svc-3")},
				req:  []PB{{1, "mallory@mail.example", 2, "4111111111111111", 3, 100, 4, "USD", 5, "' OR '1'='1' --"}},
				resp: []PB{{1, "ch_000000000001", 2, "DECLINED", 3, "1111"}}})
		}
		for round := 0; round < 1+i%2; round++ {
			calls = append(calls, grpcCalls(g, i+10*round)...)
		}
		p := c.Handshake()
		p = append(p, grpcConn(c, "payments.shop.internal:50051", calls)...)
		if i == 4 { // joined mid-stream: the capture starts after the first calls
			p = p[len(p)*2/5:]
		}
		add(c, append(p, c.Close()...))
	}
	// A Go service calling the shop API over h2c (HTTP/2 with prior
	// knowledge): the same endpoints as the HTTP/1.1 clients.
	{
		c := newConn(netip.MustParseAddr("10.0.6.40"), shop, 80, 250*time.Second)
		c.Step = 2 * time.Millisecond
		cli, srv := NewH2(true), NewH2(false)
		p := c.Handshake()
		p = append(p, c.Send(true, cli.Take())...)
		p = append(p, c.Send(false, srv.Take())...)
		for k := 0; k < 12; k++ {
			id := uint32(2*k + 1)
			user := 1000 + g.R.IntN(30)
			path := fmt.Sprintf("/v1/users/%d", user)
			body := a.User(user, true)
			if k%3 == 1 {
				path = fmt.Sprintf("/v1/products?page=%d&sort=price", 1+g.R.IntN(5))
				body = a.Products(1+g.R.IntN(5), 1500)
			}
			cli.Headers(id, true, ":method", "GET", ":scheme", "http", ":authority", "api.shop.example", ":path", path,
				"authorization", "Bearer "+g.JWT("svc-reco"), "user-agent", "Go-http-client/2.0", "accept-encoding", "gzip")
			p = append(p, c.Send(true, cli.Take())...)
			srv.Headers(id, false, ":status", "200", "content-type", "application/json", "content-encoding", "gzip")
			srv.Data(id, true, gzipBytes(body))
			p = append(p, c.Send(false, srv.Take())...)
		}
		add(c, append(p, c.Close()...))
	}
	// GraphQL and WebSocket (graphql.go), last: its random draws come
	// after everything above
	graphqlDemo(a, newConn, func(p []Packet) { flows = append(flows, flow{p}) })
	// merge all flows by time (stable)
	var out []Packet
	for _, f := range flows {
		out = append(out, f.pkts...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TS.Before(out[j].TS) })
	return out
}
