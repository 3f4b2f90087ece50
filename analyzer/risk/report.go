package risk

import (
	"strconv"
	"strings"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
)

// reportEvery is how often, in capture time, scores are checked for band
// changes while the sensor runs (and once at the end).
const reportEvery = time.Minute

var bandRank = map[string]int{"low": 0, "medium": 1, "high": 2, "critical": 3}

// factorClass is the detection class a dominant factor stands for
// ("" where another analyzer already reports it).
func factorClass(f string) string {
	switch {
	case strings.HasPrefix(f, "auth_"):
		return "weak_auth"
	case strings.HasPrefix(f, "sensitive_response"), f == "unauthenticated_sensitive":
		return "sensitive_data"
	case f == "sensitive_in_request_url":
		return "pii_in_url"
	case f == "plaintext_credentials":
		return "plaintext_credentials"
	case f == "shadow":
		return "shadow_endpoint"
	case f == "zombie":
		return "zombie_endpoint"
	case f == "cors_any_origin_with_credentials", f == "cors_any_origin", f == "missing_security_headers", f == "version_banner", f == "stack_trace":
		return "info_leak"
	}
	return ""
}

// Report emits a detection when an endpoint's score rises into the high or
// critical band (implements analyzer.Reporter): its class is the one its
// dominant factor stands for (weak_auth for authentication), its evidence
// the factors.
func (s *state) Report(now time.Time, final bool, out analyzer.EventSink) {
	if !final && now.Sub(s.lastReport) < reportEvery {
		return
	}
	s.lastReport = now
	cat, ok := s.lookup(discovery.Name).(*discovery.Catalog)
	if !ok || cat == nil {
		return
	}
	if s.bands == nil {
		s.bands = map[string]int{}
	}
	v := cat.View()
	for _, ep := range v.Endpoints {
		j := ep.Summary(v.Time) // the score reads no schema
		r, ok := j.Risk.(*Result)
		if !ok || len(r.Factors) == 0 {
			continue
		}
		rank := bandRank[r.Band]
		if rank < bandRank["high"] || rank <= s.bands[j.ID] {
			continue
		}
		s.bands[j.ID] = rank
		class := ""
		for _, f := range r.Factors { // busiest first
			if class = factorClass(f.Factor); class != "" {
				break
			}
		}
		if class == "" {
			continue
		}
		ev := make([]event.Evidence, 0, 3)
		for i, f := range r.Factors {
			if i == 3 {
				break
			}
			ev = append(ev, event.Evidence{Location: "path", Name: f.Factor, Value: strconv.FormatFloat(f.Points, 'f', -1, 64) + " points", Rule: "risk_score"})
		}
		h := uint64(14695981039346656037)
		for _, c := range j.ID + r.Band {
			h ^= uint64(c)
			h *= 1099511628211
		}
		out.Detection(&event.Detection{ID: "rk-" + strconv.FormatUint(h, 16), Class: class, Severity: r.Band, Confidence: 0.8,
			Endpoint: event.Endpoint{Host: j.Host, Method: j.Method, Path: j.Path}, Evidence: ev,
			FirstSeen: parseTime(j.FirstSeen), LastSeen: v.Time, Count: int(j.Calls), Action: "log"})
	}
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}
