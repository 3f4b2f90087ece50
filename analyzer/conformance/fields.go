package conformance

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Bounds of the body field check (on validated samples only).
const (
	maxFieldDepth = 6
	maxFields     = 16 // undocumented fields reported per body
	maxFieldItems = 4  // array elements looked at
)

// undocumentedFields returns the JSON pointers of the properties of a body
// that its schema does not name (values are never kept). Objects whose
// schema names no property, or allows additional ones by a schema or
// true, are free-form and not looked into; additionalProperties: false is
// the validator's to report.
func undocumentedFields(body []byte, s *openapi3.Schema) []string {
	if s == nil {
		return nil
	}
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	var out []string
	walkFields(v, s, "", 0, &out)
	return out
}

func walkFields(v any, s *openapi3.Schema, ptr string, depth int, out *[]string) {
	if s == nil || depth > maxFieldDepth || len(*out) >= maxFields {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		props, closed := properties(s)
		if len(props) == 0 {
			return
		}
		free := s.AdditionalProperties.Schema != nil || s.AdditionalProperties.Has != nil && *s.AdditionalProperties.Has
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := ptr + "/" + escapePointer(k)
			if sub, ok := props[k]; ok {
				walkFields(x[k], sub, p, depth+1, out)
				continue
			}
			if !free && !closed && len(*out) < maxFields && len(p) <= 256 {
				*out = append(*out, p)
			}
		}
	case []any:
		items := itemSchema(s)
		for i, el := range x {
			if i == maxFieldItems {
				break
			}
			walkFields(el, items, ptr+"/"+strconv.Itoa(i), depth+1, out)
		}
		*out = dedupIndexes(*out)
	}
}

// properties collects the properties a schema names, through allOf,
// oneOf and anyOf; closed says additionalProperties is false somewhere
// (the validator reports extra properties then).
func properties(s *openapi3.Schema) (map[string]*openapi3.Schema, bool) {
	out := map[string]*openapi3.Schema{}
	closed := false
	var add func(s *openapi3.Schema, depth int)
	add = func(s *openapi3.Schema, depth int) {
		if s == nil || depth > 8 {
			return
		}
		if s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has {
			closed = true
		}
		for k, p := range s.Properties {
			if p != nil && out[k] == nil {
				out[k] = p.Value
			}
		}
		for _, list := range []openapi3.SchemaRefs{s.AllOf, s.OneOf, s.AnyOf} {
			for _, r := range list {
				if r != nil {
					add(r.Value, depth+1)
				}
			}
		}
	}
	add(s, 0)
	return out, closed
}

func itemSchema(s *openapi3.Schema) *openapi3.Schema {
	if s.Items != nil {
		return s.Items.Value
	}
	for _, list := range []openapi3.SchemaRefs{s.AllOf, s.OneOf, s.AnyOf} {
		for _, r := range list {
			if r != nil && r.Value != nil && r.Value.Items != nil {
				return r.Value.Items.Value
			}
		}
	}
	return nil
}

// dedupIndexes keeps one pointer per field of array elements
// (/items/0/x and /items/1/x are one field: /items/*/x).
func dedupIndexes(ptrs []string) []string {
	seen := map[string]bool{}
	out := ptrs[:0]
	for _, p := range ptrs {
		parts := strings.Split(p, "/")
		for i, s := range parts {
			if _, err := strconv.Atoi(s); err == nil && i > 0 {
				parts[i] = "*"
			}
		}
		q := strings.Join(parts, "/")
		if !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	return out
}

func escapePointer(k string) string {
	if strings.ContainsAny(k, "~/") {
		k = strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
	}
	if len(k) > 64 {
		k = k[:64]
	}
	return k
}

// responseSchema is the JSON schema the operation documents for a status
// (the status, its range, or default).
func (o *Op) responseSchema(status int) *openapi3.Schema {
	if o.Operation.Responses == nil {
		return nil
	}
	code := strconv.Itoa(status)
	for _, k := range []string{code, code[:1] + "XX", code[:1] + "xx", "default"} {
		if r := o.Operation.Responses.Value(k); r != nil && r.Value != nil {
			if mt := r.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
				return mt.Schema.Value
			}
			return nil
		}
	}
	return nil
}
