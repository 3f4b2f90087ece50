package discovery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/apitap/apitap/reassembly/http1"
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

// FuzzProbe classifies arbitrary path segments and paths: it must not
// panic, must give the same answer twice, and plain identifiers of real
// APIs (letters, digits, - _ ~, one dot at most between them) are never
// probes.
func FuzzProbe(f *testing.F) {
	for _, s := range []string{"1%20UNION%20SELECT%20a", "..%5C..%5Cwin.ini", "%3Csvg%2Fonload%3Dalert(1)%3E", "main...develop", "group%2Fproject",
		"%c0%ae%c0%ae", "%25252e", "sleep(5)", "http:", "10.0.0.1:25", "3b:16:bf", "Zürich", "a==b", "YWJj==", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := probeSegment(s)
		if probeSegment(s) != c || ProbePath("/"+s) != ProbePath("/"+s) {
			t.Fatalf("%q: not deterministic", s)
		}
		plain := s != "" && strings.Count(s, ".") <= 1 && !strings.HasPrefix(s, ".") && !strings.HasSuffix(s, ".")
		for i := 0; i < len(s) && plain; i++ {
			ch := s[i]
			plain = ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '~' || ch == '.'
		}
		if plain && c != probeNone && !strings.Contains(strings.ToLower(s), "passwd") && !strings.Contains(strings.ToLower(s), "win.ini") && !strings.Contains(strings.ToLower(s), "whoami") && !strings.Contains(strings.ToLower(s), "powershell") {
			t.Fatalf("identifier %q taken for a probe (%v)", s, c)
		}
	})
}

// FuzzMergeSpec merges a small catalog into arbitrary documents: errors
// or a document that kin-openapi validates, never a panic; merging the
// result again changes nothing.
func FuzzMergeSpec(f *testing.F) {
	f.Add([]byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {/v1/users/{id}: {get: {responses: {'200': {description: ok}}}}}\n"))
	f.Add([]byte(`{"openapi":"3.1.0","info":{"title":"t","version":"1"},"servers":[{"url":"http://api/v1"}],"paths":{}}`))
	f.Add([]byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    $ref: '#/components/x'\n"))
	cat := NewCatalog(NewConfig(), "f")
	o := cat.Observer()
	for i := 0; i < 20; i++ {
		x := tx("GET", "api", fmt.Sprintf("/v1/users/%d?limit=%d", i, i), 200)
		x.Response.Headers = []http1.Header{{Name: "Content-Type", Value: "application/json", ID: http1.IDContentType}}
		x.Response.Body.Data = []byte(`{"id":1,"name":"x","tags":[{"a":1}]}`)
		o.Analyze(x, nil)
		o.Analyze(tx("POST", "api", "/v1/orders", 201), nil)
	}
	v := cat.View()
	f.Fuzz(func(t *testing.T, base []byte) {
		out, _, err := v.MergeSpec(base, MergeOptions{})
		if err != nil {
			return
		}
		if err := validateSpec(out); err != nil {
			t.Fatalf("invalid merge: %v\n%s", err, out)
		}
		again, adds, err := v.MergeSpec(out, MergeOptions{})
		if err != nil || len(adds) != 0 || !bytes.Equal(again, out) {
			t.Fatalf("second merge: %v, %d additions, changed %v", err, len(adds), !bytes.Equal(again, out))
		}
	})
}
