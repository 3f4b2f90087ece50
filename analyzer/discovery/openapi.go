package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"
)

// OpenAPIOptions select what the OpenAPI export covers.
type OpenAPIOptions struct {
	// Host keeps only that host's endpoints ("" keeps every host: each
	// path then lists the hosts serving it as servers).
	Host string
	// JSON writes JSON instead of YAML.
	JSON bool
}

// OpenAPI renders the view as an OpenAPI 3.1 document and checks it with
// kin-openapi before returning it: path templates with typed parameters,
// query parameters, request bodies and response schemas per status, and
// the security schemes seen.
func (v *View) OpenAPI(opt OpenAPIOptions) ([]byte, error) {
	doc := v.openAPIDoc(opt)
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	if err := ValidateOpenAPI(js); err != nil {
		return nil, fmt.Errorf("openapi export is invalid (a bug, please report it): %w", err)
	}
	if opt.JSON {
		out, err := json.MarshalIndent(doc, "", "  ")
		return append(out, '\n'), err
	}
	return yaml.Marshal(doc)
}

// ValidateOpenAPI loads an OpenAPI document with kin-openapi and validates it.
func ValidateOpenAPI(data []byte) error {
	l := openapi3.NewLoader()
	d, err := l.LoadFromData(data)
	if err != nil {
		return err
	}
	return d.Validate(context.Background())
}

type obj = map[string]any

func (v *View) openAPIDoc(opt OpenAPIOptions) obj {
	title := "APIs discovered by apitap"
	if opt.Host != "" {
		title += " on " + opt.Host
	}
	paths := obj{}
	schemes := obj{}
	hostsOf := map[string][]string{} // path -> hosts
	opIDs := map[string]int{}
	var servers []any
	seenHost := map[string]bool{}
	for _, ep := range v.Endpoints {
		if opt.Host != "" && ep.Host != opt.Host {
			continue
		}
		if !seenHost[ep.Host] {
			seenHost[ep.Host] = true
			servers = append(servers, obj{"url": "http://" + ep.Host})
		}
		j := ep.JSON(v.Time)
		item, _ := paths[ep.Path].(obj)
		if item == nil {
			item = obj{}
			paths[ep.Path] = item
		}
		if !contains(hostsOf[ep.Path], ep.Host) {
			hostsOf[ep.Path] = append(hostsOf[ep.Path], ep.Host)
		}
		m := strings.ToLower(ep.Method)
		if !openAPIMethods[m] {
			continue // OpenAPI 3.1 has no place for other methods
		}
		if _, dup := item[m]; dup {
			continue // the same operation on another host: the first (sorted) describes it
		}
		op := operation(j, opIDs, schemes)
		if j.GRPC != nil {
			grpcOperation(op, j)
		}
		item[m] = op
	}
	if opt.Host == "" && len(seenHost) > 1 {
		for p, hs := range hostsOf {
			var ss []any
			for _, h := range hs {
				ss = append(ss, obj{"url": "http://" + h})
			}
			paths[p].(obj)["servers"] = ss
		}
	}
	doc := obj{
		"openapi": "3.1.0",
		"info": obj{
			"title":       title,
			"version":     v.Time.UTC().Format(time.RFC3339),
			"description": "Observed traffic up to " + v.Time.UTC().Format(time.RFC3339) + ". Schemas are inferred from samples; x-presence is the share of samples carrying a property.",
		},
		"paths": paths,
	}
	if len(servers) > 0 {
		doc["servers"] = servers
	}
	if len(schemes) > 0 {
		doc["components"] = obj{"securitySchemes": schemes}
	}
	return doc
}

var openAPIMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true, "head": true, "patch": true, "trace": true}

func operation(j *EndpointJSON, opIDs map[string]int, schemes obj) obj {
	op := obj{
		"operationId": operationID(j.Method, j.Path, opIDs),
		"summary":     fmt.Sprintf("%s %s (%d calls observed)", j.Method, j.Path, j.Calls),
		"x-apitap": obj{
			"id": j.ID, "kind": j.Kind, "calls": j.Calls, "first_seen": j.FirstSeen, "last_seen": j.LastSeen,
			"completeness": j.Completeness.Ratio,
		},
	}
	var params []any
	for _, p := range j.Params {
		s := obj{"type": p.Type}
		if p.Format != "" {
			s["format"] = p.Format
		}
		params = append(params, obj{
			"name": p.Name, "in": p.In, "required": p.In == "path" || p.Presence >= 1, "schema": s,
		})
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if len(j.RequestContentTypes) > 0 && !bodylessMethod(j.Method) {
		content := obj{}
		for _, ct := range slices.Sorted(maps.Keys(j.RequestContentTypes)) {
			if ct == "" {
				continue
			}
			mt := obj{}
			if isJSON(ct) && j.RequestSchema != nil {
				mt["schema"] = j.RequestSchema
			}
			content[ct] = mt
		}
		if len(content) > 0 {
			op["requestBody"] = obj{"content": content}
		}
	}
	responses := obj{}
	for _, code := range slices.Sorted(maps.Keys(j.StatusCodes)) {
		n, err := strconv.Atoi(code)
		if err != nil || n < 100 || n > 599 {
			continue
		}
		r := obj{"description": fmt.Sprintf("observed %d times", j.StatusCodes[code])}
		if s, ok := j.ResponseSchemas[code]; ok {
			content := obj{}
			for _, ct := range slices.Sorted(maps.Keys(j.ResponseContentTypes)) {
				if isJSON(ct) {
					content[ct] = obj{"schema": s}
				}
			}
			if len(content) == 0 {
				content["application/json"] = obj{"schema": s}
			}
			r["content"] = content
		}
		responses[code] = r
	}
	if len(responses) == 0 {
		responses["default"] = obj{"description": "no response observed"}
	}
	op["responses"] = responses
	var security []any
	for _, a := range slices.Sorted(maps.Keys(j.Auth.Types)) {
		switch a {
		case "none":
			security = append(security, obj{})
		case "basic":
			schemes["basicAuth"] = obj{"type": "http", "scheme": "basic"}
			security = append(security, obj{"basicAuth": []any{}})
		case "bearer_jwt":
			schemes["bearerJWT"] = obj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
			security = append(security, obj{"bearerJWT": []any{}})
		case "bearer":
			schemes["bearerAuth"] = obj{"type": "http", "scheme": "bearer"}
			security = append(security, obj{"bearerAuth": []any{}})
		}
	}
	for _, k := range j.Auth.KeyNames {
		in, name := "header", k
		if p, n, ok := strings.Cut(k, ":"); ok {
			in, name = p, n
		}
		if in == "authorization" {
			continue
		}
		id := "apiKey_" + in + "_" + safeID(name)
		if in == "cookie" {
			id = "session_" + safeID(name)
		}
		schemes[id] = obj{"type": "apiKey", "in": in, "name": name}
		security = append(security, obj{id: []any{}})
	}
	if len(security) > 0 {
		op["security"] = security
	}
	if g := j.GraphQL; g != nil {
		op["x-graphql-operations"] = graphQLOperations(g)
	}
	return op
}

// graphQLOperations is the x-graphql-operations extension of a GraphQL
// endpoint's operation: one entry per GraphQL operation observed (type,
// name, root fields, arguments, variable types, response data root fields
// and their JSON kinds, the sensitive data types its responses carried,
// calls and errors).
func graphQLOperations(g *GraphQLJSON) []any {
	out := make([]any, 0, len(g.Operations))
	for _, o := range g.Operations {
		e := obj{"type": o.Type, "rootFields": o.RootFields, "arguments": o.Arguments, "variables": o.Variables,
			"calls": o.Calls, "errors": o.Errors, "maxDepth": o.MaxDepth}
		if o.Name != "" {
			e["name"] = o.Name
		}
		if o.Data != nil {
			e["data"] = o.Data
		}
		if o.Sensitive != nil {
			e["sensitiveData"] = o.Sensitive
		}
		if o.Hash != "" {
			e["persistedQueryHash"] = o.Hash
		}
		out = append(out, e)
	}
	return out
}

func bodylessMethod(m string) bool {
	return m == "GET" || m == "HEAD" || m == "DELETE" || m == "OPTIONS" || m == "TRACE"
}

func safeID(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// operationID makes a readable, unique id: getV1UsersByUserId.
func operationID(method, path string, seen map[string]int) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, seg := range strings.Split(path, "/") {
		if seg == "" {
			continue
		}
		if strings.HasPrefix(seg, "{") {
			b.WriteString("By")
			seg = strings.Trim(seg, "{}")
		}
		up := true
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				up = true
				continue
			}
			if up && r >= 'a' && r <= 'z' {
				r -= 'a' - 'A'
			}
			up = false
			b.WriteRune(r)
		}
	}
	id := b.String()
	seen[id]++
	if n := seen[id]; n > 1 {
		id += strconv.Itoa(n)
	}
	return id
}
