package pcapgen

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"strings"
)

// API makes realistic, deterministic API requests and JSON responses.
type API struct {
	R *rand.Rand
}

// NewAPI returns an API with a fixed seed.
func NewAPI(seed uint64) *API { return &API{R: rand.New(rand.NewPCG(seed, seed^0x5eed))} }

var (
	firstNames = []string{"Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Radia", "Linus", "Margaret", "Dennis"}
	lastNames  = []string{"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Perlman", "Torvalds", "Hamilton", "Ritchie"}
	products   = []string{"keyboard", "monitor", "mouse", "laptop stand", "usb hub", "headset", "webcam", "desk lamp"}
	agents     = []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"okhttp/4.12.0", "python-requests/2.32.3", "ShopApp/5.2 (iOS 18.1)",
	}
)

// JWT returns a JWT-shaped token (not signed by anyone).
func (a *API) JWT(sub string) string {
	return "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." + b64(fmt.Sprintf(`{"sub":"%s","iat":1768471200,"scope":"shop"}`, sub)) + "." + strings.Repeat("Sg", 20+a.R.IntN(10))
}

func b64(s string) string {
	const tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var b strings.Builder
	in := []byte(s)
	for i := 0; i < len(in); i += 3 {
		var v uint32
		n := min(3, len(in)-i)
		for j := 0; j < 3; j++ {
			v <<= 8
			if j < n {
				v |= uint32(in[i+j])
			}
		}
		for j := 0; j < n+1; j++ {
			b.WriteByte(tbl[(v>>(18-6*j))&63])
		}
	}
	return b.String()
}

// Request builds a request with typical headers.
func (a *API) Request(method, host, target string, extra []string, body string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: application/json\r\n", method, target, host, agents[a.R.IntN(len(agents))])
	for _, h := range extra {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	if body != "" || method == "POST" || method == "PUT" || method == "PATCH" {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.Bytes()
}

// Response builds a response; encoding is "", "gzip" or "chunked" (or
// "gzip,chunked").
func Response(status int, body string, encoding string, extra ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nDate: Thu, 15 Jan 2026 10:00:00 GMT\r\nServer: nginx/1.27\r\n", status, reason(status))
	for _, h := range extra {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	if body != "" {
		b.WriteString("Content-Type: application/json\r\n")
	}
	payload := []byte(body)
	if strings.Contains(encoding, "gzip") {
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
		w.Write(payload)
		w.Close()
		payload = z.Bytes()
		b.WriteString("Content-Encoding: gzip\r\n")
	}
	if strings.Contains(encoding, "chunked") {
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		for len(payload) > 0 {
			n := min(len(payload), 700)
			fmt.Fprintf(&b, "%x\r\n", n)
			b.Write(payload[:n])
			b.WriteString("\r\n")
			payload = payload[n:]
		}
		b.WriteString("0\r\n\r\n")
		return b.Bytes()
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(payload))
	b.Write(payload)
	return b.Bytes()
}

func reason(s int) string {
	switch s {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 204:
		return "No Content"
	case 304:
		return "Not Modified"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 500:
		return "Internal Server Error"
	}
	return "Status"
}

// User is a JSON user object. With pii, it carries an email, a phone number.
func (a *API) User(id int, pii bool) string {
	f, l := firstNames[a.R.IntN(len(firstNames))], lastNames[a.R.IntN(len(lastNames))]
	s := fmt.Sprintf(`{"id":%d,"name":"%s %s","created":"2025-%02d-%02dT08:00:00Z","tier":"%s"`, id, f, l, 1+a.R.IntN(12), 1+a.R.IntN(28), []string{"free", "pro", "team"}[a.R.IntN(3)])
	if pii {
		s += fmt.Sprintf(`,"email":"%s.%s@example.com","phone":"+1-415-555-%04d"`, strings.ToLower(f), strings.ToLower(l), a.R.IntN(10000))
	}
	return s + "}"
}

// Order is a JSON order object.
func (a *API) Order(id, user int) string {
	var items []string
	for i := 0; i < 1+a.R.IntN(4); i++ {
		items = append(items, fmt.Sprintf(`{"sku":"SKU-%05d","name":"%s","qty":%d,"price":%d.%02d}`, a.R.IntN(100000), products[a.R.IntN(len(products))], 1+a.R.IntN(3), 5+a.R.IntN(500), a.R.IntN(100)))
	}
	return fmt.Sprintf(`{"id":%d,"user_id":%d,"status":"%s","items":[%s]}`, id, user, []string{"paid", "shipped", "delivered"}[a.R.IntN(3)], strings.Join(items, ","))
}

// Products is a JSON page of products, about size bytes long.
func (a *API) Products(page, size int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"page":%d,"items":[`, page)
	for i := 0; b.Len() < size-60; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"%s","price":%d.%02d,"stock":%d}`, page*1000+i, products[a.R.IntN(len(products))], 5+a.R.IntN(500), a.R.IntN(100), a.R.IntN(1000))
	}
	b.WriteString(`],"next":null}`)
	return b.String()
}
