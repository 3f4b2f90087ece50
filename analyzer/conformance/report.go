package conformance

import (
	"sort"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
)

// Report reports shadow endpoints and undocumented methods once per
// endpoint template (from the discovery catalog when it runs), reloads
// changed spec files on live sources, and at the end prepares the diff.
func (s *State) Report(now time.Time, final bool, out analyzer.EventSink) {
	if !final {
		if wall := time.Now(); !wall.Before(s.check) {
			s.check = wall.Add(s.cfg.ReloadCheck)
			s.reloadIfChanged()
		}
		s.every.D = s.cfg.ReportInterval
		if !s.every.Due(now) {
			return
		}
	}
	s.reportItems(now, final, out)
	eps, infra := s.unmatched()
	for _, e := range eps {
		id := e.Status + " " + e.Host + " " + e.Method + " " + e.Path
		s.mu.Lock()
		done := s.reported[id]
		s.reported[id] = true
		s.mu.Unlock()
		if done {
			continue
		}
		class, sev := "shadow_endpoint", "medium"
		if e.Status == UndocumentedMethod {
			class = "undocumented_method"
		}
		d := event.Detection{Class: class, Severity: sev, Confidence: 0.9, Endpoint: event.Endpoint{Host: e.Host, Method: e.Method, Path: e.Path},
			Evidence:  []event.Evidence{{Location: "path", Name: e.Path, Rule: "not_in_spec"}},
			FirstSeen: e.First, LastSeen: e.Last, Count: int(min(e.Calls, 1<<31)), Action: "log"}
		d.ID = "cf-" + hashString(id)
		out.Detection(&d)
	}
	if final {
		s.mu.Lock()
		s.diff = s.buildDiff(eps, infra)
		s.mu.Unlock()
	}
}

func (s *State) reloadIfChanged() {
	for _, sp := range s.router.Load().Specs {
		if sp.changed() {
			if err := s.Reload(); err != nil {
				s.log.Error().Err(err).Msg("conformance: reload")
			}
			return
		}
	}
}

// Unmatched is an endpoint template without a documented operation.
type Unmatched struct {
	Status      string    `json:"status"` // shadow, undocumented_method or infrastructure
	Host        string    `json:"host"`
	Method      string    `json:"method"`
	Path        string    `json:"path"`
	Calls       uint64    `json:"calls"`
	First       time.Time `json:"first_seen"`
	Last        time.Time `json:"last_seen"`
	Conformance string    `json:"-"`
}

// unmatched lists shadow endpoints and undocumented methods, and apart
// from them the infrastructure endpoints (health checks, readiness,
// metrics) the specs do not document: from the catalog (its templates
// fold slugs and ids, and probes never make endpoints) or from the online
// templates.
func (s *State) unmatched() (out, infra []Unmatched) {
	if cat, ok := s.lookup(discovery.Name).(*discovery.Catalog); ok && cat != nil {
		for _, ep := range cat.View().Endpoints {
			st, calls, first, last := ep.ConformanceStatus()
			if st != Shadow && st != UndocumentedMethod {
				continue
			}
			u := Unmatched{Status: st, Host: ep.Host, Method: ep.Method, Path: ep.Path, Calls: calls, First: first, Last: last}
			if ep.Kind != "api" {
				u.Status = Infrastructure
				infra = append(infra, u)
				continue
			}
			out = append(out, u)
		}
		return out, infra
	}
	s.mu.Lock()
	for k, a := range s.shadows {
		u := Unmatched{Status: k.status, Host: k.host, Method: k.method, Path: k.path, Calls: a.count, First: a.first, Last: a.last}
		if discovery.IsInfrastructure(k.path) {
			u.Status = Infrastructure
			infra = append(infra, u)
			continue
		}
		out = append(out, u)
	}
	s.mu.Unlock()
	for _, l := range [][]Unmatched{out, infra} {
		sort.Slice(l, func(i, j int) bool {
			if l[i].Host != l[j].Host {
				return l[i].Host < l[j].Host
			}
			if l[i].Path != l[j].Path {
				return l[i].Path < l[j].Path
			}
			return l[i].Method < l[j].Method
		})
	}
	return out, infra
}

func hashString(s string) string {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	const hex = "0123456789abcdef"
	b := make([]byte, 16)
	for i := 15; i >= 0; i-- {
		b[i] = hex[h&15]
		h >>= 4
	}
	return string(b)
}

// SpecInfo describes a loaded spec in the diff.
type SpecInfo struct {
	File       string    `json:"file"`
	Title      string    `json:"title"`
	Version    string    `json:"version"`
	Bindings   []Binding `json:"bindings"`
	Operations int       `json:"operations"`
}

// Diff is what `apitap diff` reports.
type Diff struct {
	Specs               []SpecInfo  `json:"specs"`
	SkippedSpecs        []string    `json:"skipped_specs"`
	Shadow              []Unmatched `json:"shadow_endpoints"`
	UndocumentedMethods []Unmatched `json:"undocumented_methods"`
	Zombies             []*Item     `json:"zombie_endpoints"`
	Parameters          []*Item     `json:"undocumented_parameters"`
	Fields              []*Item     `json:"undocumented_fields"`
	Headers             []*Item     `json:"undocumented_headers"`
	Statuses            []*Item     `json:"undocumented_statuses"`
	SchemaViolations    []*Item     `json:"schema_violations"`
	NeverSeen           []string    `json:"documented_never_seen"`
	// Infrastructure lists health checks, readiness and metrics endpoints
	// the specs do not document: labelled, not differences.
	Infrastructure []Unmatched `json:"infrastructure_endpoints"`
	// Dropped counts findings not kept (analyzers.conformance.max_tracked).
	Dropped uint64 `json:"dropped_findings"`
}

// Differences counts the findings (everything but never-seen operations
// and infrastructure endpoints).
func (d *Diff) Differences() int {
	return len(d.Shadow) + len(d.UndocumentedMethods) + len(d.Zombies) + len(d.Parameters) + len(d.Fields) + len(d.Headers) + len(d.Statuses) + len(d.SchemaViolations)
}

// Diff returns the report prepared by the final Report (nil before).
func (s *State) Diff() *Diff {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.diff
}

func (s *State) buildDiff(eps, infra []Unmatched) *Diff {
	d := &Diff{Shadow: []Unmatched{}, UndocumentedMethods: []Unmatched{}, SkippedSpecs: []string{}, Infrastructure: append([]Unmatched{}, infra...), Dropped: s.dropped}
	r := s.router.Load()
	for _, sp := range r.Specs {
		d.Specs = append(d.Specs, SpecInfo{File: sp.File, Title: sp.Title, Version: sp.Version, Bindings: sp.Bindings, Operations: len(sp.Ops)})
	}
	for _, err := range s.loadErrs {
		d.SkippedSpecs = append(d.SkippedSpecs, err.Error())
	}
	for _, e := range eps {
		if e.Status == Shadow {
			d.Shadow = append(d.Shadow, e)
		} else {
			d.UndocumentedMethods = append(d.UndocumentedMethods, e)
		}
	}
	items := make([]*Item, 0, len(s.items))
	for _, it := range s.items {
		items = append(items, it)
	}
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i], items[j]
		for _, p := range [...][2]string{{a.Op, b.Op}, {a.Class, b.Class}, {a.Host, b.Host}, {a.Location, b.Location}, {a.Name, b.Name}, {a.Reason, b.Reason}} {
			if p[0] != p[1] {
				return p[0] < p[1]
			}
		}
		return false
	})
	d.Zombies, d.Parameters, d.Fields, d.Headers, d.Statuses, d.SchemaViolations = []*Item{}, []*Item{}, []*Item{}, []*Item{}, []*Item{}, []*Item{}
	for _, it := range items {
		switch it.Class {
		case "zombie_endpoint":
			d.Zombies = append(d.Zombies, it)
		case "undocumented_parameter":
			if it.Location == "body" || it.Location == "response_body" {
				d.Fields = append(d.Fields, it)
				continue
			}
			d.Parameters = append(d.Parameters, it)
		case "undocumented_header":
			d.Headers = append(d.Headers, it)
		case "undocumented_status":
			d.Statuses = append(d.Statuses, it)
		case "schema_violation":
			d.SchemaViolations = append(d.SchemaViolations, it)
		}
	}
	d.NeverSeen = []string{}
	for _, sp := range r.Specs {
		for _, op := range sp.Ops {
			if op.Calls.Load() == 0 {
				d.NeverSeen = append(d.NeverSeen, specName(sp)+": "+op.ID())
			}
		}
	}
	return d
}
