package conformance

import (
	"fmt"
	"github.com/apitap/apitap/internal/testutil/analyzertest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

const petsV1 = `openapi: 3.0.3
info: {title: Pets, version: "1.0"}
servers: [{url: "https://pets.example/api"}]
paths:
  /pets/{petId}:
    get:
      parameters: [{name: petId, in: path, required: true, schema: {type: integer}}, {name: verbose, in: query, schema: {type: boolean}}]
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: object, required: [id, name], properties: {id: {type: integer}, name: {type: string}}}}}}
        "404": {description: missing}
  /pets:
    post:
      requestBody: {content: {application/json: {schema: {type: object, required: [name], properties: {name: {type: string}, age: {type: integer}}}}}}
      responses: {"201": {description: created}}
  /legacy/pets:
    get:
      deprecated: true
      responses: {"200": {description: ok}}
  /v1only:
    get:
      responses: {"200": {description: ok}}
`

const petsV2 = `openapi: 3.0.3
info: {title: Pets, version: "2.0"}
servers: [{url: "https://pets.example/api"}]
paths:
  /pets/{petId}:
    get:
      parameters: [{name: petId, in: path, required: true, schema: {type: integer}}, {name: verbose, in: query, schema: {type: boolean}}]
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: object, required: [id, name], properties: {id: {type: integer}, name: {type: string}}}}}}
        "404": {description: missing}
  /pets:
    post:
      requestBody: {content: {application/json: {schema: {type: object, required: [name], properties: {name: {type: string}, age: {type: integer}}}}}}
      responses: {"201": {description: created}}
  /legacy/pets:
    get:
      deprecated: true
      responses: {"200": {description: ok}}
`

const swagger2 = `swagger: "2.0"
info: {title: Store, version: "1"}
host: store.example
basePath: /v1
paths:
  /orders/{id}:
    get:
      parameters: [{name: id, in: path, required: true, type: integer}]
      responses: {"200": {description: ok}}
`

func writeSpecs(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type collect = analyzertest.Collector

// summary lists class:location:name:value of the first evidence of each detection.
func summary(c *collect) string {
	var out []string
	for _, d := range c.Detections {
		e := d.Evidence[0]
		out = append(out, d.Class+":"+e.Location+":"+e.Name+":"+e.Value)
	}
	return strings.Join(out, " ")
}

func ptx(host, method, target string, headers []http1.Header, body string, status int, respBody string) *reassembly.Transaction {
	path, query, _ := strings.Cut(target, "?")
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	req := &http1.Request{Method: method, Host: host, Target: target, Path: path, Query: query, Headers: headers, Body: http1.Body{Data: []byte(body)}, Start: at, End: at}
	if body != "" {
		req.Headers = append(req.Headers, http1.Header{Name: "Content-Type", Value: "application/json"})
	}
	resp := &http1.Response{Status: status, Body: http1.Body{Data: []byte(respBody)}, Start: at, End: at}
	if respBody != "" {
		resp.Headers = []http1.Header{{Name: "Content-Type", Value: "application/json"}}
	}
	return &reassembly.Transaction{Flow: reassembly.Flow{Client: netip.MustParseAddrPort("192.0.2.9:5000"), Server: netip.MustParseAddrPort("10.0.0.1:80")},
		Exchange: http1.Exchange{Request: req, Response: resp}}
}

func TestFindings(t *testing.T) {
	dir := writeSpecs(t, map[string]string{"pets-v1.yaml": petsV1, "pets-v2.yaml": petsV2, "store.json": swagger2, "broken.yaml": "openapi: 3.0.3\ninfo: {title: x}\npaths: {/a: {get: {responses: 12}}}\n"})
	cfg := NewConfig()
	cfg.Specs = []string{dir}
	st, err := NewState(cfg, zerolog.Nop(), func(string) any { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if errs := st.LoadErrors(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "broken.yaml") {
		t.Fatalf("load errors %v", errs)
	}
	cases := []struct {
		name, status, want string
		tx                 *reassembly.Transaction
	}{
		{"documented", Documented, "", ptx("pets.example", "GET", "/api/pets/12?verbose=true", nil, "", 200, `{"id":12,"name":"Rex"}`)},
		{"trailing slash and encoding", Documented, "", ptx("pets.example", "GET", "/api//pets/%31%32/", nil, "", 404, "")},
		{"undocumented query and header", Documented, "undocumented_header:header:x-debug: undocumented_parameter:query:debug:",
			ptx("pets.example", "GET", "/api/pets/12?debug=1", []http1.Header{{Name: "X-Debug", Value: "1"}, {Name: "User-Agent", Value: "curl"}}, "", 200, `{"id":12,"name":"Rex"}`)},
		{"undocumented status", Documented, "undocumented_status:response_header:status:500", ptx("pets.example", "GET", "/api/pets/12", nil, "", 500, "")},
		{"response schema", Documented, "schema_violation:response_body:/name:property \"name\" is missing", ptx("pets.example", "GET", "/api/pets/12", nil, "", 200, `{"id":12}`)},
		{"request schema", Documented, "schema_violation:body:/age:value must be an integer", ptx("pets.example", "POST", "/api/pets", nil, `{"name":"Rex","age":"old"}`, 201, "")},
		{"path parameter type", Documented, "schema_violation:path:petId:value is an invalid integer", ptx("pets.example", "GET", "/api/pets/rex", nil, "", 200, `{"id":1,"name":"Rex"}`)},
		{"deprecated", Zombie, "zombie_endpoint:path:GET /legacy/pets:deprecated", ptx("pets.example", "GET", "/api/legacy/pets", nil, "", 200, "")},
		{"only in v1", Zombie, "zombie_endpoint:path:GET /v1only:only_in_older_version:1.0", ptx("pets.example", "GET", "/api/v1only", nil, "", 200, "")},
		{"shadow", Shadow, "", ptx("pets.example", "GET", "/api/admin/export", nil, "", 200, "")},
		{"undocumented method", UndocumentedMethod, "", ptx("pets.example", "DELETE", "/api/pets/12", nil, "", 204, "")},
		{"other base path", Shadow, "", ptx("pets.example", "GET", "/pets/12", nil, "", 200, "")},
		{"unbound host", Unbound, "", ptx("other.example", "GET", "/api/pets/12", nil, "", 200, "")},
		{"swagger 2.0", Documented, "", ptx("store.example", "GET", "/v1/orders/7", nil, "", 200, "")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := NewState(cfg, zerolog.Nop(), func(string) any { return nil })
			if err != nil {
				t.Fatal(err)
			}
			w := st.newWorker()
			w.Analyze(c.tx, &collect{}) // findings are the state's to report
			var out sink
			st.Report(c.tx.Request.Start, true, &out)
			var col collect
			for _, d := range out.Detections {
				if d.Class != "shadow_endpoint" && d.Class != "undocumented_method" {
					col.Detections = append(col.Detections, d)
				}
			}
			if c.tx.Notes.Conformance != c.status {
				t.Errorf("status %q, want %q", c.tx.Notes.Conformance, c.status)
			}
			got := summary(&col)
			if c.name == "undocumented query and header" {
				got = strings.ReplaceAll(got, ":not_in_spec", "")
			}
			if got != c.want {
				t.Errorf("findings %q, want %q", got, c.want)
			}
		})
	}
}

// TestReload replaces a spec file: the router follows without restart.
func TestReload(t *testing.T) {
	dir := writeSpecs(t, map[string]string{"pets.yaml": petsV2})
	cfg := NewConfig()
	cfg.Specs = []string{filepath.Join(dir, "pets.yaml")}
	st, err := NewState(cfg, zerolog.Nop(), func(string) any { return nil })
	if err != nil {
		t.Fatal(err)
	}
	w := st.newWorker()
	x := ptx("pets.example", "GET", "/api/v1only", nil, "", 200, "")
	w.Analyze(x, &collect{})
	if x.Notes.Conformance != Shadow {
		t.Fatalf("before: %q", x.Notes.Conformance)
	}
	os.WriteFile(filepath.Join(dir, "pets.yaml"), []byte(petsV1), 0o644)
	if err := st.Reload(); err != nil {
		t.Fatal(err)
	}
	x = ptx("pets.example", "GET", "/api/v1only", nil, "", 200, "")
	w.Analyze(x, &collect{})
	if x.Notes.Conformance != Documented {
		t.Fatalf("after reload: %q", x.Notes.Conformance)
	}
	os.WriteFile(filepath.Join(dir, "pets.yaml"), []byte("not: [a spec"), 0o644)
	if err := st.Reload(); err == nil || st.Router().Specs[0].Version != "1.0" {
		t.Fatalf("a broken spec replaced the good one: %v", err)
	}
}

// bigSpec is a spec with n resources of 5 operations each.
func bigSpec(n int) string {
	var b strings.Builder
	b.WriteString("openapi: 3.0.3\ninfo: {title: Big, version: \"1\"}\npaths:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  /v1/res%d:\n    get: {responses: {\"200\": {description: ok}}}\n    post: {responses: {\"201\": {description: ok}}}\n", i)
		fmt.Fprintf(&b, "  /v1/res%d/{id}:\n    parameters: [{name: id, in: path, required: true, schema: {type: string}}]\n", i)
		b.WriteString("    get: {responses: {\"200\": {description: ok}}}\n    put: {responses: {\"200\": {description: ok}}}\n    delete: {responses: {\"204\": {description: ok}}}\n")
	}
	return b.String()
}

// BenchmarkMatch is the routing cost per transaction with a spec of 500
// operations (target: under 1 µs).
func BenchmarkMatch(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "big.yaml"), []byte(bigSpec(100)), 0o644)
	sp, err := LoadSpec(filepath.Join(dir, "big.yaml"), nil)
	if err != nil {
		b.Fatal(err)
	}
	if len(sp.Ops) != 500 {
		b.Fatalf("%d operations", len(sp.Ops))
	}
	r := NewRouter([]*Spec{sp})
	paths := []string{"/v1/res42/8812", "/v1/res99", "/v1/res7/abc/", "/v1/nope/1"}
	methods := []string{"GET", "POST", "DELETE", "GET"}
	segs := make([]string, 0, maxSegs)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.Match("api.example", methods[i&3], paths[i&3], segs)
	}
}

// FuzzLoadSpec loads arbitrary documents as specs: errors, never panics;
// a loaded spec routes an arbitrary path.
func FuzzLoadSpec(f *testing.F) {
	f.Add([]byte(petsV1), "/api/pets/1")
	f.Add([]byte(swagger2), "/v1/orders/x")
	f.Add([]byte(`{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a/{b}/c":{"get":{"responses":{"200":{"description":"x"}}}}}}`), "//a/%zz/c;x")
	f.Fuzz(func(t *testing.T, doc []byte, path string) {
		file := filepath.Join(t.TempDir(), "spec.yaml")
		os.WriteFile(file, doc, 0o644)
		sp, err := LoadSpec(file, nil)
		if err != nil {
			return
		}
		r := NewRouter([]*Spec{sp})
		r.Match("", "GET", path, nil)
		for _, b := range sp.Bindings {
			r.Match(b.Host, "GET", b.Base+path, nil)
		}
	})
}

// TestExternalRefs resolves $refs to local files and refuses remote ones.
func TestExternalRefs(t *testing.T) {
	dir := writeSpecs(t, map[string]string{
		"pet.yaml": "type: object\nrequired: [id]\nproperties: {id: {type: integer}}\n",
		"api.yaml": `openapi: 3.0.3
info: {title: Refs, version: "1"}
paths:
  /pets/{id}:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses: {"200": {description: ok, content: {application/json: {schema: {$ref: "pet.yaml"}}}}}
`,
		"remote.yaml": `openapi: 3.0.3
info: {title: Remote, version: "1"}
paths:
  /x:
    get:
      responses: {"200": {description: ok, content: {application/json: {schema: {$ref: "http://127.0.0.1:1/schema.yaml"}}}}}
`})
	sp, err := LoadSpec(filepath.Join(dir, "api.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.Ops) != 1 {
		t.Fatalf("ops %d", len(sp.Ops))
	}
	if _, err := LoadSpec(filepath.Join(dir, "remote.yaml"), nil); err == nil || !strings.Contains(err.Error(), "only local files") {
		t.Fatalf("remote $ref: %v", err)
	}
}

// TestReloadOnChange: a live sensor's reports notice a changed spec file.
func TestReloadOnChange(t *testing.T) {
	dir := writeSpecs(t, map[string]string{"pets.yaml": petsV2})
	cfg := NewConfig()
	cfg.Specs = []string{dir}
	cfg.ReloadCheck = time.Millisecond
	st, err := NewState(cfg, zerolog.Nop(), func(string) any { return nil })
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "pets.yaml")
	os.WriteFile(file, []byte(petsV1), 0o644)
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(file, later, later)
	time.Sleep(5 * time.Millisecond)
	st.Report(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false, &sink{})
	if v := st.Router().Specs[0].Version; v != "1.0" {
		t.Fatalf("version after the change: %s", v)
	}
}
