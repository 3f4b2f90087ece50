package risk

import (
	"math"
	"sort"
	"strconv"

	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/reassembly/http1"
)

type http1Header = http1.Header

// Factor is one reason for an endpoint's risk.
type Factor struct {
	Factor string  `json:"factor"`
	Points float64 `json:"points"`
	Share  float64 `json:"share,omitempty"` // share of calls showing it, when partial
}

// Result is the `risk` field of a catalog entry.
type Result struct {
	Score   int      `json:"score"` // 0-100
	Band    string   `json:"band"`  // low, medium, high, critical
	Factors []Factor `json:"factors"`
}

// Summary is the score and band, for tables: "73 high".
func (r *Result) Summary() string { return strconv.Itoa(r.Score) + " " + r.Band }

// Bands cut the score into severities.
func band(score int) string {
	switch {
	case score >= 75:
		return "critical"
	case score >= 50:
		return "high"
	case score >= 25:
		return "medium"
	}
	return "low"
}

var critical = map[string]bool{"card": true, "ssn": true, "iban": true, "secret": true}
var personal = map[string]bool{"card": true, "ssn": true, "iban": true, "email": true, "phone": true, "dob": true, "imei": true, "secret": true}

// Score computes an endpoint's risk from its catalog entry: each factor
// adds its weight times the share of calls that show it (at least a tenth:
// one exposure is enough to matter); the total is capped at 100.
func Score(j *discovery.EndpointJSON, cfg *Config) *Result {
	r := &Result{Factors: []Factor{}}
	calls := float64(max(j.Calls, 1))
	add := func(name string, n uint64) {
		if n == 0 {
			return
		}
		share := math.Min(1, float64(n)/calls)
		w := float64(cfg.weight(name))
		pts := w * math.Max(share, 0.1)
		f := Factor{Factor: name, Points: math.Round(pts*10) / 10}
		if share < 1 {
			f.Share = math.Round(share*1000) / 1000
		}
		r.Factors = append(r.Factors, f)
	}
	// authentication: the weakest scheme seen decides
	auth := j.Auth.Types
	unauth := auth["none"]
	switch {
	case auth["none"] > 0:
		add("auth_none", auth["none"])
	case auth["basic"] > 0:
		add("auth_basic", auth["basic"])
	case auth["api_key_query"] > 0:
		add("auth_api_key_query", auth["api_key_query"])
	case auth["api_key_header"] > 0:
		add("auth_api_key", auth["api_key_header"])
	case auth["session_cookie"] > 0:
		add("auth_session", auth["session_cookie"])
	case auth["bearer"]+auth["bearer_jwt"]+auth["other"] > 0:
		add("auth_bearer", auth["bearer"]+auth["bearer_jwt"]+auth["other"])
	}
	// sensitive data
	var respCrit, respPers, reqURL, creds uint64
	for _, sd := range j.SensitiveData {
		switch {
		case sd.In == "response" && critical[sd.Type]:
			respCrit = max(respCrit, sd.Calls)
		case sd.In == "response" && personal[sd.Type]:
			respPers = max(respPers, sd.Calls)
		case sd.In == "request" && (sd.Type == "credentials" || sd.Type == "password"):
			creds = max(creds, sd.Calls)
		}
	}
	if respCrit > 0 {
		add("sensitive_response_critical", respCrit)
	} else if respPers > 0 {
		add("sensitive_response", respPers)
	}
	if (respCrit > 0 || respPers > 0) && unauth > 0 {
		add("unauthenticated_sensitive", min(unauth, max(respCrit, respPers)))
	}
	for _, p := range j.Params {
		if p.In == "query" && (p.Format == "email") {
			reqURL = max(reqURL, p.Count)
		}
	}
	add("sensitive_in_request_url", reqURL)
	add("plaintext_credentials", creds)
	// conformance
	if c := j.Conformance; c != nil {
		add("shadow", c.Calls["shadow"]+c.Calls["undocumented_method"])
		add("zombie", c.Calls["zombie"])
		var v uint64
		for _, n := range c.Violations {
			v = max(v, n)
		}
		add("conformance_violations", v)
	}
	// misconfiguration
	names := make([]string, 0, len(j.Misconfig))
	for k := range j.Misconfig {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if k == "cors_any_origin" && j.Misconfig["cors_any_origin_with_credentials"] > 0 {
			continue
		}
		add(k, j.Misconfig[k])
	}
	// attacks
	var attacked uint64
	for _, n := range j.Attacks {
		attacked = max(attacked, n)
	}
	add("attacked", attacked)
	add("attack_succeeded", j.Succeeded)
	var abused uint64
	for _, n := range j.Abuse {
		abused = max(abused, n)
	}
	add("abused", abused)
	total := 0.0
	for _, f := range r.Factors {
		total += f.Points
	}
	sort.SliceStable(r.Factors, func(a, b int) bool { return r.Factors[a].Points > r.Factors[b].Points })
	r.Score = int(math.Min(100, math.Round(total)))
	r.Band = band(r.Score)
	return r
}
