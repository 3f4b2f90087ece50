package pcapgen

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Case is one small test capture.
type Case struct {
	File string
	// Exchanges is the number of complete request/response exchanges the
	// capture holds that a correct parser reports (without unmatched flags).
	Exchanges int
	Notes     string
	build     func() (link Link, enc *Encap, pkts []Packet)
	// wrap post-processes the file bytes (gzip, truncation, corruption, pcapng).
	wrap string
}

var (
	cli4 = netip.MustParseAddrPort("10.0.1.20:51000")
	srv4 = netip.MustParseAddrPort("10.0.2.10:80")
	cli6 = netip.MustParseAddrPort("[2001:db8:1::20]:51000")
	srv6 = netip.MustParseAddrPort("[2001:db8:2::10]:8080")
)

// basicTraffic is three keep-alive exchanges (GET, POST, GET) on one connection.
func basicTraffic(cli, srv netip.AddrPort, ts time.Time) []Packet {
	a := NewAPI(1)
	c := NewConn(cli, srv, ts)
	p := c.Handshake()
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/users/1042", []string{"Authorization: Bearer " + a.JWT("u1042")}, ""), Response(200, a.User(1042, true), ""))...)
	p = append(p, c.Exchange(a.Request("POST", "api.shop.example", "/v1/cart", []string{"Cookie: sid=8f2a77c1d0; theme=dark"}, `{"sku":"SKU-00042","qty":2}`), Response(201, `{"cart_id":"c-77","items":1}`, "", "Set-Cookie: cart=c-77; Path=/; HttpOnly"))...)
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/products?page=2&access_token=s3cr3t", nil, ""), Response(200, a.Products(2, 3000), ""))...)
	return append(p, c.Close()...)
}

func simple(enc Encap, cli, srv netip.AddrPort) func() (Link, *Encap, []Packet) {
	return func() (Link, *Encap, []Packet) { return enc.Link, &enc, basicTraffic(cli, srv, Base) }
}

var tunSrc, tunDst = netip.MustParseAddr("172.31.0.5"), netip.MustParseAddr("172.31.9.9")

// Cases lists every test capture.
func Cases() []Case {
	return append([]Case{
		{File: "basic.pcap", Exchanges: 3, Notes: "3 keep-alive exchanges (GET, POST, GET) with handshake and FIN", build: simple(Encap{}, cli4, srv4)},
		{File: "vlan.pcap", Exchanges: 3, Notes: "basic traffic tagged 802.1Q VLAN 100", build: simple(Encap{VLAN: []uint16{100}}, cli4, srv4)},
		{File: "qinq.pcap", Exchanges: 3, Notes: "basic traffic double-tagged (QinQ 0x88a8 outer 200, inner 100)", build: simple(Encap{VLAN: []uint16{200, 100}}, cli4, srv4)},
		{File: "vxlan.pcap", Exchanges: 3, Notes: "basic traffic in VXLAN (UDP 4789, VNI 4242), as AWS VPC Traffic Mirroring sends it", build: simple(Encap{Tunnel: VXLAN, TunnelSrc: tunSrc, TunnelDst: tunDst, TunnelID: 4242}, cli4, srv4)},
		{File: "geneve.pcap", Exchanges: 3, Notes: "basic traffic in GENEVE (UDP 6081, VNI 77, one option)", build: simple(Encap{Tunnel: GENEVE, TunnelSrc: tunSrc, TunnelDst: tunDst, TunnelID: 77}, cli4, srv4)},
		{File: "erspan2.pcap", Exchanges: 3, Notes: "basic traffic in GRE + ERSPAN type II (session 5)", build: simple(Encap{Tunnel: ERSPAN2, TunnelSrc: tunSrc, TunnelDst: tunDst, TunnelID: 5}, cli4, srv4)},
		{File: "erspan3.pcap", Exchanges: 3, Notes: "basic traffic in GRE + ERSPAN type III with platform subheader (session 9), inner VLAN 30", build: simple(Encap{Tunnel: ERSPAN3, TunnelSrc: tunSrc, TunnelDst: tunDst, TunnelID: 9, VLAN: []uint16{30}}, cli4, srv4)},
		{File: "ipv6.pcap", Exchanges: 3, Notes: "basic traffic over IPv6 with hop-by-hop and destination-options extension headers", build: simple(Encap{IPv6Ext: true}, cli6, srv6)},
		{File: "sll.pcap", Exchanges: 3, Notes: "basic traffic, Linux cooked capture v1 (tcpdump -i any, older libpcap)", build: simple(Encap{Link: SLL}, cli4, srv4)},
		{File: "sll2.pcap", Exchanges: 3, Notes: "basic traffic, Linux cooked capture v2 (tcpdump -i any)", build: simple(Encap{Link: SLL2}, cli4, srv4)},
		{File: "rawip.pcap", Exchanges: 3, Notes: "basic traffic, raw IP link type", build: simple(Encap{Link: RawIP}, cli4, srv4)},
		{File: "pcapng.pcapng", Exchanges: 3, Notes: "basic traffic in pcapng format", build: simple(Encap{}, cli4, srv4), wrap: "pcapng"},
		{File: "gzipped.pcap.gz", Exchanges: 3, Notes: "basic traffic, gzip-compressed pcap", build: simple(Encap{}, cli4, srv4), wrap: "gzip"},
		{File: "truncated.pcap", Exchanges: 3, Notes: "basic traffic cut inside a packet record of the third response body: 3 exchanges, the third flagged truncated; capture error truncated_file", build: simple(Encap{}, cli4, srv4), wrap: "truncate"},
		{File: "corrupt.pcap", Exchanges: 1, Notes: "basic traffic with an absurd record length where the second request starts: 1 exchange; capture error corrupt_record", build: simple(Encap{}, cli4, srv4), wrap: "corrupt"},
		{File: "pipelining.pcap", Exchanges: 4, Notes: "4 requests sent back to back, then 4 responses", build: pipelining},
		{File: "chunked.pcap", Exchanges: 2, Notes: "chunked responses, one of them gzip-encoded", build: chunked},
		{File: "gzip.pcap", Exchanges: 2, Notes: "gzip Content-Encoding on a large JSON body spanning many segments", build: gzipCase},
		{File: "out_of_order.pcap", Exchanges: 2, Notes: "response segments delivered out of order", build: outOfOrder},
		{File: "retransmission.pcap", Exchanges: 2, Notes: "retransmitted segments, one partially overlapping", build: retransmission},
		{File: "mid_stream.pcap", Exchanges: 2, Notes: "capture starts inside a response body: 1 partial response skipped (mid_stream_start), 2 exchanges", build: midStream},
		{File: "gap.pcap", Exchanges: 3, Notes: "one response segment lost inside a body: that exchange is flagged gap+truncated; later ones parse normally", build: gapCase},
		{File: "rst.pcap", Exchanges: 1, Notes: "1 exchange, then a request answered by RST: 1 unmatched request", build: rstCase},
		{File: "multi_flow.pcap", Exchanges: 12, Notes: "4 interleaved connections (IPv4 and IPv6), 3 exchanges each", build: multiFlow},
		{File: "head_204_304.pcap", Exchanges: 3, Notes: "HEAD (Content-Length without body), 204 and 304 responses", build: head204},
		{File: "continue_100.pcap", Exchanges: 1, Notes: "Expect: 100-continue, interim 100, body, 201", build: continue100},
		{File: "upgrade.pcap", Exchanges: 1, Notes: "WebSocket upgrade (101) followed by frames that are not parsed", build: upgrade},
		{File: "close_delimited.pcap", Exchanges: 1, Notes: "HTTP/1.0 response without length, ended by FIN", build: closeDelimited},
		{File: "h2c_prior.pcap", Exchanges: 6, Notes: "HTTP/2 with prior knowledge (h2c): GET, POST with trailers, a gzip body, a 404, a stream cancelled by the client (unmatched, reset) and one refused by the server (unmatched, reset, refused), a server push (flag push)", build: h2Prior},
		{File: "h2c_upgrade.pcap", Exchanges: 3, Notes: "HTTP/1.1 Upgrade: h2c answered 101: the upgrade request is HTTP/2 stream 1, then 2 streams", build: h2Upgrade},
		{File: "h2_mid_stream.pcap", Exchanges: 19, Notes: "an HTTP/2 connection joined inside a response body: the 19 streams after the join are reported; 5 paths sent literally resolve, 14 indexed before the join do not (flag headers_unresolved, no path)", build: h2MidStream},
		{File: "grpc.pcap", Exchanges: 6, Notes: "gRPC: unary, unary with gzip-compressed messages, server streaming (3 messages), client streaming, bidirectional streaming, an error answered trailers-only (NOT_FOUND)", build: grpcCase},
		{File: "sensitive.pcap", Exchanges: 5, Notes: "cards, SSNs, IBANs, e-mails, phones, dates of birth, an IMEI, JWTs (one unsigned), cloud keys, a private key, passwords, Basic credentials, API keys and session cookies in path, query, headers, cookies, JSON, form and text bodies (SensitiveValues lists them)", build: sensitive},
	}, regressionCases()...)
}

func pipelining() (Link, *Encap, []Packet) {
	a := NewAPI(2)
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	var reqs, resps []byte
	for i := 1; i <= 4; i++ {
		reqs = append(reqs, a.Request("GET", "api.shop.example", fmt.Sprintf("/v1/orders/%d", 500+i), nil, "")...)
		resps = append(resps, Response(200, a.Order(500+i, 7), "")...)
	}
	p = append(p, c.Send(true, reqs)...)
	p = append(p, c.Send(false, resps)...)
	return Ethernet, &Encap{}, append(p, c.Close()...)
}

func chunked() (Link, *Encap, []Packet) {
	a := NewAPI(3)
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/products?page=1", nil, ""), Response(200, a.Products(1, 2500), "chunked"))...)
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/products?page=2", nil, ""), Response(200, a.Products(2, 5000), "gzip,chunked"))...)
	return Ethernet, &Encap{}, append(p, c.Close()...)
}

func gzipCase() (Link, *Encap, []Packet) {
	a := NewAPI(4)
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/products?page=3", []string{"Accept-Encoding: gzip"}, ""), Response(200, a.Products(3, 20000), "gzip"))...)
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/users/7", []string{"Accept-Encoding: gzip"}, ""), Response(200, a.User(7, false), "gzip"))...)
	return Ethernet, &Encap{}, append(p, c.Close()...)
}

// dataIdx returns the indexes of packets with payload sent by the server.
func dataIdx(p []Packet, srv netip.AddrPort) []int {
	var idx []int
	for i := range p {
		if p[i].Seg.Src == srv && len(p[i].Seg.Payload) > 0 {
			idx = append(idx, i)
		}
	}
	return idx
}

func outOfOrder() (Link, *Encap, []Packet) {
	a := NewAPI(5)
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/products?page=4", nil, ""), Response(200, a.Products(4, 6000), ""))...)
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/users/9", nil, ""), Response(200, a.User(9, false), ""))...)
	p = append(p, c.Close()...)
	idx := dataIdx(p, srv4)
	// swap the 2nd and 3rd response segments, and move the 1st after the 4th
	i1, i2, i3, i4 := idx[0], idx[1], idx[2], idx[3]
	p[i2], p[i3] = p[i3], p[i2]
	first := p[i1]
	copy(p[i1:i4], p[i1+1:i4+1])
	p[i4] = first
	return Ethernet, &Encap{}, p
}

func retransmission() (Link, *Encap, []Packet) {
	a := NewAPI(6)
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/products?page=5", nil, ""), Response(200, a.Products(5, 5000), ""))...)
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/users/11", nil, ""), Response(200, a.User(11, false), ""))...)
	p = append(p, c.Close()...)
	idx := dataIdx(p, srv4)
	dup := p[idx[1]]
	dup.TS = p[idx[2]].TS.Add(time.Microsecond)
	// partial overlap: the tail half of segment 2 plus the head of segment 3
	s2, s3 := p[idx[2]].Seg, p[idx[3]].Seg
	half := len(s2.Payload) / 2
	ov := Packet{TS: p[idx[3]].TS.Add(time.Microsecond), Seg: s2}
	ov.Seg.Seq += uint32(half)
	ov.Seg.Payload = append(append([]byte{}, s2.Payload[half:]...), s3.Payload[:100]...)
	out := append([]Packet{}, p[:idx[2]+1]...)
	out = append(out, dup)
	out = append(out, p[idx[2]+1:idx[3]+1]...)
	out = append(out, ov)
	return Ethernet, &Encap{}, append(out, p[idx[3]+1:]...)
}

func midStream() (Link, *Encap, []Packet) {
	a := NewAPI(7)
	c := NewConn(cli4, srv4, Base)
	c.Handshake()
	full := c.Exchange(a.Request("GET", "api.shop.example", "/v1/products?page=6", nil, ""), Response(200, a.Products(6, 5000), ""))
	idx := dataIdx(full, srv4)
	p := full[idx[1]:] // starts inside the first response's body
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/users/12", nil, ""), Response(200, a.User(12, true), ""))...)
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/orders/3", nil, ""), Response(200, a.Order(3, 12), ""))...)
	return Ethernet, &Encap{}, append(p, c.Close()...)
}

func gapCase() (Link, *Encap, []Packet) {
	a := NewAPI(8)
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/users/13", nil, ""), Response(200, a.User(13, false), ""))...)
	n := len(p)
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/products?page=7", nil, ""), Response(200, a.Products(7, 6000), ""))...)
	idx := dataIdx(p[n:], srv4)
	lost := n + idx[2] // a segment inside the body
	p = append(p[:lost:lost], p[lost+1:]...)
	c.TS = c.TS.Add(3 * time.Second) // the next exchange comes after the gap timeout
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/orders/4", nil, ""), Response(200, a.Order(4, 13), ""))...)
	return Ethernet, &Encap{}, append(p, c.Close()...)
}

func rstCase() (Link, *Encap, []Packet) {
	a := NewAPI(9)
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/users/14", nil, ""), Response(200, a.User(14, false), ""))...)
	p = append(p, c.Send(true, a.Request("DELETE", "api.shop.example", "/v1/users/14", nil, ""))...)
	return Ethernet, &Encap{}, append(p, c.Reset()...)
}

func multiFlow() (Link, *Encap, []Packet) {
	var flows [][]Packet
	for i := 0; i < 4; i++ {
		cli, srv := cli4, srv4
		if i%2 == 1 {
			cli, srv = cli6, srv6
		}
		cli = netip.AddrPortFrom(cli.Addr(), cli.Port()+uint16(i))
		flows = append(flows, basicTraffic(cli, srv, Base.Add(time.Duration(i)*time.Millisecond)))
	}
	// interleave by timestamp, stable by flow
	var out []Packet
	pos := make([]int, len(flows))
	for {
		best := -1
		for f := range flows {
			if pos[f] < len(flows[f]) && (best < 0 || flows[f][pos[f]].TS.Before(flows[best][pos[best]].TS)) {
				best = f
			}
		}
		if best < 0 {
			return Ethernet, &Encap{}, out
		}
		out = append(out, flows[best][pos[best]])
		pos[best]++
	}
}

func head204() (Link, *Encap, []Packet) {
	a := NewAPI(10)
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	p = append(p, c.Exchange(a.Request("HEAD", "api.shop.example", "/v1/products?page=1", nil, ""), []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2500\r\n\r\n"))...)
	p = append(p, c.Exchange(a.Request("DELETE", "api.shop.example", "/v1/cart/items/3", nil, ""), []byte("HTTP/1.1 204 No Content\r\n\r\n"))...)
	p = append(p, c.Exchange(a.Request("GET", "api.shop.example", "/v1/products?page=1", []string{`If-None-Match: "abc"`}, ""), []byte("HTTP/1.1 304 Not Modified\r\nETag: \"abc\"\r\n\r\n"))...)
	return Ethernet, &Encap{}, append(p, c.Close()...)
}

func continue100() (Link, *Encap, []Packet) {
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	body := `{"name":"new product","price":12.5}`
	p = append(p, c.Send(true, []byte(fmt.Sprintf("POST /v1/products HTTP/1.1\r\nHost: api.shop.example\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))))...)
	p = append(p, c.Send(false, []byte("HTTP/1.1 100 Continue\r\n\r\n"))...)
	p = append(p, c.Send(true, []byte(body))...)
	p = append(p, c.Send(false, Response(201, `{"id":99}`, ""))...)
	return Ethernet, &Encap{}, append(p, c.Close()...)
}

func upgrade() (Link, *Encap, []Packet) {
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	p = append(p, c.Exchange([]byte("GET /v1/live HTTP/1.1\r\nHost: api.shop.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
		[]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"))...)
	p = append(p, c.Send(false, []byte("\x81\x0bGET / HTTP/"))...) // a frame that looks like HTTP: must not be parsed
	p = append(p, c.Send(true, []byte("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"))...)
	return Ethernet, &Encap{}, append(p, c.Close()...)
}

func closeDelimited() (Link, *Encap, []Packet) {
	c := NewConn(cli4, srv4, Base)
	p := c.Handshake()
	p = append(p, c.Send(true, []byte("GET /legacy/status HTTP/1.0\r\nHost: api.shop.example\r\n\r\n"))...)
	p = append(p, c.Send(false, []byte("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall systems nominal\n"))...)
	fin := c.seg(false, FIN|ACK, nil)
	c.sseq++
	p = append(p, fin)
	p = append(p, c.seg(true, FIN|ACK, nil))
	return Ethernet, &Encap{}, p
}

// Bytes renders a case as file content.
func (k Case) Bytes() ([]byte, error) {
	link, enc, pkts := k.build()
	enc.Link = link
	var buf bytes.Buffer
	var w *Writer
	var err error
	if k.wrap == "pcapng" {
		w, err = NewNgWriter(&buf, link)
	} else {
		w, err = NewWriter(&buf, link)
	}
	if err != nil {
		return nil, err
	}
	// record offsets to damage the file where the case asks
	var offsets []int64
	var frame []byte
	for i := range pkts {
		if err := w.Flush(); err != nil {
			return nil, err
		}
		offsets = append(offsets, int64(buf.Len()))
		frame = enc.AppendFrame(frame[:0], &pkts[i].Seg)
		if err := w.Write(pkts[i].TS, frame); err != nil {
			return nil, err
		}
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	switch k.wrap {
	case "gzip":
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		return z.Bytes(), nil
	case "truncate":
		// cut inside the record of the last response data segment
		idx := dataIdx(pkts, srv4)
		off := offsets[idx[len(idx)-1]]
		return b[:off+30], nil
	case "corrupt":
		// after the first exchange's response: the first packet of the second request
		idx := dataIdx(pkts, srv4)
		off := offsets[idx[0]+2] // skip the client's ACK after the response
		b[off+8], b[off+9], b[off+10], b[off+11] = 0xff, 0xff, 0xff, 0x7f
		return b, nil
	}
	return b, nil
}

// WriteCases writes every case into dir, and MANIFEST.json.
func WriteCases(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var man strings.Builder
	man.WriteString("{\n")
	cases := Cases()
	for i, k := range cases {
		b, err := k.Bytes()
		if err != nil {
			return fmt.Errorf("%s: %w", k.File, err)
		}
		if err := os.WriteFile(filepath.Join(dir, k.File), b, 0o644); err != nil {
			return err
		}
		comma := ","
		if i == len(cases)-1 {
			comma = ""
		}
		fmt.Fprintf(&man, "  %q: {\"exchanges\": %d, \"notes\": %q}%s\n", k.File, k.Exchanges, k.Notes, comma)
	}
	man.WriteString("}\n")
	return os.WriteFile(filepath.Join(dir, "MANIFEST.json"), []byte(man.String()), 0o644)
}

// WriteFile writes packets with enc into a pcap file.
func WriteFile(path string, link Link, enc *Encap, pkts []Packet) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := NewWriter(f, link)
	if err != nil {
		return err
	}
	if err := WriteAll(w, enc, pkts); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
