package discovery

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzSchema feeds arbitrary bodies to the JSON schema inference: it must
// not panic, must stay within its node bound, must accept what
// encoding/json accepts and render a schema that encodes.
func FuzzSchema(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[{"c":"2026-01-01"}],"d":null}`, `[1,2.5,"x",true]`, `"s"`, `{"a":{"b":{"c":{}}}}`, `{`, `[[[[`, `{"\u0041":1}`, `-`, `1e5`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var st schemaTree
		ok := st.infer(b)
		if st.nodes > maxSchemaNodes {
			t.Fatalf("%d nodes", st.nodes)
		}
		if json.Valid(b) && !ok {
			t.Fatalf("valid JSON rejected: %q", b)
		}
		if _, err := json.Marshal(st.root.JSONSchema()); err != nil {
			t.Fatal(err)
		}
		var m schemaTree
		m.merge(&st)
		m.merge(&st)
		if m.nodes > maxSchemaNodes {
			t.Fatalf("merged %d nodes", m.nodes)
		}
	})
}

// FuzzTemplate records arbitrary paths, hosts and methods: the view must
// not panic, every template starts with / and has no more segments than
// the longest path, and an endpoint id is unique.
func FuzzTemplate(f *testing.F) {
	f.Add("api", "GET", "/v1/users/8812/orders/5f0c9a1e-3b2d-4c8e-9f1a-2b3c4d5e6f70", "/v1/users/me")
	f.Add("", "POST", "//a//b/;x=1", "/%2e%2e/{x}/")
	f.Add("h:80", "X", "/a.js", "/healthz")
	f.Fuzz(func(t *testing.T, host, method, p1, p2 string) {
		if method == "" {
			method = "GET"
		}
		cfg := NewConfig()
		cfg.MaxLiteralsPerNode, cfg.MaxNodesPerHost = 4, 16
		cat := NewCatalog(cfg, "f")
		o := cat.Observer()
		maxSegs := 0
		for i, p := range []string{p1, p2, p1 + "/" + p2, p2 + "/1", p1 + "/x"} {
			x := tx(method, host, p, 200+i)
			x.Request.Path = p
			o.Analyze(x, nil)
			maxSegs = max(maxSegs, strings.Count(p, "/")+1)
		}
		v := cat.View()
		ids := map[string]bool{}
		for _, ep := range v.Endpoints {
			if !strings.HasPrefix(ep.Path, "/") {
				t.Fatalf("template %q", ep.Path)
			}
			if n := strings.Count(ep.Path, "/"); n > maxSegs {
				t.Fatalf("template %q has %d segments", ep.Path, n)
			}
			if ids[ep.ID] {
				t.Fatalf("duplicate id for %s %s", ep.Method, ep.Path)
			}
			ids[ep.ID] = true
			ep.JSON(v.Time)
		}
		v.JSON("f")
		if _, err := v.OpenAPI(OpenAPIOptions{}); err != nil {
			t.Fatal(err)
		}
	})
}
