package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

	"github.com/apitap/apitap/reassembly/http1"
)

// Spec is one published API description, bound to hosts and base paths.
type Spec struct {
	File    string
	Title   string
	Version string
	Doc     *openapi3.T
	// Bindings are where the spec applies (from its servers, or the
	// configuration).
	Bindings []Binding
	Ops      []*Op
	root     *rnode
	mtime    time.Time
}

// Binding is a host (or "" for any host) and a base path ("" or /api/v1).
type Binding struct {
	Host string
	Base string
}

// Op is one documented operation.
type Op struct {
	Spec       *Spec
	Method     string // upper case
	Path       string // the spec's path template
	PathItem   *openapi3.PathItem
	Operation  *openapi3.Operation
	Deprecated bool
	query      map[string]bool
	header     map[string]bool // lower case
	cookie     map[string]bool
	statuses   map[int]bool
	ranges     [6]bool // 1XX..5XX
	hasDefault bool
	// version is the API version segment of Path ("" without one).
	version string
	// verParam is its version header or query parameter, if it has one
	// with documented values.
	verParam *versionParam
	// Calls counts transactions matched to the operation (all workers).
	Calls atomic.Uint64
	// validated counts schema validations (sampling).
	validated atomic.Uint64
}

// ID names the operation in findings: "GET /users/{id}".
func (o *Op) ID() string { return o.Method + " " + o.Path }

// documentsStatus says whether the operation documents a response status.
func (o *Op) documentsStatus(st int) bool {
	if o.hasDefault || o.statuses[st] {
		return true
	}
	return st >= 100 && st < 600 && o.ranges[st/100]
}

// LoadError is a spec that could not be used, with where it went wrong.
type LoadError struct {
	File string
	Err  error
}

func (e *LoadError) Error() string { return fmt.Sprintf("spec %s: %v", e.File, e.Err) }

func (e *LoadError) Unwrap() error { return e.Err }

// specFiles expands files and directories (*.yaml, *.yml, *.json).
func specFiles(paths []string) ([]string, []error) {
	var out []string
	var errs []error
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, &LoadError{File: p, Err: err})
			continue
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			errs = append(errs, &LoadError{File: p, Err: err})
			continue
		}
		for _, e := range ents {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".yaml", ".yml", ".json":
				if !e.IsDir() {
					out = append(out, filepath.Join(p, e.Name()))
				}
			}
		}
	}
	sort.Strings(out)
	return out, errs
}

// localOnly reads external $refs from local files only.
func localOnly(l *openapi3.Loader, u *url.URL) ([]byte, error) {
	if u.Scheme != "" && u.Scheme != "file" {
		return nil, fmt.Errorf("external $ref %s: only local files are read", u)
	}
	return os.ReadFile(u.Path)
}

// LoadSpec reads one OpenAPI 3.0/3.1 or Swagger 2.0 document, validates
// it and builds its router.
func LoadSpec(file string, overrides []BindingConfig) (*Spec, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, &LoadError{File: file, Err: err}
	}
	st, _ := os.Stat(file)
	var head struct {
		Swagger string `yaml:"swagger"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return nil, &LoadError{File: file, Err: fmt.Errorf("not YAML or JSON: %w", err)}
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	loader.ReadFromURIFunc = localOnly
	var doc *openapi3.T
	if strings.HasPrefix(head.Swagger, "2") {
		// openapi2 decodes JSON: go through a generic value for YAML files
		var raw any
		if err := yaml.Unmarshal(data, &raw); err != nil {
			return nil, &LoadError{File: file, Err: fmt.Errorf("swagger 2.0: %w", err)}
		}
		js, err := json.Marshal(raw)
		if err != nil {
			return nil, &LoadError{File: file, Err: fmt.Errorf("swagger 2.0: %w", err)}
		}
		var d2 openapi2.T
		if err := json.Unmarshal(js, &d2); err != nil {
			return nil, &LoadError{File: file, Err: fmt.Errorf("swagger 2.0: %w", err)}
		}
		doc, err = openapi2conv.ToV3(&d2)
		if err != nil {
			return nil, &LoadError{File: file, Err: fmt.Errorf("converting swagger 2.0: %w", err)}
		}
	} else {
		abs, _ := filepath.Abs(file)
		doc, err = loader.LoadFromDataWithPath(data, &url.URL{Path: abs})
		if err != nil {
			return nil, &LoadError{File: file, Err: err}
		}
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, &LoadError{File: file, Err: fmt.Errorf("invalid: %w", err)}
	}
	s := &Spec{File: file, Doc: doc, root: &rnode{}}
	if st != nil {
		s.mtime = st.ModTime()
	}
	if doc.Info != nil {
		s.Title, s.Version = doc.Info.Title, doc.Info.Version
	}
	s.Bindings = bindings(doc, file, overrides)
	if doc.Paths == nil {
		return nil, &LoadError{File: file, Err: errors.New("no paths")}
	}
	schemes := securityNames(doc)
	paths := doc.Paths.Map()
	keys := slices.Sorted(maps.Keys(paths))
	for _, p := range keys {
		item := paths[p]
		ops := item.Operations()
		methods := slices.Sorted(maps.Keys(ops))
		for _, m := range methods {
			op := newOp(s, strings.ToUpper(m), p, item, ops[m], schemes)
			s.Ops = append(s.Ops, op)
			s.root.insert(p, op)
		}
	}
	return s, nil
}

// securityNames are the header, query and cookie names of the spec's
// API key schemes: documented everywhere.
func securityNames(doc *openapi3.T) map[string]string {
	out := map[string]string{}
	if doc.Components == nil {
		return out
	}
	for _, ss := range doc.Components.SecuritySchemes {
		if ss == nil || ss.Value == nil {
			continue
		}
		switch v := ss.Value; {
		case v.Type == "apiKey":
			out[strings.ToLower(v.Name)] = v.In
		case v.Type == "http" || v.Type == "oauth2" || v.Type == "openIdConnect":
			out["authorization"] = "header"
		}
	}
	return out
}

func newOp(s *Spec, method, path string, item *openapi3.PathItem, op *openapi3.Operation, schemes map[string]string) *Op {
	o := &Op{Spec: s, Method: method, Path: path, PathItem: item, Operation: op, Deprecated: op.Deprecated,
		query: map[string]bool{}, header: map[string]bool{}, cookie: map[string]bool{}, statuses: map[int]bool{}}
	for _, params := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, pr := range params {
			if pr == nil || pr.Value == nil {
				continue
			}
			if vp := newVersionParam(pr.Value); vp != nil {
				o.verParam = vp
			}
			switch p := pr.Value; p.In {
			case "query":
				o.query[p.Name] = true
			case "header":
				o.header[strings.ToLower(p.Name)] = true
			case "cookie":
				o.cookie[p.Name] = true
			}
		}
	}
	for name, in := range schemes {
		switch in {
		case "query":
			o.query[name] = true
		case "header":
			o.header[name] = true
		case "cookie":
			o.cookie[name] = true
		}
	}
	if op.Responses != nil {
		for code := range op.Responses.Map() {
			switch {
			case code == "default":
				o.hasDefault = true
			case len(code) == 3 && (code[1] == 'X' || code[1] == 'x'):
				if d := code[0] - '0'; d >= 1 && d <= 5 {
					o.ranges[d] = true
				}
			default:
				if n, err := strconv.Atoi(code); err == nil {
					o.statuses[n] = true
				}
			}
		}
	}
	return o
}

// bindings derive hosts and base paths from the spec's servers, unless
// the configuration binds the spec.
func bindings(doc *openapi3.T, file string, overrides []BindingConfig) []Binding {
	for _, ov := range overrides {
		if ov.Spec != filepath.Base(file) && ov.Spec != file && (doc.Info == nil || ov.Spec != doc.Info.Title) {
			continue
		}
		base := strings.TrimRight(ov.BasePath, "/")
		if len(ov.Hosts) == 0 {
			return []Binding{{Base: base}}
		}
		var out []Binding
		for _, h := range ov.Hosts {
			out = append(out, Binding{Host: normHost(h), Base: base})
		}
		return out
	}
	var out []Binding
	seen := map[Binding]bool{}
	for _, srv := range doc.Servers {
		if srv == nil {
			continue
		}
		raw := srv.URL
		for name, v := range srv.Variables {
			if v != nil {
				raw = strings.ReplaceAll(raw, "{"+name+"}", v.Default)
			}
		}
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		b := Binding{Host: normHost(u.Host), Base: strings.TrimRight(u.Path, "/")}
		if !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		out = []Binding{{}}
	}
	return out
}

// normHost lower-cases a host and drops default ports.
func normHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	h = strings.TrimSuffix(h, ":80")
	return strings.TrimSuffix(h, ":443")
}

// specVersionLess orders spec versions: numeric dotted parts compare as
// numbers, the rest as strings.
func specVersionLess(a, b string) bool {
	pa, pb := strings.FieldsFunc(a, isSep), strings.FieldsFunc(b, isSep)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		switch {
		case ea == nil && eb == nil && na != nb:
			return na < nb
		case (ea != nil || eb != nil) && pa[i] != pb[i]:
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}

func isSep(r rune) bool { return r == '.' || r == '-' || r == '_' || r == 'v' }

// changed says whether the spec file changed on disk since it was loaded.
func (s *Spec) changed() bool {
	st, err := os.Stat(s.File)
	return err == nil && !st.ModTime().Equal(s.mtime)
}

// versionParam is an operation's API version header or query parameter
// (api-version, Accept-Version, Stripe-Version, ...) with the values the
// spec documents.
type versionParam struct {
	in, name string // name lower case for headers
	newest   string
}

// newVersionParam returns the version parameter p is, or nil.
func newVersionParam(p *openapi3.Parameter) *versionParam {
	name := strings.ToLower(p.Name)
	if p.In != "header" && p.In != "query" || !(name == "version" || strings.HasSuffix(name, "-version") || strings.HasSuffix(name, "_version")) {
		return nil
	}
	if p.Schema == nil || p.Schema.Value == nil {
		return nil
	}
	s := p.Schema.Value
	var vals []string
	for _, e := range s.Enum {
		if v, ok := e.(string); ok {
			vals = append(vals, v)
		}
	}
	if d, ok := s.Default.(string); ok {
		vals = append(vals, d)
	}
	if len(vals) == 0 {
		return nil
	}
	vp := &versionParam{in: p.In, name: p.Name}
	if p.In == "header" {
		vp.name = name
	}
	for _, v := range vals {
		if vp.newest == "" || versionLess(vp.newest, v) {
			vp.newest = v
		}
	}
	return vp
}

// versionParam returns the version a request asks for when it is older
// than the newest the operation documents, with that newest ("name:
// value"); "" otherwise.
func (o *Op) versionParam(req *http1.Request) (old, newest string) {
	vp := o.verParam
	if vp == nil {
		return "", ""
	}
	v := ""
	if vp.in == "header" {
		for i := range req.Headers {
			if strings.EqualFold(req.Headers[i].Name, vp.name) {
				v = strings.TrimSpace(req.Headers[i].Value)
				break
			}
		}
	} else {
		for q := req.Query; q != "" && v == ""; {
			var kv string
			kv, q, _ = strings.Cut(q, "&")
			if k, val, _ := strings.Cut(kv, "="); k == vp.name {
				v = unescape(val)
			}
		}
	}
	if v == "" || !versionLess(v, vp.newest) {
		return "", ""
	}
	return boundedName(v), vp.name + ": " + vp.newest
}
