package correlate

import (
	"maps"
	"slices"
	"time"

	"github.com/apitap/apitap/analyzer/discovery"
)

// MergeEndpoints merges one endpoint as several sensors saw it (each saw
// a share of its calls). Counts add up; first_seen is the earliest and
// last_seen the latest; parameters, sensitive types, auth kinds and
// content types are the union with their counts added. What is not a
// count is an upper bound or one sensor's: consumers add up (an address
// seen by two sensors counts twice), latency quantiles are the highest
// of the sensors', inferred schemas, conformance and risk are those of
// the sensor with the most calls.
func MergeEndpoints(eps []*discovery.EndpointJSON) *discovery.EndpointJSON {
	if len(eps) == 1 {
		return strip(eps[0])
	}
	top := eps[0]
	for _, e := range eps[1:] {
		if e.Calls > top.Calls {
			top = e
		}
	}
	m := *strip(top)
	m.Calls = 0
	m.Params, m.SensitiveData, m.Usage = []discovery.ParamJSON{}, []discovery.SensitiveJSON{}, nil
	m.Headers, m.RequestContentTypes, m.ResponseContentTypes = nil, nil, nil
	m.StatusCodes = map[string]uint64{}
	m.Auth = discovery.AuthJSON{Types: map[string]uint64{}}
	m.Consumers, m.Bytes, m.Transport, m.Completeness, m.LatencyMS = discovery.ConsumersJSON{}, discovery.BytesJSON{}, discovery.TransportJSON{}, discovery.CompletenessJSON{}, discovery.LatencyJSON{}
	m.Attacks, m.Misconfig, m.Abuse, m.Succeeded = nil, nil, nil, 0
	m.Sampling = discovery.SamplingJSON{}
	params := map[[2]string]*discovery.ParamJSON{}
	sens := map[[2]string]uint64{}
	hours := map[string]uint64{}
	var first, last time.Time
	for _, e := range eps {
		m.Calls += e.Calls
		for _, p := range e.Params {
			k := [2]string{p.Name, p.In}
			if q := params[k]; q != nil {
				q.Count += p.Count
			} else {
				c := p
				params[k] = &c
			}
		}
		for _, s := range e.SensitiveData {
			sens[[2]string{s.Type, s.In}] += s.Calls
		}
		for _, h := range e.Usage {
			hours[h.Hour] += h.Calls
		}
		m.Headers = addCounts(m.Headers, e.Headers)
		m.RequestContentTypes = addCounts(m.RequestContentTypes, e.RequestContentTypes)
		m.ResponseContentTypes = addCounts(m.ResponseContentTypes, e.ResponseContentTypes)
		m.StatusCodes = addCounts(m.StatusCodes, e.StatusCodes)
		m.Auth.Types = addCounts(m.Auth.Types, e.Auth.Types)
		m.Auth.JWTAlgs = union(m.Auth.JWTAlgs, e.Auth.JWTAlgs)
		m.Auth.JWTIssuers = union(m.Auth.JWTIssuers, e.Auth.JWTIssuers)
		m.Auth.KeyNames = union(m.Auth.KeyNames, e.Auth.KeyNames)
		m.Attacks = addCounts(m.Attacks, e.Attacks)
		m.Misconfig = addCounts(m.Misconfig, e.Misconfig)
		m.Abuse = addCounts(m.Abuse, e.Abuse)
		m.Succeeded += e.Succeeded
		m.Consumers.IPs += e.Consumers.IPs
		m.Consumers.Users += e.Consumers.Users
		m.Bytes.Request += e.Bytes.Request
		m.Bytes.Response += e.Bytes.Response
		m.Transport.Plaintext += e.Transport.Plaintext
		c := &m.Completeness
		c.Whole, c.Gap, c.Truncated, c.NoResponse, c.ParseError = c.Whole+e.Completeness.Whole, c.Gap+e.Completeness.Gap, c.Truncated+e.Completeness.Truncated,
			c.NoResponse+e.Completeness.NoResponse, c.ParseError+e.Completeness.ParseError
		sm := &m.Sampling
		sm.ResponseBodies += e.Sampling.ResponseBodies
		sm.SensitiveScanned += e.Sampling.SensitiveScanned
		sm.RequestSchemaSamples += e.Sampling.RequestSchemaSamples
		sm.ResponseSchemaSamples += e.Sampling.ResponseSchemaSamples
		m.LatencyMS.P50 = max(m.LatencyMS.P50, e.LatencyMS.P50)
		m.LatencyMS.P95 = max(m.LatencyMS.P95, e.LatencyMS.P95)
		m.LatencyMS.P99 = max(m.LatencyMS.P99, e.LatencyMS.P99)
		if t, err := time.Parse(time.RFC3339Nano, e.FirstSeen); err == nil && (first.IsZero() || t.Before(first)) {
			first, m.FirstSeen = t, e.FirstSeen
		}
		if t, err := time.Parse(time.RFC3339Nano, e.LastSeen); err == nil && t.After(last) {
			last, m.LastSeen = t, e.LastSeen
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(params), func(a, b [2]string) int {
		if a[1] != b[1] {
			return cmpStr(a[1], b[1]) // path before query, as the catalog lists them
		}
		return cmpStr(a[0], b[0])
	}) {
		p := params[k]
		if p.In == "path" {
			p.Count, p.Presence = m.Calls, 1
		} else if m.Calls > 0 {
			p.Presence = float64(p.Count) / float64(m.Calls)
		}
		m.Params = append(m.Params, *p)
	}
	for _, k := range slices.SortedFunc(maps.Keys(sens), func(a, b [2]string) int {
		if a[1] != b[1] {
			return cmpStr(a[1], b[1])
		}
		return cmpStr(a[0], b[0])
	}) {
		m.SensitiveData = append(m.SensitiveData, discovery.SensitiveJSON{Type: k[0], In: k[1], Calls: sens[k]})
	}
	for _, h := range slices.Sorted(maps.Keys(hours)) {
		m.Usage = append(m.Usage, discovery.HourJSON{Hour: h, Calls: hours[h]})
	}
	if m.Calls > 0 {
		m.Completeness.Ratio = float64(m.Completeness.Whole) / float64(m.Calls)
	}
	m.Sampling.SensitiveRatio = 1
	if b := m.Sampling.ResponseBodies; b > 0 {
		m.Sampling.SensitiveRatio = float64(m.Sampling.SensitiveScanned) / float64(b)
	}
	if d := last.Sub(first); d > 0 {
		m.RatePerMinute = float64(m.Calls) / d.Minutes()
	}
	return &m
}

// strip is a copy of e without the envelope (as the catalog lists it).
func strip(e *discovery.EndpointJSON) *discovery.EndpointJSON {
	c := *e
	c.Schema, c.Type, c.Time, c.Sensor, c.Change = "", "", "", "", ""
	return &c
}

func addCounts(dst, src map[string]uint64) map[string]uint64 {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = map[string]uint64{}
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}

func union(a, b []string) []string {
	for _, s := range b {
		if !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	slices.Sort(a)
	return a
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
