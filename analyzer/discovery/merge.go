package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"
)

// ObservedKey marks what apitap adds to a spec: the first and last
// capture time it was seen and its calls.
const ObservedKey = "x-apitap-observed"

// MergeOptions select what MergeSpec merges.
type MergeOptions struct {
	// Host keeps only that host's endpoints ("" keeps those of the hosts
	// the spec's servers name, or every host when they name none).
	Host string
}

// Addition is one item MergeSpec added to the spec (or found added by an
// earlier run and updated).
type Addition struct {
	Kind      string `json:"kind"` // operation, parameter, status, field
	Method    string `json:"method"`
	Path      string `json:"path"` // the spec's path template
	Name      string `json:"name,omitempty"`
	Calls     uint64 `json:"calls"`
	FirstSeen string `json:"first_seen"`
	LastSeen  string `json:"last_seen"`
}

// MergeSpec merges what the view observed into an OpenAPI document (YAML
// or JSON, 3.0 or 3.1): operations, query parameters, response status
// codes and JSON schema properties the document lacks are added, each
// marked x-apitap-observed (first_seen, last_seen, calls). The document
// keeps its order, comments and formatting as far as YAML allows (new
// items go after the existing ones); a JSON document stays JSON. Items an
// earlier merge added have their mark updated, so merging the same
// traffic again changes nothing. The result is validated with
// kin-openapi. It returns the document and what is new in it.
func (v *View) MergeSpec(base []byte, opt MergeOptions) ([]byte, []Addition, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(base)
	if err != nil {
		return nil, nil, fmt.Errorf("base spec: %w", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		return nil, nil, fmt.Errorf("base spec: not an OpenAPI 3 document (openapi: %q)", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, nil, fmt.Errorf("base spec is invalid: %w", err)
	}
	if doc.Paths == nil {
		doc.Paths = openapi3.NewPaths()
	}
	var root yaml.Node
	if err := yaml.Unmarshal(base, &root); err != nil {
		return nil, nil, fmt.Errorf("base spec: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("base spec: not a mapping")
	}
	m := &merger{doc: doc, root: root.Content[0], v31: strings.HasPrefix(doc.OpenAPI, "3.1")}
	m.servers(opt.Host)
	for _, ep := range v.Endpoints {
		if rel, ok := m.relative(ep); ok {
			m.endpoint(ep, ep.JSON(v.Time), rel)
		}
	}
	var out []byte
	if jsonLike(base, m.root) {
		out, err = jsonOf(&root, indentOf(base, true))
	} else {
		out, err = yamlOf(&root, indentOf(base, false))
	}
	if err != nil {
		return nil, nil, err
	}
	if err := validateSpec(out); err != nil {
		return nil, nil, fmt.Errorf("merged spec is invalid (a bug, please report it): %w", err)
	}
	return out, m.added, nil
}

// jsonLike says whether a document is JSON (or JSON with YAML's leniency:
// a flow mapping with quoted keys): it is written back as JSON.
func jsonLike(b []byte, root *yaml.Node) bool {
	if json.Valid(bytes.TrimSpace(b)) {
		return true
	}
	return root.Style&yaml.FlowStyle != 0 && len(root.Content) > 0 && root.Content[0].Style&yaml.DoubleQuotedStyle != 0
}

// validateSpec loads a document with kin-openapi and validates it.
func validateSpec(data []byte) error {
	d, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return err
	}
	return d.Validate(context.Background(), openapi3.DisableExamplesValidation())
}

type merger struct {
	doc   *openapi3.T
	root  *yaml.Node
	v31   bool
	bases []serverBase
	added []Addition
}

// serverBase is where a spec applies: a host ("" any) and a base path.
type serverBase struct{ host, base string }

func (m *merger) servers(only string) {
	for _, s := range m.doc.Servers {
		if s == nil {
			continue
		}
		raw := s.URL
		for name, sv := range s.Variables {
			if sv != nil {
				raw = strings.ReplaceAll(raw, "{"+name+"}", sv.Default)
			}
		}
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		h := strings.ToLower(u.Host)
		h = strings.TrimSuffix(strings.TrimSuffix(h, ":80"), ":443")
		m.bases = append(m.bases, serverBase{host: h, base: strings.TrimRight(u.Path, "/")})
	}
	if len(m.bases) == 0 {
		m.bases = []serverBase{{}}
	}
	if only != "" {
		var keep []serverBase
		for _, b := range m.bases {
			if b.host == "" || b.host == only {
				keep = append(keep, serverBase{host: only, base: b.base})
			}
		}
		m.bases = keep
	}
}

// relative returns an endpoint's path below the spec's base path, if the
// endpoint belongs to the spec (its host is a server's, or the servers
// name no host).
func (m *merger) relative(ep *Endpoint) (string, bool) {
	if ep.Kind != "api" || !openAPIMethods[strings.ToLower(ep.Method)] {
		return "", false
	}
	for _, b := range m.bases {
		if b.host != "" && b.host != ep.Host {
			continue
		}
		if b.base == "" {
			return ep.Path, true
		}
		if ep.Path == b.base {
			return "/", true
		}
		if strings.HasPrefix(ep.Path, b.base+"/") {
			return ep.Path[len(b.base):], true
		}
	}
	return "", false
}

// specPath finds the spec's path template that a template matches
// (parameters in the same places, whatever their names).
func (m *merger) specPath(rel string) (string, *openapi3.PathItem) {
	shape := TemplateShape(rel)
	for _, p := range slices.Sorted(maps.Keys(m.doc.Paths.Map())) {
		if TemplateShape(p) == shape {
			return p, m.doc.Paths.Value(p)
		}
	}
	return "", nil
}

func (m *merger) endpoint(ep *Endpoint, j *EndpointJSON, rel string) {
	method := strings.ToLower(ep.Method)
	mark := observed(j.FirstSeen, j.LastSeen, j.Calls)
	paths := mapValue(m.root, "paths")
	if paths == nil {
		paths = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		setKey(m.root, "paths", paths)
	}
	p, item := m.specPath(rel)
	if item == nil {
		n := m.operation(j, rel, mark)
		setKey(paths, rel, mapping(method, n))
		m.add("operation", ep.Method, rel, "", j.Calls, j)
		// later endpoints of this path find it
		m.doc.Paths.Set(rel, &openapi3.PathItem{})
		m.doc.Paths.Value(rel).SetOperation(strings.ToUpper(method), &openapi3.Operation{Extensions: map[string]any{ObservedKey: true}})
		return
	}
	itemNode := deref(m.root, mapValue(paths, p))
	if itemNode == nil {
		return
	}
	op := item.GetOperation(strings.ToUpper(method))
	if op == nil {
		setKey(itemNode, method, m.operation(j, p, mark))
		m.add("operation", ep.Method, p, "", j.Calls, j)
		item.SetOperation(strings.ToUpper(method), &openapi3.Operation{Extensions: map[string]any{ObservedKey: true}})
		return
	}
	opNode := mapValue(itemNode, method)
	if opNode == nil {
		return
	}
	if _, ours := op.Extensions[ObservedKey]; ours {
		// added by an earlier merge: update its mark
		m.mark(opNode, mark)
		return
	}
	m.parameters(j, item, op, opNode, p)
	m.responses(j, op, opNode, p)
}

func (m *merger) add(kind, method, path, name string, calls uint64, j *EndpointJSON) {
	m.added = append(m.added, Addition{Kind: kind, Method: strings.ToUpper(method), Path: path, Name: name, Calls: calls, FirstSeen: j.FirstSeen, LastSeen: j.LastSeen})
}

// mark sets or updates an x-apitap-observed mapping: first_seen the
// earlier, last_seen the later, calls those of this traffic.
func (m *merger) mark(n, mark *yaml.Node) {
	old := mapValue(n, ObservedKey)
	if old == nil {
		setKey(n, ObservedKey, mark)
		return
	}
	first, last := scalar(old, "first_seen"), scalar(old, "last_seen")
	if f := scalar(mark, "first_seen"); first == "" || f < first {
		first = f
	}
	if l := scalar(mark, "last_seen"); l > last {
		last = l
	}
	setKey(old, "first_seen", str(first))
	setKey(old, "last_seen", str(last))
	setKey(old, "calls", mapValue(mark, "calls"))
}

// parameters adds the query parameters the operation does not document.
func (m *merger) parameters(j *EndpointJSON, item *openapi3.PathItem, op *openapi3.Operation, opNode *yaml.Node, path string) {
	known := map[string]*openapi3.Parameter{}
	for _, list := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, pr := range list {
			if pr != nil && pr.Value != nil && pr.Value.In == "query" {
				known[pr.Value.Name] = pr.Value
			}
		}
	}
	for _, p := range j.Params {
		if p.In != "query" {
			continue
		}
		mark := observed(j.FirstSeen, j.LastSeen, p.Count)
		if kp, ok := known[p.Name]; ok {
			if _, ours := kp.Extensions[ObservedKey]; ours {
				if n := m.paramNode(opNode, p.Name); n != nil {
					m.mark(n, mark)
				}
			}
			continue
		}
		list := mapValue(opNode, "parameters")
		if list == nil {
			list = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			setKey(opNode, "parameters", list)
		}
		schema := mapping("type", str(p.Type))
		if p.Format != "" {
			setKey(schema, "format", str(p.Format))
		}
		list.Content = append(list.Content, mapping("name", str(p.Name), "in", str("query"), "required", boolean(false), "schema", schema, ObservedKey, mark))
		m.add("parameter", j.Method, path, p.Name, p.Count, j)
	}
}

// paramNode finds the node of a query parameter in an operation's list.
func (m *merger) paramNode(opNode *yaml.Node, name string) *yaml.Node {
	list := mapValue(opNode, "parameters")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil
	}
	for _, n := range list.Content {
		n = deref(m.root, n)
		if n != nil && scalar(n, "name") == name && scalar(n, "in") == "query" {
			return n
		}
	}
	return nil
}

// responses adds the status codes the operation does not document, and
// the properties documented responses lack.
func (m *merger) responses(j *EndpointJSON, op *openapi3.Operation, opNode *yaml.Node, path string) {
	respNode := mapValue(opNode, "responses")
	if respNode == nil {
		respNode = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		setKey(opNode, "responses", respNode)
	}
	for _, code := range slices.Sorted(maps.Keys(j.StatusCodes)) {
		n, err := strconv.Atoi(code)
		if err != nil || n < 100 || n > 599 {
			continue
		}
		calls := j.StatusCodes[code]
		mark := observed(j.FirstSeen, j.LastSeen, calls)
		if op.Responses != nil {
			if r := op.Responses.Value(code); r != nil && r.Value != nil {
				rn := deref(m.root, mapValue(respNode, code))
				if _, ours := r.Value.Extensions[ObservedKey]; ours {
					if rn != nil {
						m.mark(rn, mark)
					}
					continue
				}
				if s, ok := j.ResponseSchemas[code]; ok && rn != nil {
					m.fields(j, rn, r.Value, s, path)
				}
				continue
			}
			if op.Responses.Value(code[:1]+"XX") != nil || op.Responses.Value(code[:1]+"xx") != nil || op.Responses.Default() != nil {
				continue
			}
		}
		setKey(respNode, code, m.response(j, code, calls, mark))
		m.add("status", j.Method, path, code, calls, j)
	}
}

// fields adds the properties of an observed response schema that the
// documented JSON schema lacks (top level and nested objects).
func (m *merger) fields(j *EndpointJSON, respNode *yaml.Node, r *openapi3.Response, observedSchema map[string]any, path string) {
	mt := r.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return
	}
	content := mapValue(respNode, "content")
	mtNode := deref(m.root, mapValue(content, "application/json"))
	schemaNode := deref(m.root, mapValue(mtNode, "schema"))
	m.schemaFields(j, schemaNode, mt.Schema.Value, observedSchema, path, "", 0)
}

func (m *merger) schemaFields(j *EndpointJSON, node *yaml.Node, spec *openapi3.Schema, obs map[string]any, path, ptr string, depth int) {
	if node == nil || spec == nil || depth > 3 {
		return
	}
	if items, ok := obs["items"].(map[string]any); ok && spec.Items != nil {
		m.schemaFields(j, deref(m.root, mapValue(node, "items")), spec.Items.Value, items, path, ptr+"/*", depth+1)
		return
	}
	props, _ := obs["properties"].(map[string]any)
	if len(props) == 0 || len(spec.AllOf)+len(spec.OneOf)+len(spec.AnyOf) > 0 || len(spec.Properties) == 0 {
		return // free-form or composed: not ours to extend
	}
	propsNode := mapValue(node, "properties")
	for _, name := range slices.Sorted(maps.Keys(props)) {
		sub, _ := props[name].(map[string]any)
		if sp := spec.Properties[name]; sp != nil && sp.Value != nil {
			if _, ours := sp.Value.Extensions[ObservedKey]; ours {
				if pn := deref(m.root, mapValue(propsNode, name)); pn != nil {
					m.mark(pn, observed(j.FirstSeen, j.LastSeen, j.Calls))
				}
				continue
			}
			m.schemaFields(j, deref(m.root, mapValue(propsNode, name)), sp.Value, sub, path, ptr+"/"+name, depth+1)
			continue
		}
		if propsNode == nil {
			return
		}
		n := m.schema(sub)
		setKey(n, ObservedKey, observed(j.FirstSeen, j.LastSeen, j.Calls))
		setKey(propsNode, name, n)
		m.add("field", j.Method, path, ptr+"/"+name, j.Calls, j)
	}
}

// operation builds a new operation from an endpoint.
func (m *merger) operation(j *EndpointJSON, path string, mark *yaml.Node) *yaml.Node {
	op := mapping("summary", str(fmt.Sprintf("%s %s (observed by apitap)", j.Method, path)))
	var params []*yaml.Node
	names := pathParamNames(path)
	pi := 0
	for _, p := range j.Params {
		if p.In == "path" {
			name := p.Name
			if pi < len(names) {
				name = names[pi]
			}
			pi++
			schema := mapping("type", str(p.Type))
			if p.Format != "" {
				setKey(schema, "format", str(p.Format))
			}
			params = append(params, mapping("name", str(name), "in", str("path"), "required", boolean(true), "schema", schema))
			continue
		}
		schema := mapping("type", str(p.Type))
		if p.Format != "" {
			setKey(schema, "format", str(p.Format))
		}
		params = append(params, mapping("name", str(p.Name), "in", str("query"), "required", boolean(false), "schema", schema))
	}
	if len(params) > 0 {
		setKey(op, "parameters", &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: params})
	}
	if !bodylessMethod(j.Method) && len(j.RequestContentTypes) > 0 {
		content := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, ct := range slices.Sorted(maps.Keys(j.RequestContentTypes)) {
			mt := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			if isJSON(ct) && j.RequestSchema != nil {
				setKey(mt, "schema", m.schema(j.RequestSchema))
			}
			setKey(content, ct, mt)
		}
		setKey(op, "requestBody", mapping("content", content))
	}
	responses := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, code := range slices.Sorted(maps.Keys(j.StatusCodes)) {
		if n, err := strconv.Atoi(code); err == nil && n >= 100 && n <= 599 {
			setKey(responses, code, m.response(j, code, j.StatusCodes[code], nil))
		}
	}
	if len(responses.Content) == 0 {
		setKey(responses, "default", mapping("description", str("no response observed")))
	}
	setKey(op, "responses", responses)
	setKey(op, ObservedKey, mark)
	return op
}

// pathParamNames are the parameter names of a path template in order.
func pathParamNames(p string) []string {
	var out []string
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(p[i:], '}')
		if j < 0 {
			return out
		}
		out = append(out, p[i+1:i+j])
		p = p[i+j+1:]
	}
}

// response builds an observed response (marked when mark is set).
func (m *merger) response(j *EndpointJSON, code string, calls uint64, mark *yaml.Node) *yaml.Node {
	times := fmt.Sprintf("%d times", calls)
	if calls == 1 {
		times = "once"
	}
	r := mapping("description", str("observed "+times))
	if s, ok := j.ResponseSchemas[code]; ok {
		ct := "application/json"
		for _, c := range slices.Sorted(maps.Keys(j.ResponseContentTypes)) {
			if isJSON(c) {
				ct = c
				break
			}
		}
		setKey(r, "content", mapping(ct, mapping("schema", m.schema(s))))
	}
	if mark != nil {
		setKey(r, ObservedKey, mark)
	}
	return r
}

// schema converts an inferred JSON schema to a node for the spec's
// OpenAPI version: 3.0 has no type lists (null becomes nullable, other
// mixes lose their type).
func (m *merger) schema(s map[string]any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if s == nil {
		return n
	}
	switch t := s["type"].(type) {
	case string:
		setKey(n, "type", str(t))
	case []string:
		if m.v31 {
			seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
			for _, x := range t {
				seq.Content = append(seq.Content, str(x))
			}
			setKey(n, "type", seq)
			break
		}
		var other []string
		for _, x := range t {
			if x != "null" {
				other = append(other, x)
			}
		}
		if len(other) == 1 {
			setKey(n, "type", str(other[0]))
		}
		if len(other) < len(t) {
			setKey(n, "nullable", boolean(true))
		}
	}
	if f, ok := s["format"].(string); ok {
		setKey(n, "format", str(f))
	}
	if props, ok := s["properties"].(map[string]any); ok {
		pn := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, k := range slices.Sorted(maps.Keys(props)) {
			sub, _ := props[k].(map[string]any)
			setKey(pn, k, m.schema(sub))
		}
		setKey(n, "properties", pn)
	}
	if req, ok := s["required"].([]string); ok && len(req) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
		for _, r := range req {
			seq.Content = append(seq.Content, str(r))
		}
		setKey(n, "required", seq)
	}
	if items, ok := s["items"].(map[string]any); ok {
		setKey(n, "items", m.schema(items))
	}
	return n
}

func observed(first, last string, calls uint64) *yaml.Node {
	return mapping("first_seen", str(first), "last_seen", str(last), "calls", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatUint(calls, 10)})
}

// YAML node helpers.

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

// mapping builds a mapping of key, value pairs (values are nodes).
func mapping(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		setKey(n, kv[i].(string), kv[i+1].(*yaml.Node))
	}
	return n
}

// mapValue returns the value of key in mapping n (nil if absent).
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node, key string) string {
	if v := mapValue(n, key); v != nil {
		return v.Value
	}
	return ""
}

// setKey sets key in mapping n, replacing its value or appending it.
func setKey(n *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content[i+1] = v
			return
		}
	}
	n.Content = append(n.Content, str(key), v)
}

// deref follows a local $ref ("#/components/...") to its node.
func deref(root, n *yaml.Node) *yaml.Node {
	for hops := 0; n != nil && hops < 8; hops++ {
		ref := scalar(n, "$ref")
		if ref == "" || !strings.HasPrefix(ref, "#/") {
			return n
		}
		cur := root
		for _, part := range strings.Split(ref[2:], "/") {
			part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
			cur = mapValue(cur, part)
		}
		n = cur
	}
	return n
}

// indentOf guesses a document's indentation (2 when it has none).
func indentOf(b []byte, isJSON bool) int {
	for _, line := range bytes.Split(b, []byte("\n")) {
		t := bytes.TrimLeft(line, " ")
		if len(t) == 0 || len(t) == len(line) || t[0] == '#' {
			continue
		}
		if n := len(line) - len(t); n >= 2 && n <= 8 {
			return n
		}
	}
	return 2
}

func yamlOf(root *yaml.Node, indent int) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(indent)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode spec: %w", err)
	}
	return b.Bytes(), enc.Close()
}

// jsonOf writes a YAML node tree as JSON, in the order of its keys.
func jsonOf(root *yaml.Node, indent int) ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSONNode(&b, root.Content[0], strings.Repeat(" ", indent), ""); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

func writeJSONNode(w *bytes.Buffer, n *yaml.Node, indent, prefix string) error {
	switch n.Kind {
	case yaml.AliasNode:
		return writeJSONNode(w, n.Alias, indent, prefix)
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			w.WriteString("{}")
			return nil
		}
		w.WriteString("{\n")
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.WriteString(prefix + indent)
			k, _ := json.Marshal(n.Content[i].Value)
			w.Write(k)
			w.WriteString(": ")
			if err := writeJSONNode(w, n.Content[i+1], indent, prefix+indent); err != nil {
				return err
			}
			if i+2 < len(n.Content) {
				w.WriteByte(',')
			}
			w.WriteByte('\n')
		}
		w.WriteString(prefix + "}")
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			w.WriteString("[]")
			return nil
		}
		w.WriteString("[\n")
		for i, c := range n.Content {
			w.WriteString(prefix + indent)
			if err := writeJSONNode(w, c, indent, prefix+indent); err != nil {
				return err
			}
			if i+1 < len(n.Content) {
				w.WriteByte(',')
			}
			w.WriteByte('\n')
		}
		w.WriteString(prefix + "]")
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("encode spec: %w", err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode spec: %w", err)
		}
		w.Write(b)
	default:
		return fmt.Errorf("encode spec: unexpected node kind %d", n.Kind)
	}
	return nil
}

// WriteAdditions lists what a merge added, one line each.
func WriteAdditions(w io.Writer, adds []Addition) {
	if len(adds) == 0 {
		fmt.Fprintln(w, "nothing new: the spec documents everything observed")
		return
	}
	for _, a := range adds {
		what := a.Method + " " + a.Path
		if a.Name != "" {
			what += "  " + a.Name
		}
		fmt.Fprintf(w, "+ %-9s %s  (%d calls, %s .. %s)\n", a.Kind, what, a.Calls, a.FirstSeen, a.LastSeen)
	}
}
