package risk

import (
	"testing"

	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

func base() *discovery.EndpointJSON {
	return &discovery.EndpointJSON{Calls: 100, Auth: discovery.AuthJSON{Types: map[string]uint64{"bearer_jwt": 100}}}
}

// TestFactorsMoveTheScore starts from a well-behaved endpoint and adds one
// factor at a time: each must raise the score.
func TestFactorsMoveTheScore(t *testing.T) {
	cfg := NewConfig()
	b := Score(base(), cfg).Score
	if b != 4 {
		t.Fatalf("baseline score %d", b)
	}
	for _, c := range []struct {
		name string
		mod  func(j *discovery.EndpointJSON)
	}{
		{"no auth", func(j *discovery.EndpointJSON) { j.Auth.Types = map[string]uint64{"none": 100} }},
		{"basic auth", func(j *discovery.EndpointJSON) { j.Auth.Types = map[string]uint64{"basic": 100} }},
		{"api key in the query", func(j *discovery.EndpointJSON) { j.Auth.Types = map[string]uint64{"api_key_query": 100} }},
		{"personal data", func(j *discovery.EndpointJSON) {
			j.SensitiveData = []discovery.SensitiveJSON{{Type: "email", In: "response", Calls: 100}}
		}},
		{"card data", func(j *discovery.EndpointJSON) {
			j.SensitiveData = []discovery.SensitiveJSON{{Type: "card", In: "response", Calls: 3}}
		}},
		{"credentials in clear text", func(j *discovery.EndpointJSON) {
			j.SensitiveData = []discovery.SensitiveJSON{{Type: "credentials", In: "request", Calls: 100}}
		}},
		{"shadow", func(j *discovery.EndpointJSON) {
			j.Conformance = &discovery.ConformanceJSON{Status: "shadow", Calls: map[string]uint64{"shadow": 100}}
		}},
		{"zombie", func(j *discovery.EndpointJSON) {
			j.Conformance = &discovery.ConformanceJSON{Status: "zombie", Calls: map[string]uint64{"zombie": 100}}
		}},
		{"CORS", func(j *discovery.EndpointJSON) {
			j.Misconfig = map[string]uint64{"cors_any_origin_with_credentials": 100}
		}},
		{"stack traces", func(j *discovery.EndpointJSON) { j.Misconfig = map[string]uint64{"stack_trace": 2} }},
		{"attacked", func(j *discovery.EndpointJSON) { j.Attacks = map[string]uint64{"sqli": 5} }},
	} {
		j := base()
		c.mod(j)
		if s := Score(j, cfg).Score; s <= b {
			t.Errorf("%s: score %d, not above the baseline %d", c.name, s, b)
		}
	}
	// stronger evidence scores higher; no auth plus card data answered to
	// anyone is worse than either alone
	j := base()
	j.Attacks, j.Succeeded = map[string]uint64{"sqli": 5}, 5
	k := base()
	k.Attacks = map[string]uint64{"sqli": 5}
	if Score(j, cfg).Score <= Score(k, cfg).Score {
		t.Error("a successful attack does not weigh more than an attempt")
	}
	both := base()
	both.Auth.Types = map[string]uint64{"none": 100}
	both.SensitiveData = []discovery.SensitiveJSON{{Type: "card", In: "response", Calls: 100}}
	r := Score(both, cfg)
	if r.Score < 70 || r.Band != "high" && r.Band != "critical" || r.Factors[0].Factor != "auth_none" {
		t.Errorf("unauthenticated card data: %+v", r)
	}
	// weights come from the configuration
	cfg.Weights = map[string]int{"auth_none": 0}
	if s := Score(both, cfg).Score; s >= r.Score {
		t.Errorf("weight 0 for auth_none: %d", s)
	}
	if err := (&Config{Weights: map[string]int{"nope": 1}}).Validate(); err == nil {
		t.Error("unknown factor accepted")
	}
}

func TestMisconfig(t *testing.T) {
	for _, c := range []struct {
		name  string
		resp  []http1.Header
		body  string
		st    int
		want  uint8
		reqOr string
	}{
		{"cors with credentials", []http1.Header{{Name: "Access-Control-Allow-Origin", Value: "https://evil.example"}, {Name: "Access-Control-Allow-Credentials", Value: "true"}}, "", 200, mCORSCreds, "https://evil.example"},
		{"cors star", []http1.Header{{Name: "Access-Control-Allow-Origin", Value: "*"}}, "", 200, mCORSAny, ""},
		{"html without headers", []http1.Header{{Name: "Content-Type", Value: "text/html"}}, "<html></html>", 200, mMissingHeaders, ""},
		{"banner", []http1.Header{{Name: "Server", Value: "Apache/2.4.49 (Unix)"}}, "", 200, mBanner, ""},
		{"stack trace", []http1.Header{{Name: "Content-Type", Value: "text/plain"}}, "Traceback (most recent call last):\n  File", 500, mStackTrace, ""},
		{"clean", []http1.Header{{Name: "Content-Type", Value: "application/json"}, {Name: "Server", Value: "nginx"}}, "{}", 200, 0, ""},
	} {
		tx := &reassembly.Transaction{Exchange: http1.Exchange{
			Request:  &http1.Request{Method: "GET", Headers: []http1.Header{{Name: "Origin", Value: c.reqOr}}},
			Response: &http1.Response{Status: c.st, Headers: c.resp, Body: http1.Body{Data: []byte(c.body)}}}}
		(&worker{}).Analyze(tx, nil)
		if tx.Notes.Misconfig != c.want {
			t.Errorf("%s: bits %b, want %b", c.name, tx.Notes.Misconfig, c.want)
		}
	}
}
