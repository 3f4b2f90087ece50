package behavior

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/apitap/apitap/reassembly/http1"
)

// TestGraphQLBatchRate: the rate detector counts a GraphQL batch's
// operations (Notes.GraphQL.Operations). A client that sends 50 requests
// in a minute, each a batch of 20 operations, is as busy as the API key
// hammering a REST endpoint 1000 times a minute (rate_abuse); the same
// 50 requests with one operation each are ordinary. Background: 200
// users, a partner, a power user (scenario_test.go).
func TestGraphQLBatchRate(t *testing.T) {
	for _, ops := range []int{0, 20} { // 0: no note (one operation each)
		reqs := background(rand.New(rand.NewPCG(3, 9)))
		for k := 0; k < 50; k++ {
			reqs = append(reqs, req{at: 1500*time.Second + time.Duration(k)*1200*time.Millisecond, ip: "198.18.0.20", method: "POST", path: "/graphql",
				headers: []http1.Header{{Name: "User-Agent", Value: "okhttp/4.12.0"}, {Name: "X-API-Key", Value: "pk_live_batcher_7"}, {Name: "Content-Type", Value: "application/json"}},
				body:    `[{"query":"{ products { sku } }"}]`, status: 200, resp: `[{"data":{"products":[]}}]`, gqlOps: ops})
		}
		_, dets := run(t, NewConfig(), reqs)
		var flagged []string
		for _, d := range dets {
			if d.Class == "rate_abuse" && !slices.Contains(flagged, d.Actor.IP) {
				flagged = append(flagged, d.Actor.IP)
			}
		}
		n := max(ops, 1)
		t.Logf("50 GraphQL requests in a minute, %d operations each (%d operations): rate_abuse on %v", n, 50*n, flagged)
		want := ops == 20
		if got := slices.Contains(flagged, "198.18.0.20"); got != want {
			t.Errorf("%d operations per request: rate_abuse %v, want %v", n, got, want)
		}
		for _, ip := range flagged {
			if ip != "198.18.0.20" {
				t.Errorf("benign %s flagged rate_abuse", ip)
			}
		}
	}
}
