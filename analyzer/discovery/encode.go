package discovery

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/vocab"
)

// EndpointJSON is an endpoint as events and `apitap catalog` write it
// (docs/schema/endpoint.schema.json). Field order is the output order.
type EndpointJSON struct {
	Schema string `json:"schema,omitempty"`
	Type   string `json:"type,omitempty"`
	Time   string `json:"time,omitempty"`
	Sensor string `json:"sensor,omitempty"`

	ID      string `json:"id"`
	Change  string `json:"change,omitempty"`
	Host    string `json:"host"`
	Version string `json:"version,omitempty"`
	Method  string `json:"method"`
	Path    string `json:"path"`
	Kind    string `json:"kind"`
	Calls   uint64 `json:"calls"`

	Params               []ParamJSON               `json:"params"`
	Headers              map[string]uint64         `json:"headers,omitempty"`
	RequestContentTypes  map[string]uint64         `json:"request_content_types,omitempty"`
	ResponseContentTypes map[string]uint64         `json:"response_content_types,omitempty"`
	RequestSchema        map[string]any            `json:"request_schema,omitempty"`
	ResponseSchemas      map[string]map[string]any `json:"response_schemas,omitempty"`
	StatusCodes          map[string]uint64         `json:"status_codes"`
	Auth                 AuthJSON                  `json:"auth"`
	SensitiveData        []SensitiveJSON           `json:"sensitive_data"`
	Consumers            ConsumersJSON             `json:"consumers"`
	Origins              *OriginsJSON              `json:"origins,omitempty"`
	FirstSeen            string                    `json:"first_seen"`
	LastSeen             string                    `json:"last_seen"`
	RatePerMinute        float64                   `json:"rate_per_minute"`
	LatencyMS            LatencyJSON               `json:"latency_ms"`
	Bytes                BytesJSON                 `json:"bytes"`
	Transport            TransportJSON             `json:"transport"`
	GRPC                 *GRPCJSON                 `json:"grpc,omitempty"`
	Completeness         CompletenessJSON          `json:"completeness"`
	Sampling             SamplingJSON              `json:"sampling"`
	Usage                []HourJSON                `json:"usage"`
	Conformance          *ConformanceJSON          `json:"conformance,omitempty"`
	// Attacks counts calls by attack class (attack analyzer), Succeeded
	// the calls where one seemed to work; Misconfig counts calls by
	// security misconfiguration seen in responses (risk analyzer).
	Attacks   map[string]uint64 `json:"attacks,omitempty"`
	Succeeded uint64            `json:"attacks_succeeded,omitempty"`
	Misconfig map[string]uint64 `json:"misconfig,omitempty"`
	// Abuse counts calls by actors the behaviour analyzer had detected,
	// by class, in the detection's window.
	Abuse map[string]uint64 `json:"abuse,omitempty"`
	// Probes counts the probes counted on the endpoint: requests aimed at
	// it, or at a path near it, that carried payload syntax in the path,
	// that the attack analyzer flagged without them calling an existing
	// endpoint, or that came from scanners and got only errors. They are
	// not calls and made no endpoint.
	Probes *ProbesJSON `json:"probes,omitempty"`
	// GraphQL lists the GraphQL operations seen on the endpoint
	// (graphql.go).
	GraphQL *GraphQLJSON `json:"graphql,omitempty"`
	// Risk is filled by the risk analyzer when it runs.
	Risk any `json:"risk,omitempty"`
}

// ProbesJSON counts probes by class (the attack analyzer's class, or the
// payload syntax found: sqli, xss, path_traversal, cmd_injection,
// log4shell, ssti, evasion, payload, scanner, method).
type ProbesJSON struct {
	Count    uint64            `json:"count"`
	Classes  map[string]uint64 `json:"classes"`
	LastSeen string            `json:"last_seen,omitempty"`
}

// ConformanceJSON is how the endpoint's calls matched the published specs
// (present when specs are given).
type ConformanceJSON struct {
	Status     string            `json:"status"` // the most frequent: documented, zombie, undocumented_method, shadow
	Calls      map[string]uint64 `json:"calls"`
	Violations map[string]uint64 `json:"violations"` // calls with an undocumented parameter, header, status, or a schema violation
}

// ParamJSON is a path or query parameter: name, type, how often; never
// values.
type ParamJSON struct {
	Name     string  `json:"name"`
	In       string  `json:"in"` // path or query
	Type     string  `json:"type"`
	Format   string  `json:"format,omitempty"`
	Count    uint64  `json:"count"`
	Presence float64 `json:"presence"` // share of calls carrying it
}

// AuthJSON counts the authentication seen on requests.
type AuthJSON struct {
	Types      map[string]uint64 `json:"types"`
	JWTAlgs    []string          `json:"jwt_algs,omitempty"`
	JWTIssuers []string          `json:"jwt_issuers,omitempty"`
	KeyNames   []string          `json:"key_names,omitempty"` // API key headers, query parameters, session cookies
}

// SensitiveJSON is one sensitive data type seen on the endpoint: where
// (request or response) and in how many calls.
type SensitiveJSON struct {
	Type  string `json:"type"`
	In    string `json:"in"`
	Calls uint64 `json:"calls"`
}

// ConsumersJSON estimates distinct clients (HyperLogLog, about 6% error).
type ConsumersJSON struct {
	IPs   uint64 `json:"ips"`
	Users uint64 `json:"users"`
}

// OriginsJSON says where calls come from (present with a GeoIP or ASN
// database configured): calls by client country and by network.
type OriginsJSON struct {
	Countries map[string]uint64 `json:"countries,omitempty"`
	Networks  map[string]uint64 `json:"networks,omitempty"`
}

// LatencyJSON holds response-time percentiles (upper bucket bounds).
type LatencyJSON struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// BytesJSON sums message sizes on the wire (heads and bodies).
type BytesJSON struct {
	Request  uint64 `json:"request"`
	Response uint64 `json:"response"`
}

// TransportJSON: apitap parses cleartext HTTP; TLS it can not see is
// not counted here.
type TransportJSON struct {
	Plaintext uint64 `json:"plaintext"`
	// HTTP2 counts the calls made over HTTP/2, GRPC those of them that
	// were gRPC calls.
	HTTP2 uint64 `json:"h2,omitempty"`
	GRPC  uint64 `json:"grpc,omitempty"`
}

// CompletenessJSON says how much of the endpoint's traffic was seen whole.
type CompletenessJSON struct {
	Whole      uint64  `json:"whole"`
	Gap        uint64  `json:"gap"`
	Truncated  uint64  `json:"truncated"`
	NoResponse uint64  `json:"no_response"`
	ParseError uint64  `json:"parse_error"`
	Ratio      float64 `json:"ratio"` // whole / calls
}

// SamplingJSON shows how much of an endpoint's traffic was looked at
// closely: response bodies are scanned for sensitive data on a
// deterministic sample (the sensitive analyzer's learn_responses and
// sample_every), and schemas are inferred from the first schema_samples
// bodies, then one call in schema_sample_every.
type SamplingJSON struct {
	ResponseBodies        uint64  `json:"response_bodies"`         // responses that had a body
	SensitiveScanned      uint64  `json:"sensitive_scanned"`       // ... of which the sensitive analyzer scanned
	SensitiveRatio        float64 `json:"sensitive_ratio"`         // sensitive_scanned / response_bodies (1 when none)
	RequestSchemaSamples  uint64  `json:"request_schema_samples"`  // request bodies the schema was inferred from
	ResponseSchemaSamples uint64  `json:"response_schema_samples"` // response bodies the schemas were inferred from
}

// HourJSON is the calls of one hour (UTC, capture time).
type HourJSON struct {
	Hour  string `json:"hour"`
	Calls uint64 `json:"calls"`
}

// JSON renders the endpoint (without the event envelope).
func (ep *Endpoint) JSON(now time.Time) *EndpointJSON { return ep.json(true) }

// Summary is JSON without the inferred schemas (RequestSchema and
// ResponseSchemas are nil, for the decorator too), for readers of the
// counts and findings only: rendering the schemas is most of the work.
func (ep *Endpoint) Summary(now time.Time) *EndpointJSON { return ep.json(false) }

func (ep *Endpoint) json(schemas bool) *EndpointJSON {
	if ep.fixed != nil {
		c := *ep.fixed
		if !schemas {
			c.RequestSchema, c.ResponseSchemas = nil, nil
		}
		return &c
	}
	j := &EndpointJSON{
		ID: ep.ID, Host: ep.Host, Version: ep.Version, Method: ep.Method, Path: ep.Path, Kind: ep.Kind,
		SensitiveData: []SensitiveJSON{}, Params: []ParamJSON{},
	}
	ep.with(func(st *epStats) { st.render(j, ep.PathParams, ep.names, schemas) })
	if ep.decorate != nil {
		ep.decorate(j)
	}
	return j
}

// render fills j from the statistics (names resolves interned ids), with
// the inferred schemas or without.
func (st *epStats) render(j *EndpointJSON, pathParams []PathParam, in *names, schemas bool) {
	t := st.t
	j.Calls = st.calls
	for _, table := range []struct {
		id   int
		name string
	}{{tSensReq, "request"}, {tSensResp, "response"}} {
		t.each(table.id, func(k uint32, n uint64) {
			j.SensitiveData = append(j.SensitiveData, SensitiveJSON{Type: sensitiveName(k), In: table.name, Calls: n})
		})
	}
	for _, p := range pathParams {
		j.Params = append(j.Params, ParamJSON{Name: p.Name, In: "path", Type: p.Type, Format: p.Format, Count: st.calls, Presence: 1})
	}
	for i := range st.query {
		p := &st.query[i]
		typ, format := p.typ()
		j.Params = append(j.Params, ParamJSON{Name: p.name, In: "query", Type: typ, Format: format, Count: p.count, Presence: ratio(p.count, st.calls)})
	}
	named := func(table int) map[string]uint64 {
		var m map[string]uint64
		t.each(table, func(k uint32, n uint64) {
			if m == nil {
				m = map[string]uint64{}
			}
			m[in.name(k)] += n
		})
		return m
	}
	j.Headers = named(tHeader)
	j.RequestContentTypes = named(tReqCT)
	j.ResponseContentTypes = named(tRespCT)
	if schemas && st.reqSchema != nil && st.reqSchema.root.types != 0 {
		j.RequestSchema = st.reqSchema.root.JSONSchema()
	}
	for _, ss := range st.respSchema {
		if schemas && ss.t.root.types != 0 {
			if j.ResponseSchemas == nil {
				j.ResponseSchemas = map[string]map[string]any{}
			}
			j.ResponseSchemas[statusKey(ss.status)] = ss.t.root.JSONSchema()
		}
	}
	j.StatusCodes = map[string]uint64{}
	t.each(tStatus, func(k uint32, n uint64) { j.StatusCodes[statusKey(int(k))] = n })
	j.Auth.Types = map[string]uint64{}
	t.each(tAuth, func(k uint32, n uint64) {
		if int(k) < len(authNames) {
			j.Auth.Types[authNames[k]] = n
		}
	})
	sortedNames := func(table int) []string {
		var out []string
		t.each(table, func(k uint32, _ uint64) { out = append(out, in.name(k)) })
		sort.Strings(out)
		return out
	}
	j.Auth.JWTAlgs, j.Auth.JWTIssuers, j.Auth.KeyNames = sortedNames(tJWTAlg), sortedNames(tJWTIss), sortedNames(tKeyName)
	j.Consumers = ConsumersJSON{IPs: st.ips.count(), Users: st.users.count()}
	if countries, networks := named(tCountry), named(tNetwork); len(countries)+len(networks) > 0 {
		j.Origins = &OriginsJSON{Countries: countries, Networks: networks}
	}
	j.FirstSeen = time.Unix(0, st.first).UTC().Format(time.RFC3339Nano)
	j.LastSeen = time.Unix(0, st.last).UTC().Format(time.RFC3339Nano)
	if span := time.Duration(st.last - st.first); span >= time.Second {
		j.RatePerMinute = roundTo(float64(st.calls)/span.Minutes(), 3)
	}
	j.LatencyMS = LatencyJSON{P50: latQuantile(t, 0.5), P95: latQuantile(t, 0.95), P99: latQuantile(t, 0.99)}
	j.Bytes = BytesJSON{Request: st.reqBytes, Response: st.respBytes}
	j.Transport = TransportJSON{Plaintext: st.calls}
	st.renderGRPC(j, in)
	c := CompletenessJSON{Gap: t.get(tComp, compGap), Truncated: t.get(tComp, compTruncated), NoResponse: t.get(tComp, compNoResponse), ParseError: t.get(tComp, compParseError)}
	if other := c.Gap + c.Truncated + c.NoResponse + c.ParseError; other <= st.calls {
		c.Whole = st.calls - other
	}
	c.Ratio = roundTo(ratio(c.Whole, st.calls), 4)
	j.Completeness = c
	sm := SamplingJSON{ResponseBodies: t.get(tMisc, miscRespBodies), SensitiveScanned: t.get(tMisc, miscRespScanned),
		RequestSchemaSamples: uint64(st.reqSampled), ResponseSchemaSamples: uint64(st.respSampled), SensitiveRatio: 1}
	if sm.ResponseBodies > 0 {
		sm.SensitiveRatio = roundTo(ratio(sm.SensitiveScanned, sm.ResponseBodies), 4)
	}
	j.Sampling = sm
	if t.tableLen(tConf) > 0 {
		conf := &ConformanceJSON{Calls: map[string]uint64{}, Violations: map[string]uint64{}}
		var best uint64
		t.each(tConf, func(k uint32, n uint64) {
			if int(k) < len(confNames) {
				conf.Calls[confNames[k]] = n
				if n > best {
					conf.Status, best = confNames[k], n
				}
			}
		})
		t.each(tViolation, func(k uint32, n uint64) {
			if int(k) < len(vocab.Violations) {
				conf.Violations[vocab.Violations[k]] = n
			}
		})
		j.Conformance = conf
	}
	bitNames := func(table int, names []string) map[string]uint64 {
		var m map[string]uint64
		t.each(table, func(k uint32, n uint64) {
			if int(k) < len(names) {
				if m == nil {
					m = map[string]uint64{}
				}
				m[names[k]] = n
			}
		})
		return m
	}
	j.Attacks = bitNames(tAttack, vocab.AttackClasses)
	j.Succeeded = t.get(tMisc, miscSucceeded)
	j.Abuse = bitNames(tAbuse, vocab.AbuseClasses)
	j.Misconfig = bitNames(tMisconfig, vocab.Misconfigs)
	if t.tableLen(tProbe) > 0 {
		p := &ProbesJSON{Classes: map[string]uint64{}}
		t.each(tProbe, func(k uint32, n uint64) {
			p.Count += n
			p.Classes[probeKeyName(k)] += n
		})
		if st.probeLast != 0 {
			p.LastSeen = time.Unix(0, st.probeLast).UTC().Format(time.RFC3339Nano)
		}
		j.Probes = p
	}
	if st.gql != nil {
		j.GraphQL = st.gql.render()
	}
	j.Usage = make([]HourJSON, 0, t.tableLen(tHour))
	t.each(tHour, func(k uint32, n uint64) {
		j.Usage = append(j.Usage, HourJSON{Hour: hourTime(k).Format(time.RFC3339), Calls: n})
	})
}

func statusKey(code int) string {
	switch code {
	case 0:
		return "none"
	}
	return strconv.Itoa(code)
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return roundTo(float64(a)/float64(b), 4)
}

// typ is the JSON Schema type (and format) of a query parameter.
func (p *paramStat) typ() (string, string) {
	values := p.count - p.empty
	switch {
	case values == 0:
		return "string", ""
	case p.bools == values:
		return "boolean", ""
	case p.kinds == 1<<KindInt && p.nums == 0:
		return "integer", ""
	case p.kinds&^(1<<KindInt) == 0 && p.nums > 0:
		return "number", ""
	case p.bools == 0 && p.nums == 0:
		switch p.kinds {
		case 1 << KindUUID:
			return "string", "uuid"
		case 1 << KindDate:
			return "string", "date"
		case 1 << KindEmail:
			return "string", "email"
		}
	}
	return "string", ""
}

// signature fingerprints what makes an endpoint change meaningfully: its
// parameters, status codes, authentication, content types and schemas
// (not its counters).
func (j *EndpointJSON) signature() uint64 {
	var b bytes.Buffer
	b.WriteString(j.Kind)
	for _, p := range j.Params {
		b.WriteString("|" + p.In + ":" + p.Name + ":" + p.Type + ":" + p.Format)
	}
	for _, k := range slices.Sorted(maps.Keys(j.StatusCodes)) {
		b.WriteString("|s" + k)
	}
	for _, k := range slices.Sorted(maps.Keys(j.Auth.Types)) {
		b.WriteString("|a" + k)
	}
	for _, k := range slices.Sorted(maps.Keys(j.RequestContentTypes)) {
		b.WriteString("|q" + k)
	}
	for _, k := range slices.Sorted(maps.Keys(j.ResponseContentTypes)) {
		b.WriteString("|r" + k)
	}
	for _, sd := range j.SensitiveData {
		b.WriteString("|d" + sd.In + ":" + sd.Type)
	}
	if c := j.Conformance; c != nil {
		b.WriteString("|c" + c.Status)
		for _, k := range slices.Sorted(maps.Keys(c.Violations)) {
			b.WriteString("|v" + k)
		}
	}
	if g := j.GraphQL; g != nil {
		for _, o := range g.Operations {
			b.WriteString("|g" + o.Type + ":" + o.Name + ":" + strings.Join(o.RootFields, ",") + ":" + strings.Join(o.Sensitive, ","))
		}
	}
	enc := json.NewEncoder(&b)
	enc.Encode(j.RequestSchema)
	enc.Encode(j.ResponseSchemas)
	return hash64(b.String())
}

// encode writes j as an endpoint event (one line, no newline).
func (c *Catalog) encode(j *EndpointJSON, t time.Time) []byte {
	j.Schema, j.Type, j.Sensor = event.SchemaVersion, "endpoint", c.sensor
	j.Time = t.UTC().Format(time.RFC3339Nano)
	return marshal(j)
}

// marshal is json.Marshal without HTML escaping and without the newline.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// every value here is made of strings, numbers, maps and slices
		panic("discovery: encode: " + err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// CatalogJSON is the document `apitap catalog --format json` writes.
type CatalogJSON struct {
	Schema       string          `json:"schema"`
	Type         string          `json:"type"`
	Time         string          `json:"time"`
	Sensor       string          `json:"sensor"`
	Hosts        []HostJSON      `json:"hosts"`
	Endpoints    []*EndpointJSON `json:"endpoints"`
	HostsDropped uint64          `json:"hosts_dropped"`
	HostsEvicted uint64          `json:"hosts_evicted"`
	HostProbes   uint64          `json:"host_probes"`
	Unattributed uint64          `json:"unattributed_responses"`
	Budget       int             `json:"endpoint_budget"`
	Evicted      uint64          `json:"evicted_endpoints"`
	EvictedCalls uint64          `json:"evicted_calls"`
}

// HostJSON is a host's line of the catalog.
type HostJSON struct {
	Host         string            `json:"host"`
	Version      string            `json:"version,omitempty"`
	Calls        uint64            `json:"calls"`
	Endpoints    int               `json:"endpoints"`
	Static       uint64            `json:"static"`
	Noise        uint64            `json:"noise"`
	Folded       uint64            `json:"folded"`
	Dropped      uint64            `json:"dropped"`
	Evicted      uint64            `json:"evicted"`
	EvictedCalls uint64            `json:"evicted_calls"`
	Probes       uint64            `json:"probes"`
	ProbeClasses map[string]uint64 `json:"probe_classes,omitempty"`
}

// JSON renders the whole view (indented JSON): `apitap catalog --format
// json`.
func (v *View) JSON(sensor string) []byte {
	var b bytes.Buffer
	v.WriteJSON(&b, sensor)
	return b.Bytes()
}

// WriteJSON writes the whole view as indented JSON, one endpoint at a time
// (a big catalog is never held as one document in memory).
func (v *View) WriteJSON(w io.Writer, sensor string) error {
	doc := CatalogJSON{Schema: event.SchemaVersion, Type: "catalog", Time: v.Time.UTC().Format(time.RFC3339Nano), Sensor: sensor,
		Hosts: []HostJSON{}, Endpoints: []*EndpointJSON{}, HostsDropped: v.HostsDropped, HostsEvicted: v.HostsEvicted, HostProbes: v.HostProbes,
		Unattributed: v.Unattributed, Budget: v.Budget, Evicted: v.Evicted, EvictedCalls: v.EvictedCalls}
	for _, h := range v.Hosts {
		doc.Hosts = append(doc.Hosts, HostJSON{Host: h.Host, Version: h.Version, Calls: h.Calls, Endpoints: h.Endpoints, Static: h.Static, Noise: h.Noise,
			Folded: h.Folded, Dropped: h.Dropped, Evicted: h.Evicted, EvictedCalls: h.EvictedCalls, Probes: h.Probes, ProbeClasses: h.ProbeClasses})
	}
	var head bytes.Buffer
	enc := json.NewEncoder(&head)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encode catalog: %w", err)
	}
	const mark = `"endpoints": []`
	before, after, _ := bytes.Cut(head.Bytes(), []byte(mark))
	bw := bufio.NewWriter(w)
	bw.Write(before)
	if len(v.Endpoints) == 0 {
		bw.WriteString(mark)
	} else {
		bw.WriteString(`"endpoints": [`)
		var one bytes.Buffer
		for i, ep := range v.Endpoints {
			one.Reset()
			e := json.NewEncoder(&one)
			e.SetEscapeHTML(false)
			e.SetIndent("    ", "  ")
			if err := e.Encode(ep.JSON(v.Time)); err != nil {
				return fmt.Errorf("encode endpoint: %w", err)
			}
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString("\n    ")
			bw.Write(bytes.TrimSuffix(one.Bytes(), []byte("\n")))
		}
		bw.WriteString("\n  ]")
	}
	bw.Write(after)
	return bw.Flush()
}
