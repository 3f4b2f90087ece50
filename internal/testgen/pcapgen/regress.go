package pcapgen

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Regression captures for HTTP/1 fidelity (issue 21): one per category of
// real-world trouble, each with its expected transactions in
// testdata/golden (TestGolden) and compared with Suricata by
// tools/apitap-suricmp where Suricata is installed.

func regressionCases() []Case {
	return []Case{
		{File: "h1_acked_holes.pcap", Exchanges: 17, Notes: "20 keep-alive exchanges; the mirror lost (the endpoints got them, and acknowledged them) the response of #5, the request of #10 and the head segment of the response of #15: 17 exchanges, #5 and #15 unmatched requests, #10 an unmatched response, all flagged gap (the tail of #15 is skipped), none mispaired", build: ackedHoles},
		{File: "h1_lenient_responses.pcap", Exchanges: 7, Notes: "status lines servers send and clients accept: http/1.1, HTTP/1.01, HTTP/2.0, status 0200, tabs, NUL, a head ending in \\n\\r\\r\\n (flag lenient_start_line or lenient_headers)", build: lenientResponses},
		{File: "h1_lenient_requests.pcap", Exchanges: 6, Notes: "request lines servers accept: HTTP/1., double spaces, tabs, no target, a space inside the target, Content-Length with leading zeros (flags lenient_start_line, lenient_framing)", build: lenientRequests},
		{File: "h1_http09.pcap", Exchanges: 0, Notes: "an HTTP/0.9 request (GET /path, no version) answered by a bare body ended by FIN: 1 exchange flagged http09, without status (not counted here)", build: http09},
		{File: "h1_truncated_heads.pcap", Exchanges: 3, Notes: "a response head cut by the end of the connection (reported truncated)  and, on a second connection, after one exchange, a request head cut by the end of the capture (truncated, unmatched_request); a request head cut on a connection the server never answered is counted, not reported", build: truncatedHeads},
		{File: "h1_oversized_head.pcap", Exchanges: 2, Notes: "a request head of 80 KiB (over max_header_bytes): its request line and first headers are reported, flag headers_truncated, paired with the 431; the next exchange parses", build: oversizedHead},
		{File: "h1_rst.pcap", Exchanges: 3, Notes: "a RST that the connection carries on after (the client keeps sending: not honoured, not the end) then 2 exchanges; a second connection whose RST is honoured (nothing follows): 1 exchange, 1 unmatched request", build: rstEvasion},
		{File: "h1_connect.pcap", Exchanges: 4, Notes: "CONNECT tunnels: clear HTTP inside (2 exchanges flagged tunnelled after the CONNECT), and TLS inside (the CONNECT only)", build: connectTunnels},
		{File: "h1_smuggling.pcap", Exchanges: 5, Notes: "framing ambiguities: Content-Length with Transfer-Encoding, two different Content-Lengths, Transfer-Encoding: Chunked, Transfer-Encoding with a space before the colon (flag request_smuggling), and a list of equal Content-Lengths (lenient_framing)", build: smuggling},
		{File: "pppoe.pcap", Exchanges: 3, Notes: "basic traffic over PPPoE (ethertype 0x8864, session 0x1234)", build: simple(Encap{Link: PPPoE}, cli4, srv4)},
		{File: "ppp.pcap", Exchanges: 3, Notes: "basic traffic, PPP link type (HDLC address and control bytes)", build: simple(Encap{Link: PPP}, cli4, srv4)},
		{File: "chdlc.pcap", Exchanges: 3, Notes: "basic traffic, Cisco HDLC link type", build: simple(Encap{Link: CHDLC}, cli4, srv4)},
		{File: "nflog.pcap", Exchanges: 3, Notes: "basic traffic, Linux NFLOG link type (iptables -j NFLOG; tcpdump -i nflog)", build: simple(Encap{Link: NFLOG}, cli4, srv4)},
		{File: "teredo.pcap", Exchanges: 3, Notes: "basic IPv6 traffic in Teredo (UDP 3544 over IPv4, with an origin indication)", build: simple(Encap{Tunnel: Teredo, TunnelSrc: tunSrc, TunnelDst: tunDst}, cli6, srv6)},
	}
}

// idExchange is a request and response that carry the same id (X-Id), so
// that a wrong pairing shows in the golden output.
func idExchange(a *API, id int) (req, resp []byte) {
	req = a.Request("GET", "api.shop.example", fmt.Sprintf("/v1/items/%d", id), []string{fmt.Sprintf("X-Id: %d", id)}, "")
	body := fmt.Sprintf(`{"id":%d}`, id)
	if id%5 == 0 {
		body = fmt.Sprintf(`{"id":%d,"pad":"%s"}`, id, strings.Repeat("x", 2000)) // two segments
	}
	return req, Response(200, body, "", fmt.Sprintf("X-Id: %d", id))
}

func ackedHoles() (Link, *Encap, []Packet) {
	a := NewAPI(21)
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	for id := 1; id <= 20; id++ {
		req, resp := idExchange(a, id)
		rq := c.Send(true, req)
		rs := c.Send(false, resp)
		switch id {
		case 10:
			rq = rq[:0] // the request (and the server's ACK of it) lost
		case 5:
			rs = rs[len(rs)-1:] // the whole response lost; the client's ACK seen
		case 15:
			rs = rs[1:] // the segment with the response head lost
		}
		if id != 10 {
			rq = rq[:len(rq)-1] // the server acknowledges with its response
		}
		p = append(p, rq...)
		p = append(p, rs...)
		c.TS = c.TS.Add(2 * time.Millisecond)
	}
	return Ethernet, &Encap{}, append(p, c.Close()...)
}

func rawExchange(c *Conn, req, resp string) []Packet {
	return c.Exchange([]byte(req), []byte(resp))
}

func lenientResponses() (Link, *Encap, []Packet) {
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	for i, status := range []string{
		"http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.01 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 0200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1\t200\tOK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200\x00OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\nContent-Length: 2\n\r\r\nok",
	} {
		p = append(p, rawExchange(c, fmt.Sprintf("GET /lenient/%d HTTP/1.1\r\nHost: odd.example\r\n\r\n", i+1), status)...)
	}
	return Ethernet, &Encap{}, append(p, c.Close()...)
}

func lenientRequests() (Link, *Encap, []Packet) {
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	for _, req := range []string{
		"GET /r/1 HTTP/1.\r\nHost: odd.example\r\n\r\n",
		"POST  /r/2  HTTP/1.1\r\nHost: odd.example\r\nContent-Length: 2\r\n\r\nab",
		"GET\t/r/3\tHTTP/1.1\r\nHost: odd.example\r\n\r\n",
		"GET HTTP/1.1\r\nHost: odd.example\r\n\r\n",
		"GET /r/5 x HTTP/1.1\r\nHost: odd.example\r\n\r\n",
		"POST /r/6 HTTP/1.1\r\nHost: odd.example\r\nContent-Length: 0000000000000000000000000003\r\n\r\nabc",
	} {
		p = append(p, rawExchange(c, req, ok)...)
	}
	return Ethernet, &Encap{}, append(p, c.Close()...)
}

func http09() (Link, *Encap, []Packet) {
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	p = append(p, c.Send(true, []byte("GET /legacy/index.html\r\n"))...)
	p = append(p, c.Send(false, []byte("<html><body>HTTP/0.9 lives</body></html>\n"))...)
	// the server closes: the body ends there
	p = append(p, c.seg(false, FIN|ACK, nil))
	c.sseq++
	p = append(p, c.seg(true, FIN|ACK, nil))
	c.cseq++
	return Ethernet, &Encap{}, append(p, c.seg(false, ACK, nil))
}

func truncatedHeads() (Link, *Encap, []Packet) {
	a := NewAPI(22)
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/users/7", nil, ""), Response(200, a.User(7, false), ""))...)
	p = append(p, c.Send(true, a.Request("GET", "api.shop.example", "/v1/users/8", nil, ""))...)
	p = append(p, c.Send(false, []byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Ty"))...)
	p = append(p, c.Close()...)
	c2 := NewConn(cli4, srv4, c.TS.Add(time.Millisecond))
	c2.Cli = netip.AddrPortFrom(cli4.Addr().Next(), cli4.Port())
	p = append(p, c2.Handshake()...)
	p = append(p, c2.Exchange(a.Request("GET", "api.shop.example", "/v1/users/9", nil, ""), Response(200, a.User(9, false), ""))...)
	return Ethernet, &Encap{}, append(p, c2.Send(true, []byte("POST /v1/orders HTTP/1.1\r\nHost: api.shop.example\r\nContent-Type: application/json\r\nX-Tra"))...)
}

func oversizedHead() (Link, *Encap, []Packet) {
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	big := "GET /v1/search?q=big HTTP/1.1\r\nHost: api.shop.example\r\nUser-Agent: bigcookie/1.0\r\nCookie: " + strings.Repeat("c", 80<<10) + "\r\n\r\n"
	p = append(p, rawExchange(c, big, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")...)
	p = append(p, rawExchange(c, "GET /v1/next HTTP/1.1\r\nHost: api.shop.example\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")...)
	return Ethernet, &Encap{}, append(p, c.Close()...)
}

func rstEvasion() (Link, *Encap, []Packet) {
	a := NewAPI(23)
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	// a RST in the client's name that the server ignores (an attacker's,
	// or one with a TCP-MD5 option the server drops): the client goes on
	p = append(p, c.seg(true, RST|ACK, nil))
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/admin/export", nil, ""), Response(200, `{"rows":3}`, ""))...)
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/admin/users", nil, ""), Response(200, `{"users":2}`, ""))...)
	p = append(p, c.Close()...)
	// a RST that is honoured: nothing follows it
	c2 := NewConn(cli4, srv4, c.TS.Add(time.Millisecond))
	c2.Cli = netip.AddrPortFrom(cli4.Addr().Next(), cli4.Port())
	p = append(p, c2.Handshake()...)
	p = append(p, c2.Exchange(a.Request("GET", "api.shop.example", "/v1/users/3", nil, ""), Response(200, a.User(3, false), ""))...)
	p = append(p, c2.Send(true, a.Request("DELETE", "api.shop.example", "/v1/users/3", nil, ""))...)
	return Ethernet, &Encap{}, append(p, c2.Reset()...)
}

func connectTunnels() (Link, *Encap, []Packet) {
	a := NewAPI(24)
	proxy := srv4.Addr()
	c := NewConn(cli4, netip.AddrPortFrom(proxy, 3128), Base)
	p := c.Handshake()
	p = append(p, rawExchange(c, "CONNECT internal.example:80 HTTP/1.1\r\nHost: internal.example:80\r\n\r\n", "HTTP/1.1 200 Connection established\r\n\r\n")...)
	p = append(p, c.Exchange(a.Request("GET", "internal.example", "/v1/secret", nil, ""), Response(200, `{"secret":"no"}`, ""))...)
	p = append(p, c.Exchange(a.Request("POST", "internal.example", "/v1/login", nil, `{"user":"a"}`), Response(401, `{"error":"denied"}`, ""))...)
	p = append(p, c.Close()...)
	c2 := NewConn(cli4, netip.AddrPortFrom(proxy, 3128), c.TS.Add(time.Millisecond))
	c2.Cli = netip.AddrPortFrom(cli4.Addr().Next(), cli4.Port())
	p = append(p, c2.Handshake()...)
	p = append(p, rawExchange(c2, "CONNECT api.example:443 HTTP/1.1\r\nHost: api.example:443\r\n\r\n", "HTTP/1.1 200 Connection established\r\n\r\n")...)
	p = append(p, c2.Exchange([]byte("\x16\x03\x01\x00\x05hello"), []byte("\x16\x03\x03\x00\x05world"))...)
	return Ethernet, &Encap{}, append(p, c2.Close()...)
}

func smuggling() (Link, *Encap, []Packet) {
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	bad := "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
	for _, x := range []struct{ req, resp string }{
		{"POST /s/1 HTTP/1.1\r\nHost: h.example\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ok},
		{"POST /s/2 HTTP/1.1\r\nHost: h.example\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\n", bad},
		{"POST /s/3 HTTP/1.1\r\nHost: h.example\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", ok},
		{"POST /s/4 HTTP/1.1\r\nHost: h.example\r\nTransfer-Encoding : chunked\r\n\r\n", bad},
		{"POST /s/5 HTTP/1.1\r\nHost: h.example\r\nContent-Length: 2, 2\r\n\r\nok", ok},
	} {
		p = append(p, rawExchange(c, x.req, x.resp)...)
	}
	return Ethernet, &Encap{}, append(p, c.Close()...)
}
