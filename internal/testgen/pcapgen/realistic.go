package pcapgen

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apitap/apitap/internal/testgen/apigen"
	"github.com/apitap/apitap/reassembly/http1"
)

// RealisticResult is what Realistic wrote.
type RealisticResult struct {
	BenchResult
	Gzipped        int64 `json:"gzipped"`         // responses sent gzip-encoded
	MedianResponse int   `json:"median_response"` // bytes of the median response body (before compression)
	P90Response    int   `json:"p90_response"`
	Users          int   `json:"users"`
}

// realisticHosts are the specs under testdata/specs and the hosts that
// serve them.
var realisticHosts = []struct{ spec, host string }{
	{"shop.yaml", "api.shop.example"}, {"saas.yaml", "api.saas.example"},
	{"payments.yaml", "pay.example"}, {"content.yaml", "content.example"},
}

// Realistic writes about size bytes of API traffic shaped like production
// (the headline row of make bench): requests of the operations of the
// specs in specDir (testdata/specs; paths, parameters and authentication
// from package apigen: JWTs of 500 users, Basic and API keys), JSON
// response bodies of realistic sizes (lists of records with names,
// e-mails, phones, addresses and card numbers on about half of the
// operations: median about 0.5 KB, 90th percentile about 3 KB), gzip on
// about a third of the responses, JSON request bodies on writes, 64
// keep-alive connections open at a time, each carrying 1 to 25 exchanges
// from a client address of its own (three in four drawn from the 500,000
// of 10.20-27.x.x, so nearly always new; one in four from 250 addresses
// of 203.0.113.0/24). The output is deterministic.
func Realistic(w io.Writer, size int64, specDir string) (RealisticResult, error) {
	var res RealisticResult
	pw, err := NewWriter(w, Ethernet)
	if err != nil {
		return res, err
	}
	var gens []*apigen.Generator
	for i, h := range realisticHosts {
		doc, err := apigen.Load(filepath.Join(specDir, h.spec))
		if err != nil {
			return res, err
		}
		gens = append(gens, apigen.New(doc, h.host, uint64(100+i)))
	}
	r := rand.New(rand.NewPCG(7, 11))
	rg := &realGen{r: r}
	enc := &Encap{}
	ts := time.Date(2026, 2, 2, 9, 0, 0, 0, time.UTC)
	type active struct {
		c    *Conn
		gen  *apigen.Generator
		left int
	}
	var open []*active
	port := uint16(1024)
	newConn := func() *active {
		port++
		if port < 1024 {
			port = 1024
		}
		ip := netip.AddrFrom4([4]byte{10, byte(20 + r.IntN(8)), byte(r.IntN(250)), byte(1 + r.IntN(250))})
		if r.IntN(4) == 0 {
			ip = netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + r.IntN(250))})
		}
		g := r.IntN(len(gens))
		srv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 9, byte(10 + g)}), 80)
		c := NewConn(netip.AddrPortFrom(ip, port), srv, ts)
		c.Step = 20 * time.Microsecond
		res.Connections++
		return &active{c: c, gen: gens[g], left: 1 + int(math.Min(24, r.ExpFloat64()*9))}
	}
	var sizes []int
	var buf []byte
	var pkts []Packet
	flush := func() error {
		for i := range pkts {
			buf = enc.AppendFrame(buf[:0], &pkts[i].Seg)
			if err := pw.Write(pkts[i].TS, buf); err != nil {
				return err
			}
			res.Packets++
			res.Bytes += int64(len(buf)) + 16
		}
		pkts = pkts[:0]
		return nil
	}
	for res.Bytes < size {
		for len(open) < 64 {
			a := newConn()
			open = append(open, a)
			pkts = append(pkts, a.c.Handshake()...)
		}
		i := r.IntN(len(open))
		a := open[i]
		ts = ts.Add(time.Duration(200+r.IntN(1500)) * time.Microsecond)
		a.c.TS = ts
		tx, op := a.gen.Next()
		req, resp, n, gz := rg.wire(tx.Request, tx.Response, op)
		sizes = append(sizes, n)
		if gz {
			res.Gzipped++
		}
		pkts = append(pkts, a.c.Exchange(req, resp)...)
		res.Transactions++
		a.left--
		if a.left == 0 {
			pkts = append(pkts, a.c.Close()...)
			open[i] = open[len(open)-1]
			open = open[:len(open)-1]
		}
		if len(pkts) > 4096 {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	for _, a := range open {
		pkts = append(pkts, a.c.Close()...)
	}
	if err := flush(); err != nil {
		return res, err
	}
	if len(sizes) > 0 {
		slices.Sort(sizes)
		res.MedianResponse, res.P90Response = sizes[len(sizes)/2], sizes[len(sizes)*9/10]
	}
	res.Users = 500
	return res, pw.Flush()
}

// realGen makes realistic bodies for apigen's requests.
type realGen struct {
	r  *rand.Rand
	gz bytes.Buffer
	zw *gzip.Writer
}

var (
	realFirst = strings.Fields("Ana Ben Chloe David Elena Farid Grace Hugo Ines Jonas Keiko Liam Maya Noah Olga Pavel Quinn Rosa Samir Tara Uma Victor Wen Ximena Yusuf Zoe")
	realLast  = strings.Fields("Alvarez Brown Chen Dubois Eriksen Fischer Garcia Haddad Ivanova Jensen Kowalski Larsen Moreau Nakamura Okafor Petrov Rossi Schmidt Tanaka Urban Vargas Weber Xu Yilmaz Zhang")
	streets   = strings.Fields("Main Oak Pine Maple Cedar Elm Lake Hill Park River")
	statuses  = strings.Fields("active pending shipped delivered cancelled refunded")
)

// wire encodes a request and its response as HTTP/1.1 bytes, replacing
// the response body with a realistic one (and the request body on writes).
// It returns the response body size before compression and whether it was
// gzip-encoded.
func (g *realGen) wire(req *http1.Request, resp *http1.Response, op *apigen.Operation) (rq, rs []byte, n int, gz bool) {
	r := g.r
	var reqBody []byte
	if req.Method == "POST" || req.Method == "PUT" || req.Method == "PATCH" {
		reqBody = g.record(r.IntN(3) == 0, 2+r.IntN(6))
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", req.Method, req.Target)
	for _, h := range req.Headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h.Name, h.Value)
	}
	b.WriteString("Accept-Encoding: gzip, br\r\n")
	if reqBody != nil {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(reqBody))
	}
	b.WriteString("\r\n")
	b.Write(reqBody)
	rq = b.Bytes()

	pii := opHash(op)%2 == 0 // about half of the operations return personal data
	status := resp.Status
	var body []byte
	switch {
	case status >= 400:
		body = []byte(`{"error":"not_found","message":"The requested resource does not exist","request_id":"` + g.hex(16) + `"}`)
	case req.Method == "DELETE":
		status = 204
	case strings.HasSuffix(op.Path, "}"): // one object
		body = g.record(pii, 6+r.IntN(10))
	default: // a collection: a page of records
		k := int(math.Min(60, math.Exp(1.2+r.NormFloat64()*1.05)))
		var lb bytes.Buffer
		lb.WriteString(`{"data":[`)
		for i := 0; i < k; i++ {
			if i > 0 {
				lb.WriteByte(',')
			}
			lb.Write(g.record(pii, 4+r.IntN(5)))
		}
		fmt.Fprintf(&lb, `],"page":%d,"per_page":%d,"total":%d}`, 1+r.IntN(20), k, k*(1+r.IntN(40)))
		body = lb.Bytes()
	}
	n = len(body)
	b = bytes.Buffer{}
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nDate: Mon, 02 Feb 2026 09:00:00 GMT\r\nServer: nginx\r\nX-Request-Id: %s\r\n", status, reasonOf(status), g.hex(16))
	if body != nil {
		b.WriteString("Content-Type: application/json; charset=utf-8\r\n")
		if len(body) >= 700 && r.IntN(10) < 9 {
			body = g.gzip(body)
			gz = true
			b.WriteString("Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n")
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
	b.Write(body)
	return rq, b.Bytes(), n, gz
}

func reasonOf(s int) string {
	switch s {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 204:
		return "No Content"
	case 404:
		return "Not Found"
	}
	return "Status"
}

func opHash(op *apigen.Operation) uint64 {
	h := uint64(14695981039346656037)
	for _, s := range []string{op.Method, op.Path} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
	}
	return h >> 7
}

// record is one JSON object of fields fields, with personal data if pii.
func (g *realGen) record(pii bool, fields int) []byte {
	r := g.r
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"id":"%s","created_at":"2026-01-%02dT%02d:%02d:%02dZ"`, g.uuid(), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60))
	for f := 0; f < fields; f++ {
		switch k := r.IntN(9); {
		case pii && k == 0:
			fn, ln := realFirst[r.IntN(len(realFirst))], realLast[r.IntN(len(realLast))]
			fmt.Fprintf(&b, `,"name":"%s %s","email":"%s.%s%d@example.com"`, fn, ln, strings.ToLower(fn), strings.ToLower(ln), r.IntN(100))
		case pii && k == 1:
			fmt.Fprintf(&b, `,"phone":"+1 415 555 %04d"`, r.IntN(10000))
		case pii && k == 2:
			fmt.Fprintf(&b, `,"address":{"street":"%d %s St","city":"Springfield","zip":"%05d","country":"US"}`, 1+r.IntN(999), streets[r.IntN(len(streets))], r.IntN(100000))
		case pii && k == 3 && r.IntN(4) == 0:
			fmt.Fprintf(&b, `,"card":{"number":"%s","exp":"%02d/%02d"}`, luhnCard(r), 1+r.IntN(12), 27+r.IntN(5))
		case k == 4:
			fmt.Fprintf(&b, `,"status":"%s"`, statuses[r.IntN(len(statuses))])
		case k == 5:
			fmt.Fprintf(&b, `,"amount":{"value":%d.%02d,"currency":"EUR"}`, r.IntN(5000), r.IntN(100))
		case k == 6:
			fmt.Fprintf(&b, `,"tags":["%s","%s"]`, streets[r.IntN(len(streets))], statuses[r.IntN(len(statuses))])
		case k == 7:
			fmt.Fprintf(&b, `,"description":"%s"`, g.sentence(6+r.IntN(20)))
		default:
			fmt.Fprintf(&b, `,"count_%d":%d`, f, r.IntN(100000))
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

var lorem = strings.Fields("the order was shipped from our warehouse and will arrive within three business days please contact support if anything is missing from your package we appreciate your patience")

func (g *realGen) sentence(n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = lorem[g.r.IntN(len(lorem))]
	}
	return strings.Join(w, " ")
}

func (g *realGen) uuid() string {
	a, b := g.r.Uint64(), g.r.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>48&0xfff, b&0xffffffffffff)
}

func (g *realGen) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.r.IntN(16)]
	}
	return string(b)
}

// gzip compresses b (deterministic: no name, no time in the header).
func (g *realGen) gzip(b []byte) []byte {
	g.gz.Reset()
	if g.zw == nil {
		g.zw, _ = gzip.NewWriterLevel(&g.gz, gzip.DefaultCompression)
	} else {
		g.zw.Reset(&g.gz)
	}
	g.zw.Write(b)
	g.zw.Close()
	return bytes.Clone(g.gz.Bytes())
}

// luhnCard is a test card number (issuer 4, Luhn-valid).
func luhnCard(r *rand.Rand) string {
	d := make([]int, 16)
	d[0] = 4
	for i := 1; i < 15; i++ {
		d[i] = r.IntN(10)
	}
	sum := 0
	for i := 0; i < 15; i++ {
		v := d[14-i]
		if i%2 == 0 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	d[15] = (10 - sum%10) % 10
	var s strings.Builder
	for _, v := range d {
		s.WriteString(strconv.Itoa(v))
	}
	return s.String()
}
