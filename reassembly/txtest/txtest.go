// Package txtest builds transactions for analyzer tests and benchmarks:
// the shape of the traffic apitap-bench measures, so that each analyzer's
// benchmark shows its share of the full sensor's cost.
package txtest

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// SmallGETs returns n of the most common API calls, from 50 users: a GET
// of a page of an account's transactions with a bearer JWT, answered by a
// short JSON page (as apitap-gen's small capture). Headers carry their
// parse-time IDs; one call per second of capture time.
func SmallGETs(n int) []*reassembly.Transaction {
	t0 := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	agents := []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"python-requests/2.32.3",
	}
	out := make([]*reassembly.Transaction, n)
	for i := range out {
		u := i % 50
		at := t0.Add(time.Duration(i) * time.Second)
		claims := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"sub":"bench%d","iat":1768471200,"scope":"shop"}`, u))
		var body strings.Builder
		body.WriteString(`{"page":1,"items":[`)
		for j := 0; j < 8; j++ {
			if j > 0 {
				body.WriteByte(',')
			}
			fmt.Fprintf(&body, `{"id":%d,"name":"desk lamp","price":%d.%02d,"stock":%d}`, u*1000+j, 100+j*7, j*13%100, j*37)
		}
		body.WriteString(`],"next":null}`)
		path := fmt.Sprintf("/v1/accounts/%d/transactions", 10000+u)
		query := fmt.Sprintf("page=%d&limit=50", i%5)
		req := &http1.Request{Method: "GET", Host: "api.bench.example", Target: path + "?" + query, Path: path, Query: query, Start: at, End: at,
			Headers: ids([]http1.Header{
				{Name: "Host", Value: "api.bench.example"},
				{Name: "User-Agent", Value: agents[u%len(agents)]},
				{Name: "Accept", Value: "application/json"},
				{Name: "Authorization", Value: "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." + claims + ".SgSgSgSgSgSgSgSgSgSgSgSgSgSgSgSgSgSgSgSgSg"},
				{Name: "X-Request-Id", Value: fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15)},
			})}
		resp := &http1.Response{Status: 200, Reason: "OK", Start: at.Add(3 * time.Millisecond), End: at.Add(3 * time.Millisecond),
			Headers: ids([]http1.Header{
				{Name: "Date", Value: at.Format(time.RFC1123)}, {Name: "Server", Value: "nginx/1.27"},
				{Name: "Cache-Control", Value: "no-store"}, {Name: "Content-Type", Value: "application/json"},
				{Name: "Content-Length", Value: fmt.Sprint(body.Len())},
			}),
			Body: http1.Body{Data: []byte(body.String())}}
		out[i] = &reassembly.Transaction{
			Flow:     reassembly.Flow{Client: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(u)}), uint16(40000+u)), Server: netip.MustParseAddrPort("10.0.0.1:80")},
			Exchange: http1.Exchange{Request: req, Response: resp},
		}
	}
	return out
}

// ids numbers the headers as the parser does.
func ids(hs []http1.Header) []http1.Header {
	for i := range hs {
		hs[i].ID = http1.LookupHeader(hs[i].Name)
	}
	return hs
}
