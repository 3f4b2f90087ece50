package discovery

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"strconv"
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
	// Risk is filled by the risk analyzer when it runs.
	Risk any `json:"risk,omitempty"`
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

// HourJSON is the calls of one hour (UTC, capture time).
type HourJSON struct {
	Hour  string `json:"hour"`
	Calls uint64 `json:"calls"`
}

// JSON renders the endpoint (without the event envelope).
func (ep *Endpoint) JSON(now time.Time) *EndpointJSON {
	st := ep.st
	j := &EndpointJSON{
		ID: ep.ID, Host: ep.Host, Version: ep.Version, Method: ep.Method, Path: ep.Path, Kind: ep.Kind,
		Calls: st.calls, SensitiveData: []SensitiveJSON{}, Params: []ParamJSON{},
	}
	for _, in := range []struct {
		name string
		m    map[string]uint64
	}{{"request", st.sensReq}, {"response", st.sensResp}} {
		for _, t := range event.SensitiveTypes {
			if n := in.m[t]; n > 0 {
				j.SensitiveData = append(j.SensitiveData, SensitiveJSON{Type: t, In: in.name, Calls: n})
			}
		}
	}
	for _, p := range ep.PathParams {
		j.Params = append(j.Params, ParamJSON{Name: p.Name, In: "path", Type: p.Type, Format: p.Format, Count: st.calls, Presence: 1})
	}
	for _, k := range slices.Sorted(maps.Keys(st.query)) {
		p := st.query[k]
		typ, format := p.typ()
		j.Params = append(j.Params, ParamJSON{Name: k, In: "query", Type: typ, Format: format, Count: p.count, Presence: ratio(p.count, st.calls)})
	}
	j.Headers = st.headers
	j.RequestContentTypes = st.reqCT
	j.ResponseContentTypes = st.respCT
	if st.reqSchema != nil && st.reqSchema.root.types != 0 {
		j.RequestSchema = st.reqSchema.root.JSONSchema()
	}
	for _, code := range slices.Sorted(maps.Keys(st.respSchema)) {
		if s := st.respSchema[code]; s.root.types != 0 {
			if j.ResponseSchemas == nil {
				j.ResponseSchemas = map[string]map[string]any{}
			}
			j.ResponseSchemas[statusKey(code)] = s.root.JSONSchema()
		}
	}
	j.StatusCodes = map[string]uint64{}
	for code, n := range st.status {
		j.StatusCodes[statusKey(code)] = n
	}
	j.Auth.Types = map[string]uint64{}
	for i, n := range st.auth {
		if n > 0 {
			j.Auth.Types[authNames[i]] = n
		}
	}
	j.Auth.JWTAlgs, j.Auth.JWTIssuers, j.Auth.KeyNames = slices.Sorted(maps.Keys(st.jwtAlgs)), slices.Sorted(maps.Keys(st.jwtIss)), slices.Sorted(maps.Keys(st.keyNames))
	j.Consumers = ConsumersJSON{IPs: st.ips.count(), Users: st.users.count()}
	if len(st.countries)+len(st.networks) > 0 {
		j.Origins = &OriginsJSON{Countries: st.countries, Networks: st.networks}
	}
	j.FirstSeen = st.first.UTC().Format(time.RFC3339Nano)
	j.LastSeen = st.last.UTC().Format(time.RFC3339Nano)
	if span := st.last.Sub(st.first); span >= time.Second {
		j.RatePerMinute = roundTo(float64(st.calls)/span.Minutes(), 3)
	}
	j.LatencyMS = LatencyJSON{P50: st.lat.quantile(0.5), P95: st.lat.quantile(0.95), P99: st.lat.quantile(0.99)}
	j.Bytes = BytesJSON{Request: st.reqBytes, Response: st.respBytes}
	j.Transport = TransportJSON{Plaintext: st.calls, HTTP2: st.h2, GRPC: st.grpcCalls}
	j.GRPC = st.grpc.json()
	c := st.comp
	j.Completeness = CompletenessJSON{Whole: c.whole, Gap: c.gap, Truncated: c.truncated, NoResponse: c.noResponse, ParseError: c.parseError, Ratio: roundTo(ratio(c.whole, st.calls), 4)}
	if len(st.conf) > 0 {
		status, _, _, _ := ep.ConformanceStatus()
		j.Conformance = &ConformanceJSON{Status: status, Calls: st.conf, Violations: map[string]uint64{}}
		for i, name := range vocab.Violations {
			if n := st.violations[i]; n > 0 {
				j.Conformance.Violations[name] = n
			}
		}
	}
	for i, n := range st.attacks {
		if n > 0 && i < len(vocab.AttackClasses) {
			if j.Attacks == nil {
				j.Attacks = map[string]uint64{}
			}
			j.Attacks[vocab.AttackClasses[i]] = n
		}
	}
	j.Succeeded = st.succeeded
	for i, n := range st.abuse {
		if n > 0 && i < len(vocab.AbuseClasses) {
			if j.Abuse == nil {
				j.Abuse = map[string]uint64{}
			}
			j.Abuse[vocab.AbuseClasses[i]] = n
		}
	}
	for i, n := range st.misconfig {
		if n > 0 && i < len(vocab.Misconfigs) {
			if j.Misconfig == nil {
				j.Misconfig = map[string]uint64{}
			}
			j.Misconfig[vocab.Misconfigs[i]] = n
		}
	}
	hours := make([]int64, 0, len(st.hours))
	for h := range st.hours {
		hours = append(hours, h)
	}
	sort.Slice(hours, func(a, b int) bool { return hours[a] < hours[b] })
	j.Usage = make([]HourJSON, 0, len(hours))
	for _, h := range hours {
		j.Usage = append(j.Usage, HourJSON{Hour: time.Unix(h*3600, 0).UTC().Format(time.RFC3339), Calls: st.hours[h]})
	}
	if ep.decorate != nil {
		ep.decorate(j)
	}
	return j
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
	Unattributed uint64          `json:"unattributed_responses"`
}

// HostJSON is a host's line of the catalog.
type HostJSON struct {
	Host      string `json:"host"`
	Version   string `json:"version,omitempty"`
	Calls     uint64 `json:"calls"`
	Endpoints int    `json:"endpoints"`
	Static    uint64 `json:"static"`
	Noise     uint64 `json:"noise"`
	Folded    uint64 `json:"folded"`
	Dropped   uint64 `json:"dropped"`
}

// CatalogJSON renders the whole view (indented JSON).
func (v *View) JSON(sensor string) []byte {
	doc := CatalogJSON{Schema: event.SchemaVersion, Type: "catalog", Time: v.Time.UTC().Format(time.RFC3339Nano), Sensor: sensor,
		Hosts: []HostJSON{}, Endpoints: []*EndpointJSON{}, HostsDropped: v.HostsDropped, Unattributed: v.Unattributed}
	for _, h := range v.Hosts {
		doc.Hosts = append(doc.Hosts, HostJSON{Host: h.Host, Version: h.Version, Calls: h.Calls, Endpoints: h.Endpoints, Static: h.Static, Noise: h.Noise, Folded: h.Folded, Dropped: h.Dropped})
	}
	for _, ep := range v.Endpoints {
		doc.Endpoints = append(doc.Endpoints, ep.JSON(v.Time))
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		panic("discovery: encode catalog: " + err.Error())
	}
	return b.Bytes()
}
