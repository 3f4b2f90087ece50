package report

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apitap/apitap/analyzer/behavior"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/risk"
	"github.com/apitap/apitap/sensor"
)

// Input is what a report is made of.
type Input struct {
	Title   string
	Sensor  string
	Sources []string // capture files, or the interfaces of a live sensor
	Live    bool
	// Transactions and Until are the HTTP exchanges seen and the capture
	// time of the last packet.
	Transactions uint64
	Until        time.Time
	Catalog      *discovery.View
	Detections   *sensor.DetectionLog
	Actors       []behavior.Actor
	Specs        bool // conformance against published specs was checked
	// MaxEndpoints caps the endpoints of the catalog tree on one page
	// (DefaultMaxEndpoints when 0), and Page picks the page: the most
	// important endpoints (riskiest, then busiest) come first. Lists of
	// endpoints (shadow, conformance, sensitive data) keep their first
	// maxList rows. The figures count everything.
	MaxEndpoints int
	Page         int
}

// DefaultMaxEndpoints is the catalog tree's size on one page: a report of
// a catalog of any size stays a few megabytes.
const DefaultMaxEndpoints = 1500

// maxList caps the other lists of endpoints.
const maxList = 500

// page is the template's model.
type page struct {
	Title, Sensor, Sources string
	Live                   bool
	From, To, Generated    string
	Figures                []figure
	Hosts                  []*hostTree
	Risky                  []endpointRow
	ShadowZombie           []endpointRow
	Chart                  chart
	Classes                []classRow
	Recent                 []detectionRow
	Actors                 []actorRow
	Sensitive              []sensitiveRow
	Specs                  bool
	Conformance            []endpointRow
	Severities             []string
	// the catalog tree's page: endpoints shown, of all; pages
	Shown, Total, Page, Pages int
	// rows of the lists left out by maxList
	MoreShadow, MoreConformance, MoreSensitive int

	ranked []endpointRow // every endpoint, the most important first
	per    int           // endpoints per page
}

// setPage puts one page of the catalog tree in p.
func (p *page) setPage(n int) {
	p.Total, p.Pages = len(p.ranked), max(1, (len(p.ranked)+p.per-1)/p.per)
	p.Page = min(max(n, 0), p.Pages-1)
	rows := p.ranked[min(p.Page*p.per, len(p.ranked)):min((p.Page+1)*p.per, len(p.ranked))]
	p.Shown = len(rows)
	p.Hosts = tree(rows)
}

type figure struct {
	Label, Value, Note, Tone string
}

type endpointRow struct {
	Host, Method, Path, Kind string
	Calls                    uint64
	Score                    int
	Band                     string
	Factors                  string
	Auth                     []string
	Sensitive                []string
	Conformance              string
	Violations               string
	GRPC                     string // "gRPC" and the streaming kind, for gRPC methods
	Probes                   uint64 // probes counted here (payloads, scanners: not calls)
	// GraphQL lists the endpoint's GraphQL operations ("query GetMe: 7
	// calls"), each its own line under the endpoint
	GraphQL []string
}

type hostTree struct {
	Host      string
	Calls     uint64
	Endpoints int
	Worst     string // band
	Root      *node
}

type node struct {
	Name      string
	Depth     int
	Endpoints []endpointRow
	Children  []*node
}

type classRow struct {
	Class string
	N     [5]uint64
	Total uint64
}

type detectionRow struct {
	Time, Class, Severity, Endpoint, Actor, Evidence, Succeeded string
	Count                                                       int
}

type actorRow struct {
	Name, Stage, Linked, Detections string
	Score                           float64
	Requests                        uint64
	Band                            string
}

type sensitiveRow struct {
	Endpoint string
	Request  []string
	Response []string
	Band     string
}

type chart struct {
	Width, Height int
	Bars          []bar
	Labels        []label
	Max           uint64
	Empty         bool
}

type bar struct {
	X, Y, W, H int
	Class      string
	Title      string
}

type label struct {
	X, Y int
	Text string
}

var bandOrder = map[string]int{"low": 0, "medium": 1, "high": 2, "critical": 3}

func endpointOf(j *discovery.EndpointJSON) endpointRow {
	r := endpointRow{Host: j.Host, Method: j.Method, Path: j.Path, Kind: j.Kind, Calls: j.Calls, Band: "low"}
	if j.Probes != nil {
		r.Probes = j.Probes.Count
	}
	if res, ok := j.Risk.(*risk.Result); ok {
		r.Score, r.Band = res.Score, res.Band
		var fs []string
		for i, f := range res.Factors {
			if i == 3 {
				break
			}
			fs = append(fs, fmt.Sprintf("%s %.0f", f.Factor, f.Points))
		}
		r.Factors = strings.Join(fs, ", ")
	}
	for _, a := range slices.Sorted(maps.Keys(j.Auth.Types)) {
		r.Auth = append(r.Auth, a)
	}
	seen := map[string]bool{}
	for _, s := range j.SensitiveData {
		if !seen[s.Type] {
			seen[s.Type] = true
			r.Sensitive = append(r.Sensitive, s.Type)
		}
	}
	sort.Strings(r.Sensitive)
	if g := j.GRPC; g != nil {
		r.GRPC = "gRPC " + strings.ReplaceAll(g.Kind, "_", " ")
	}
	if g := j.GraphQL; g != nil {
		for _, o := range g.Operations {
			name := o.Name
			if name == "" {
				name = "{" + strings.Join(o.RootFields, ",") + "}"
			}
			line := fmt.Sprintf("%s %s: %d calls", o.Type, name, o.Calls)
			if o.Errors > 0 {
				line += fmt.Sprintf(", %d with errors", o.Errors)
			}
			if len(o.Sensitive) > 0 {
				line += "; returns " + strings.Join(o.Sensitive, ", ")
			}
			r.GraphQL = append(r.GraphQL, line)
		}
	}
	if c := j.Conformance; c != nil {
		r.Conformance = c.Status
		var vs []string
		for _, k := range slices.Sorted(maps.Keys(c.Violations)) {
			vs = append(vs, fmt.Sprintf("%s %d", k, c.Violations[k]))
		}
		r.Violations = strings.Join(vs, ", ")
	}
	return r
}

// build turns the input into the page model.
func build(in *Input) *page {
	p := &page{Title: in.Title, Sensor: in.Sensor, Sources: strings.Join(in.Sources, ", "), Live: in.Live, Specs: in.Specs, Severities: event.Severities}
	if p.Title == "" {
		p.Title = "apitap report"
	}
	var rows []endpointRow
	var sens []sensitiveRow // built here: an endpoint's JSON is not kept
	var from, to time.Time
	if in.Catalog != nil {
		for _, ep := range in.Catalog.Endpoints {
			j := ep.JSON(in.Catalog.Time)
			r := endpointOf(j)
			rows = append(rows, r)
			if len(r.Sensitive) > 0 {
				sens = append(sens, sensitiveOf(j, r))
			}
			if t, err := time.Parse(time.RFC3339Nano, j.FirstSeen); err == nil && (from.IsZero() || t.Before(from)) {
				from = t
			}
			if t, err := time.Parse(time.RFC3339Nano, j.LastSeen); err == nil && t.After(to) {
				to = t
			}
		}
	}
	if !in.Until.IsZero() {
		to = in.Until
	}
	if !from.IsZero() {
		p.From = from.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	if !to.IsZero() {
		p.To = to.UTC().Format("2006-01-02 15:04:05 UTC")
		p.Generated = p.To
	}
	// figures
	bands := map[string]int{}
	shadow, zombie := 0, 0
	hosts := map[string]bool{}
	for _, r := range rows {
		bands[r.Band]++
		hosts[r.Host] = true
		switch r.Conformance {
		case "shadow", "undocumented_method":
			shadow++
		case "zombie":
			zombie++
		}
	}
	tx := in.Transactions
	var dets uint64
	var bySev [5]uint64
	if in.Detections != nil {
		dets = in.Detections.Total()
		for _, c := range in.Detections.Classes() {
			for i, n := range c.N {
				bySev[i] += n
			}
		}
	}
	scored := 0
	for _, a := range in.Actors {
		if a.Score >= 10 {
			scored++
		}
	}
	p.Figures = []figure{
		{"Hosts", fmt.Sprint(len(hosts)), "services seen", ""},
		{"Endpoints", fmt.Sprint(len(rows)), fmt.Sprintf("%d high, %d critical", bands["high"], bands["critical"]), toneOf(bands["high"]+bands["critical"] > 0, "high")},
		{"Transactions", fmt.Sprint(tx), "HTTP exchanges", ""},
		{"Detections", fmt.Sprint(dets), fmt.Sprintf("%d critical, %d high, %d medium", bySev[4], bySev[3], bySev[2]), toneOf(bySev[3]+bySev[4] > 0, "high")},
		{"Threat actors", fmt.Sprint(scored), "with a score of 10 or more", toneOf(scored > 0, "medium")},
	}
	if in.Specs {
		p.Figures = append(p.Figures, figure{"Shadow / zombie", fmt.Sprintf("%d / %d", shadow, zombie), "endpoints off the published specs", toneOf(shadow+zombie > 0, "medium")})
	}
	// the most important first: riskiest, then busiest
	ranked := append([]endpointRow(nil), rows...)
	sort.SliceStable(ranked, func(i, j int) bool {
		a, b := ranked[i], ranked[j]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		return a.Calls > b.Calls
	})
	p.ranked = ranked
	p.per = in.MaxEndpoints
	if p.per <= 0 {
		p.per = DefaultMaxEndpoints
	}
	p.setPage(in.Page)
	// riskiest endpoints
	p.Risky = ranked[:min(10, len(ranked))]
	for _, r := range ranked {
		if r.Conformance == "shadow" || r.Conformance == "zombie" || r.Conformance == "undocumented_method" {
			if len(p.ShadowZombie) < maxList {
				p.ShadowZombie = append(p.ShadowZombie, r)
			} else {
				p.MoreShadow++
			}
		}
		if r.Conformance != "" && (r.Violations != "" || r.Conformance != "documented") {
			if len(p.Conformance) < maxList {
				p.Conformance = append(p.Conformance, r)
			} else {
				p.MoreConformance++
			}
		}
	}
	sort.SliceStable(sens, func(i, j int) bool { return bandOrder[sens[i].Band] > bandOrder[sens[j].Band] })
	if len(sens) > maxList {
		p.MoreSensitive = len(sens) - maxList
		sens = sens[:maxList]
	}
	p.Sensitive = sens
	// detections
	if in.Detections != nil {
		p.Chart = timeline(in.Detections.Timeline())
		for _, c := range in.Detections.Classes() {
			p.Classes = append(p.Classes, classRow{c.Class, c.N, c.Total})
		}
		// a repeated detection is re-emitted with its growing count: show
		// the latest of each (most severe first, then latest first)
		seen := map[string]bool{}
		for _, d := range in.Detections.Recent(sensor.MaxRecent) {
			r := detectionOf(&d)
			key := r.Class + "|" + r.Endpoint + "|" + r.Actor + "|" + r.Severity
			if len(d.Evidence) > 0 {
				key += "|" + d.Evidence[0].Location + "|" + d.Evidence[0].Name
			}
			if seen[key] {
				continue
			}
			seen[key] = true
			p.Recent = append(p.Recent, r)
			if len(p.Recent) == 100 {
				break
			}
		}
	} else {
		p.Chart = chart{Empty: true}
	}
	for _, a := range in.Actors {
		p.Actors = append(p.Actors, actorOf(a))
	}
	return p
}

func toneOf(bad bool, tone string) string {
	if bad {
		return tone
	}
	return ""
}

func sensitiveOf(j *discovery.EndpointJSON, r endpointRow) sensitiveRow {
	s := sensitiveRow{Endpoint: r.Method + " " + r.Host + r.Path, Band: r.Band}
	for _, sd := range j.SensitiveData {
		item := fmt.Sprintf("%s (%d)", sd.Type, sd.Calls)
		if sd.In == "request" {
			s.Request = append(s.Request, item)
		} else {
			s.Response = append(s.Response, item)
		}
	}
	return s
}

func detectionOf(d *event.Detection) detectionRow {
	r := detectionRow{Time: d.LastSeen.UTC().Format("2006-01-02 15:04:05"), Class: d.Class, Severity: d.Severity, Count: d.Count, Succeeded: d.Succeeded}
	if d.Endpoint.Path != "" {
		r.Endpoint = d.Endpoint.Method + " " + d.Endpoint.Host + d.Endpoint.Path
	}
	var ids []string
	for _, f := range [...]struct{ k, v string }{{"user", d.Actor.User}, {"ip", d.Actor.IP}, {"api_key", d.Actor.APIKey}, {"session", d.Actor.Session}, {"fp", d.Actor.Fingerprint}} {
		if f.v != "" {
			ids = append(ids, f.k+" "+f.v)
		}
		if len(ids) == 2 {
			break
		}
	}
	r.Actor = strings.Join(ids, ", ")
	var ev []string
	for i, e := range d.Evidence {
		if i == 2 {
			break
		}
		s := e.Location
		if e.Name != "" {
			s += " " + e.Name
		}
		if e.Value != "" {
			s += ": " + e.Value
		}
		ev = append(ev, s)
	}
	r.Evidence = strings.Join(ev, "; ")
	if len(r.Evidence) > 200 {
		r.Evidence = r.Evidence[:200] + "…"
	}
	return r
}

func actorOf(a behavior.Actor) actorRow {
	r := actorRow{Name: a.Name(), Stage: a.Stage, Score: a.Score, Requests: a.Requests}
	switch {
	case a.Score >= 50:
		r.Band = "critical"
	case a.Score >= 25:
		r.Band = "high"
	case a.Score >= 10:
		r.Band = "medium"
	default:
		r.Band = "low"
	}
	var linked []string
	for _, l := range [...]struct {
		typ  string
		vals []string
	}{{"user", a.Users}, {"ip", a.IPs}, {"fingerprint", a.Prints}, {"session", a.Sessions}} {
		if l.typ == a.Kind {
			continue
		}
		for _, v := range l.vals {
			linked = append(linked, l.typ+" "+v)
		}
	}
	r.Linked = strings.Join(linked, ", ")
	var ds []string
	for _, c := range slices.Sorted(maps.Keys(a.Detections)) {
		ds = append(ds, fmt.Sprintf("%s %d", c, a.Detections[c]))
	}
	r.Detections = strings.Join(ds, ", ")
	return r
}

// tree groups the endpoints by host, then by path segment.
func tree(rows []endpointRow) []*hostTree {
	byHost := map[string]*hostTree{}
	var out []*hostTree
	for _, r := range rows {
		h := byHost[r.Host]
		if h == nil {
			h = &hostTree{Host: r.Host, Root: &node{Name: r.Host}, Worst: "low"}
			byHost[r.Host] = h
			out = append(out, h)
		}
		h.Calls += r.Calls
		h.Endpoints++
		if bandOrder[r.Band] > bandOrder[h.Worst] {
			h.Worst = r.Band
		}
		n := h.Root
		segs := strings.Split(strings.Trim(r.Path, "/"), "/")
		for i, seg := range segs {
			if seg == "" {
				continue
			}
			var c *node
			for _, x := range n.Children {
				if x.Name == seg {
					c = x
				}
			}
			if c == nil {
				c = &node{Name: seg, Depth: i + 1}
				n.Children = append(n.Children, c)
			}
			n = c
		}
		n.Endpoints = append(n.Endpoints, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	for _, h := range out {
		sortNode(h.Root)
	}
	return out
}

func sortNode(n *node) {
	sort.Slice(n.Children, func(i, j int) bool { return n.Children[i].Name < n.Children[j].Name })
	sort.SliceStable(n.Endpoints, func(i, j int) bool { return n.Endpoints[i].Method < n.Endpoints[j].Method })
	for _, c := range n.Children {
		sortNode(c)
	}
}

// timeline draws detections over time as stacked bars by severity, at
// most 60 bars.
func timeline(mins []sensor.Minute) chart {
	c := chart{Width: 900, Height: 220}
	if len(mins) == 0 {
		c.Empty = true
		return c
	}
	start, end := mins[0].Start, mins[len(mins)-1].Start.Add(time.Minute)
	span := end.Sub(start)
	step := time.Minute
	for span/step > 60 {
		switch step {
		case time.Minute:
			step = 5 * time.Minute
		case 5 * time.Minute:
			step = 15 * time.Minute
		case 15 * time.Minute:
			step = time.Hour
		case time.Hour:
			step = 6 * time.Hour
		default:
			step *= 4
		}
	}
	start = start.Truncate(step)
	n := int(end.Sub(start)/step) + 1
	buckets := make([][5]uint64, n)
	for _, m := range mins {
		i := int(m.Start.Sub(start) / step)
		for s := range m.N {
			buckets[i][s] += m.N[s]
		}
	}
	for _, b := range buckets {
		var t uint64
		for _, v := range b {
			t += v
		}
		c.Max = max(c.Max, t)
	}
	left, top, plotH := 40, 10, c.Height-40
	bw := max((c.Width-left-10)/n, 2)
	for i, b := range buckets {
		y := top + plotH
		for s := len(b) - 1; s >= 0; s-- {
			if b[s] == 0 {
				continue
			}
			h := max(int(float64(b[s])/float64(c.Max)*float64(plotH)), 1)
			y -= h
			t := start.Add(time.Duration(i) * step)
			c.Bars = append(c.Bars, bar{X: left + i*bw, Y: y, W: max(bw-2, 1), H: h, Class: "sev-" + event.Severities[s],
				Title: fmt.Sprintf("%s: %d %s", t.UTC().Format("15:04"), b[s], event.Severities[s])})
		}
	}
	labels := min(n, 6)
	for k := 0; k < labels; k++ {
		i := k * (n - 1) / max(labels-1, 1)
		t := start.Add(time.Duration(i) * step)
		format := "15:04"
		if span > 24*time.Hour {
			format = "01-02 15:04"
		}
		c.Labels = append(c.Labels, label{X: left + i*bw, Y: c.Height - 12, Text: t.UTC().Format(format)})
	}
	c.Labels = append(c.Labels, label{X: 2, Y: top + 10, Text: fmt.Sprint(c.Max)}, label{X: 2, Y: top + plotH, Text: "0"})
	return c
}
