// Package txtest builds transactions for analyzer tests and benchmarks:
// the shape of the traffic apitap-bench measures, so that each analyzer's
// benchmark shows its share of the full sensor's cost.
package txtest

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// Step is the capture time between two of SmallGETs' transactions.
const Step = 20 * time.Microsecond

// users is how many users SmallGETs' traffic comes from.
const users = 64

// SmallGETs returns n of the most common API calls (the shape of
// apitap-gen's small capture): authenticated GETs of a page of an
// account's transactions, each from one of 64 users with a JWT of its own
// and one of five User-Agents, answered by a JSON page of 0.2 to 1.3 KB.
// Requests go over 64 keep-alive connections that take turns and are
// replaced after 50 to 250 requests, so that a user's requests come from
// many client addresses; every request id is new (no cache holds them
// all). Headers carry their parse-time IDs; calls are Step apart in
// capture time. The same n gives the same transactions.
func SmallGETs(n int) []*reassembly.Transaction {
	r := rand.New(rand.NewPCG(42, 1))
	t0 := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	agents := []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"okhttp/4.12.0", "python-requests/2.32.3", "ShopApp/5.2 (iOS 18.1)",
	}
	type user struct {
		path, agent, auth string
		body              []byte
		respHeaders       []http1.Header
	}
	us := make([]user, users)
	for i := range us {
		claims := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"sub":"bench%d","iat":1768471200,"scope":"shop"}`, i))
		sig := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%032x", r.Uint64()))
		var body strings.Builder
		fmt.Fprintf(&body, `{"page":%d,"items":[`, i)
		for k := 0; body.Len() < 200+r.IntN(1100)-60; k++ {
			if k > 0 {
				body.WriteByte(',')
			}
			fmt.Fprintf(&body, `{"id":%d,"name":"desk lamp","price":%d.%02d,"stock":%d}`, i*1000+k, 5+r.IntN(500), r.IntN(100), r.IntN(1000))
		}
		body.WriteString(`],"next":null}`)
		us[i] = user{
			path:  fmt.Sprintf("/v1/accounts/%d/transactions", 10000+i),
			agent: agents[r.IntN(len(agents))],
			auth:  "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." + claims + "." + sig,
			body:  []byte(body.String()),
		}
		us[i].respHeaders = ids([]http1.Header{
			{Name: "Server", Value: "nginx/1.27"}, {Name: "Cache-Control", Value: "no-store"},
			{Name: "Content-Type", Value: "application/json"}, {Name: "Content-Length", Value: fmt.Sprint(body.Len())},
		})
	}
	var conns [users]netip.AddrPort
	left := make([]int, users)
	opened := 0
	open := func(c int) {
		opened++
		conns[c] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(opened >> 8), byte(opened)}), uint16(20000+opened%40000))
		left[c] = 50 + r.IntN(200)
	}
	for c := range conns {
		open(c)
	}
	out := make([]*reassembly.Transaction, n)
	at := t0
	for i := range out {
		c := i % users
		u := &us[r.IntN(users)]
		query := fmt.Sprintf("page=%d&limit=50", r.IntN(7))
		req := &http1.Request{Method: "GET", Host: "api.bench.example", Target: u.path + "?" + query, Path: u.path, Query: query, Proto: "HTTP/1.1", Start: at, End: at,
			Headers: ids([]http1.Header{
				{Name: "Host", Value: "api.bench.example"},
				{Name: "User-Agent", Value: u.agent},
				{Name: "Accept", Value: "application/json"},
				{Name: "Authorization", Value: u.auth},
				{Name: "X-Request-Id", Value: fmt.Sprintf("%016x", r.Uint64())},
			})}
		resp := &http1.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1", Start: at.Add(Step / 2), End: at.Add(Step / 2),
			Headers: append(ids([]http1.Header{{Name: "Date", Value: at.Format(time.RFC1123)}}), u.respHeaders...),
			Body:    http1.Body{Data: u.body, WireBytes: int64(len(u.body))}}
		out[i] = &reassembly.Transaction{
			Flow:     reassembly.Flow{Client: conns[c], Server: netip.MustParseAddrPort("10.9.0.1:80")},
			Exchange: http1.Exchange{Request: req, Response: resp},
		}
		at = at.Add(Step)
		if left[c]--; left[c] == 0 {
			open(c)
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
