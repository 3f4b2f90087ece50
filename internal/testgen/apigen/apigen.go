// Package apigen generates deterministic HTTP traffic from OpenAPI specs,
// as reassembly.Transactions, for the accuracy tests and benchmarks of the
// analyzers (discovery templating now; conformance later).
//
// Parameter values follow the parameter's schema, or the x-gen extension
// of the parameter: int, uuid, hex, slug, word, username, date, email,
// token:PREFIX, and the identifiers of well-known public APIs (values.go:
// logins and their repositories, branches, tags, refs, SHAs, file names,
// SIDs, large ids, domain names, opaque keys, short ids, country codes,
// slug pools, closed vocabularies, fingerprints, order numbers). Each value
// kind draws from a pool whose size is realistic (tens of thousands of
// numeric ids, hundreds of slugs, tens of tags), most with a Zipf
// popularity, so the cardinality statistics discovery relies on look like
// production. Response and request bodies are JSON made from the schemas.
// Paths carry the base path of the spec's first server.
//
// A Mix (mix.go) adds injection probes (payloads in place of a path
// parameter, appended to the path, or in the query) and scanner requests
// at given rates; NextLabelled says what each transaction is.
//
// Concurrency: a Generator is not safe for concurrent use.
package apigen

import (
	"encoding/base64"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// Operation is one (method, path template) of a spec.
type Operation struct {
	// Method and Path: Path is the template as it appears on the wire, the
	// base path of the spec's first server included (/2.0/files/{file_id}).
	Method, Path string
	// SpecPath is the template as the spec's paths list it.
	SpecPath string
	op       *openapi3.Operation
	params   openapi3.Parameters
	weight   int
}

// Generator makes transactions for one spec and host.
type Generator struct {
	Host string
	Ops  []Operation
	doc  *openapi3.T
	rng  *rand.Rand
	t    time.Time
	n    int
	sec  string // security scheme used by default
	// realistic value kinds (values.go): Zipf pools and the values drawn
	// earlier in the same request
	zipfs map[int]*rand.Zipf
	ctx   struct{ login int }
	// the attack and scanner mix (mix.go)
	mix Mix
}

// Load reads a spec file with kin-openapi.
func Load(path string) (*openapi3.T, error) {
	l := openapi3.NewLoader()
	doc, err := l.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load spec %s: %w", path, err)
	}
	return doc, nil
}

// New returns a generator for doc's operations on host; seed makes it
// deterministic. Operation weights come from x-weight (default: random
// 1..10 from the seed), so some operations are rare as in real traffic.
func New(doc *openapi3.T, host string, seed uint64) *Generator {
	g := &Generator{Host: host, doc: doc, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	base := ""
	if len(doc.Servers) > 0 && doc.Servers[0] != nil {
		if u, err := url.Parse(doc.Servers[0].URL); err == nil {
			base = strings.TrimRight(u.Path, "/")
		}
	}
	paths := doc.Paths.Map()
	keys := slices.Sorted(maps.Keys(paths))
	for _, p := range keys {
		item := paths[p]
		ops := item.Operations()
		methods := slices.Sorted(maps.Keys(ops))
		for _, m := range methods {
			op := ops[m]
			w := 1 + g.rng.IntN(10)
			if x, ok := op.Extensions["x-weight"]; ok {
				if f, ok := x.(float64); ok {
					w = int(f)
				}
			}
			params := append(openapi3.Parameters{}, item.Parameters...)
			params = append(params, op.Parameters...)
			g.Ops = append(g.Ops, Operation{Method: strings.ToUpper(m), Path: base + p, SpecPath: p, op: op, params: params, weight: w})
		}
	}
	if doc.Components != nil {
		names := make([]string, 0, len(doc.Components.SecuritySchemes))
		for k := range doc.Components.SecuritySchemes {
			names = append(names, k)
		}
		sort.Strings(names)
		if len(names) > 0 {
			g.sec = names[0]
		}
	}
	return g
}

// Next returns the next transaction (a weighted random operation) and the
// operation it came from.
func (g *Generator) Next() (*reassembly.Transaction, *Operation) {
	total := 0
	for i := range g.Ops {
		total += g.Ops[i].weight
	}
	r := g.rng.IntN(total)
	var op *Operation
	for i := range g.Ops {
		if r < g.Ops[i].weight {
			op = &g.Ops[i]
			break
		}
		r -= g.Ops[i].weight
	}
	return g.Make(op), op
}

// Make builds one transaction of op with fresh parameter values.
func (g *Generator) Make(op *Operation) *reassembly.Transaction { return g.make(op, nil) }

// make builds a transaction of op; pathValue, if set, may replace the value
// of a path parameter (the probes of mix.go).
func (g *Generator) make(op *Operation, pathValue func(name, value string) string) *reassembly.Transaction {
	g.n++
	g.t = g.t.Add(time.Duration(50+g.rng.IntN(400)) * time.Millisecond)
	path := op.Path
	var query []string
	var headers []http1.Header
	for _, pr := range op.params {
		p := pr.Value
		if p == nil {
			continue
		}
		switch p.In {
		case "path":
			v := g.value(p)
			if pathValue != nil {
				v = pathValue(p.Name, v)
			}
			path = strings.Replace(path, "{"+p.Name+"}", v, 1)
		case "query":
			if p.Required || g.rng.IntN(3) > 0 {
				query = append(query, p.Name+"="+g.value(p))
			}
		case "header":
			headers = append(headers, http1.Header{Name: p.Name, Value: g.value(p)})
		}
	}
	req := &http1.Request{Method: op.Method, Path: path, Query: strings.Join(query, "&"), Host: g.Host, Proto: "HTTP/1.1"}
	req.Target = path
	if req.Query != "" {
		req.Target += "?" + req.Query
	}
	req.Headers = append(req.Headers, http1.Header{Name: "Host", Value: g.Host}, http1.Header{Name: "User-Agent", Value: "apigen/1"}, http1.Header{Name: "Accept", Value: "application/json"})
	req.Headers = append(req.Headers, headers...)
	if h, ok := g.auth(op); ok {
		req.Headers = append(req.Headers, h)
	}
	if rb := op.op.RequestBody; rb != nil && rb.Value != nil {
		if mt := rb.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
			req.Body.Data = []byte(g.json(mt.Schema.Value, 0))
			req.Body.WireBytes = int64(len(req.Body.Bytes()))
			req.Headers = append(req.Headers, http1.Header{Name: "Content-Type", Value: "application/json"})
		}
	}
	req.HeadSize = len(req.Method) + len(req.Target) + 40
	req.Start = g.t
	req.End = g.t.Add(200 * time.Microsecond)

	resp := &http1.Response{Proto: "HTTP/1.1"}
	codes := op.op.Responses.Map()
	var ok []string
	for c := range codes {
		ok = append(ok, c)
	}
	sort.Strings(ok)
	status := 200
	var schema *openapi3.Schema
	// mostly the first success; sometimes another documented status
	pick := ok[0]
	if len(ok) > 1 && g.rng.IntN(10) == 0 {
		pick = ok[1+g.rng.IntN(len(ok)-1)]
	}
	if n, err := strconv.Atoi(pick); err == nil {
		status = n
	}
	if rr := codes[pick]; rr != nil && rr.Value != nil {
		if mt := rr.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
			schema = mt.Schema.Value
		}
	}
	resp.Status = status
	resp.Reason = "OK"
	if schema != nil {
		resp.Body.Data = []byte(g.json(schema, 0))
		resp.Body.WireBytes = int64(len(resp.Body.Bytes()))
		resp.Headers = append(resp.Headers, http1.Header{Name: "Content-Type", Value: "application/json"})
	}
	resp.HeadSize = 80
	resp.Start = req.End.Add(time.Duration(1+g.rng.IntN(20)) * time.Millisecond)
	resp.End = resp.Start.Add(100 * time.Microsecond)
	client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(g.rng.IntN(4)), byte(1 + g.rng.IntN(200))}), uint16(30000+g.n%30000))
	return &reassembly.Transaction{
		Flow:     reassembly.Flow{ID: strconv.Itoa(g.n), Client: client, Server: netip.MustParseAddrPort("10.0.0.1:80")},
		Exchange: http1.Exchange{Request: req, Response: resp},
	}
}

func (g *Generator) auth(op *Operation) (http1.Header, bool) {
	name := g.sec
	if op.op.Security != nil {
		name = ""
		for _, req := range *op.op.Security {
			for k := range req {
				name = k
			}
		}
	}
	if name == "" || g.doc.Components == nil {
		return http1.Header{}, false
	}
	ss := g.doc.Components.SecuritySchemes[name]
	if ss == nil || ss.Value == nil {
		return http1.Header{}, false
	}
	s := ss.Value
	user := g.rng.IntN(500)
	switch {
	case s.Type == "http" && s.Scheme == "bearer":
		head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
		body := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"iss":"https://id.example","sub":"user-%d"}`, user)))
		return http1.Header{Name: "Authorization", Value: "Bearer " + head + "." + body + ".c2ln"}, true
	case s.Type == "http" && s.Scheme == "basic":
		return http1.Header{Name: "Authorization", Value: "Basic " + base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("user%d:pw", user)))}, true
	case s.Type == "apiKey" && s.In == "header":
		return http1.Header{Name: s.Name, Value: fmt.Sprintf("key-%08d", user)}, true
	}
	return http1.Header{}, false
}

// value makes a parameter value following x-gen or its schema.
func (g *Generator) value(p *openapi3.Parameter) string {
	kind := ""
	if x, ok := p.Extensions["x-gen"].(string); ok {
		kind = x
	}
	var s *openapi3.Schema
	if p.Schema != nil {
		s = p.Schema.Value
	}
	if kind == "" && s != nil {
		switch {
		case s.Type.Is("integer"):
			kind = "int"
		case s.Format == "uuid":
			kind = "uuid"
		case s.Format == "date":
			kind = "date"
		case s.Type.Is("boolean"):
			kind = "bool"
		case len(s.Enum) > 0:
			return fmt.Sprint(s.Enum[g.rng.IntN(len(s.Enum))])
		default:
			kind = "word"
		}
	}
	return g.gen(kind)
}

var words = strings.Fields(`alpha bravo river stone maple cedar falcon harbor summit meadow copper silver amber coral delta
ember frost glacier hazel indigo jasper lotus marble nova onyx pearl quartz raven sierra tango umber violet willow
xenon yarrow zephyr anchor beacon canyon dune echo fjord grove hollow island jungle kelp lagoon mesa north ocean`)

// gen draws a value of a kind from a pool of realistic size.
func (g *Generator) gen(kind string) string {
	if v, ok := g.realistic(kind); ok {
		return v
	}
	r := g.rng
	switch {
	case kind == "int":
		return strconv.Itoa(1 + r.IntN(50000))
	case kind == "uuid":
		b := make([]byte, 16)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	case kind == "hex":
		return fmt.Sprintf("%016x", r.Uint64())
	case kind == "slug":
		// a catalogue of a few hundred products or posts
		i := r.IntN(400)
		return words[i%len(words)] + "-" + words[(i/len(words)+3*i)%len(words)] + "-" + strconv.Itoa(i%7+1)
	case kind == "word":
		return words[r.IntN(len(words))]
	case kind == "username":
		// a few hundred authors, some much busier than others
		i := int(float64(r.IntN(1000)) * float64(r.IntN(1000)) / 1000)
		return words[i%len(words)] + "_" + words[(i/len(words)+5*i)%len(words)]
	case kind == "date":
		return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(400)).Format("2006-01-02")
	case kind == "email":
		return fmt.Sprintf("%s%d@example.com", words[r.IntN(len(words))], r.IntN(1000))
	case kind == "bool":
		return strconv.FormatBool(r.IntN(2) == 0)
	case strings.HasPrefix(kind, "token:"):
		const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		b := []byte(strings.TrimPrefix(kind, "token:"))
		for i := 0; i < 14; i++ {
			b = append(b, alnum[r.IntN(len(alnum))])
		}
		return string(b)
	}
	return words[r.IntN(len(words))]
}

// json makes a JSON document following schema s.
func (g *Generator) json(s *openapi3.Schema, depth int) string {
	if s == nil || depth > 6 {
		return "null"
	}
	switch {
	case s.Type.Is("object") || len(s.Properties) > 0:
		keys := make([]string, 0, len(s.Properties))
		for k := range s.Properties {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteByte('{')
		first := true
		for _, k := range keys {
			required := false
			for _, r := range s.Required {
				required = required || r == k
			}
			if !required && g.rng.IntN(4) == 0 {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(strconv.Quote(k) + ":" + g.json(s.Properties[k].Value, depth+1))
		}
		b.WriteByte('}')
		return b.String()
	case s.Type.Is("array"):
		n := 1 + g.rng.IntN(3)
		parts := make([]string, n)
		for i := range parts {
			var it *openapi3.Schema
			if s.Items != nil {
				it = s.Items.Value
			}
			parts[i] = g.json(it, depth+1)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case s.Type.Is("integer"):
		return strconv.Itoa(g.rng.IntN(100000))
	case s.Type.Is("number"):
		return strconv.FormatFloat(float64(g.rng.IntN(100000))/100, 'f', 2, 64)
	case s.Type.Is("boolean"):
		return strconv.FormatBool(g.rng.IntN(2) == 0)
	case s.Format == "date-time":
		return strconv.Quote(g.t.Format(time.RFC3339))
	case s.Format == "uuid":
		return strconv.Quote(g.gen("uuid"))
	case s.Format == "email":
		return strconv.Quote(g.gen("email"))
	}
	return strconv.Quote(g.gen("word"))
}
