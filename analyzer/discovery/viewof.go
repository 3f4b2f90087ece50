package discovery

import (
	"sort"
	"time"
)

// ViewOf is a view of catalog entries made elsewhere: the endpoint events
// of several sensors merged into one entry per endpoint (apitap
// correlate's catalog), or a catalog document read back. Its endpoints
// render what the entries say (Endpoint.JSON returns a copy of the
// entry); the host summaries count endpoints and calls, and what only a
// live catalog knows (static assets, noise, folded segments, evictions)
// is zero. Endpoints are sorted by host, version, path and method; now is
// the view's time (the latest last_seen when zero).
func ViewOf(eps []*EndpointJSON, now time.Time) *View {
	v := &View{Time: now}
	sorted := append([]*EndpointJSON(nil), eps...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Method < b.Method
	})
	idx := map[[2]string]int{}
	for _, j := range sorted {
		if j == nil {
			continue
		}
		ep := &Endpoint{ID: j.ID, Host: j.Host, Version: j.Version, Method: j.Method, Path: j.Path, Kind: j.Kind, fixed: j}
		if ep.ID == "" {
			ep.ID = endpointID(j.Host, j.Version, j.Method, j.Path)
		}
		for _, p := range j.Params {
			if p.In == "path" {
				ep.PathParams = append(ep.PathParams, PathParam{Name: p.Name, Type: p.Type, Format: p.Format})
			}
		}
		v.Endpoints = append(v.Endpoints, ep)
		k := [2]string{j.Host, j.Version}
		i, ok := idx[k]
		if !ok {
			i = len(v.Hosts)
			idx[k] = i
			v.Hosts = append(v.Hosts, HostSummary{Host: j.Host, Version: j.Version})
		}
		v.Hosts[i].Calls += j.Calls
		v.Hosts[i].Endpoints++
		if now.IsZero() {
			if t, err := time.Parse(time.RFC3339Nano, j.LastSeen); err == nil && t.After(v.Time) {
				v.Time = t
			}
		}
	}
	return v
}

// fixedStatus is ConformanceStatus of an entry of ViewOf.
func fixedStatus(j *EndpointJSON) (status string, calls uint64, first, last time.Time) {
	if j.Conformance != nil {
		status = j.Conformance.Status
	}
	first, _ = time.Parse(time.RFC3339Nano, j.FirstSeen)
	last, _ = time.Parse(time.RFC3339Nano, j.LastSeen)
	return status, j.Calls, first.UTC(), last.UTC()
}
