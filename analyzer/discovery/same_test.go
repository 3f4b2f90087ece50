package discovery

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/apitap/apitap/analyzer/graphql/gqlreq"
	"github.com/apitap/apitap/reassembly/http1"
)

// The forms below are the straightforward versions of functions that were
// rewritten to allocate less: the rewrites must answer exactly as they do.

func templateRef(path string) string {
	if grpcShaped(path) {
		return path
	}
	var b strings.Builder
	prev := ""
	var names []PathParam
	depth := 0
	Segments(path, func(seg string) bool {
		b.WriteByte('/')
		if k, suffix := segKind(seg, depth); k != KindLiteral {
			name := uniqueName(paramNameRef(prev, k), names)
			names = append(names, PathParam{Name: name})
			b.WriteString("{" + name + "}" + escapeSegment(suffix))
			prev = ""
			depth++
			return true
		}
		b.WriteString(escapeSegment(seg))
		prev = seg
		depth++
		return true
	})
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

func paramNameRef(prev string, k Kind) string {
	if prev == "" || isVersion(prev) {
		switch k {
		case KindDate:
			return "date"
		case KindEmail:
			return "email"
		}
		return "id"
	}
	w := singularRef(prev)
	var b strings.Builder
	up := false
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c == '-' || c == '_' || c == '.' {
			up = b.Len() > 0
			continue
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			continue
		}
		if up && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up = false
		if b.Len() == 0 && c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	if b.Len() == 0 {
		return "id"
	}
	switch k {
	case KindDate:
		return b.String() + "Date"
	case KindEmail:
		return b.String() + "Email"
	}
	return b.String() + "Id"
}

func singularRef(w string) string {
	lw := strings.ToLower(w)
	switch {
	case strings.HasSuffix(lw, "ies") && len(w) > 4:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(lw, "sses"), strings.HasSuffix(lw, "xes"), strings.HasSuffix(lw, "ches"), strings.HasSuffix(lw, "shes"):
		return w[:len(w)-2]
	case strings.HasSuffix(lw, "ss"), strings.HasSuffix(lw, "us"), strings.HasSuffix(lw, "is"):
		return w
	case strings.HasSuffix(lw, "s") && len(w) > 3:
		return w[:len(w)-1]
	}
	return w
}

// samePaths are paths of many shapes: API paths with ids of every kind,
// repeated names, odd bytes, non-ASCII names, gRPC methods.
func samePaths() []string {
	ps := []string{"", "/", "//", "/a//b/;x=1", "/v1/users/8812/orders/5f0c9a1e-3b2d-4c8e-9f1a-2b3c4d5e6f70",
		"/v1/users/me", "/Categories/12/Categories/13/Categories/14", "/users/1/users/2/users/3/users/4",
		"/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls/CA1.json", "/Calls/CA0123456789abcdef0123456789abcdef.JSON",
		"/boxes/12", "/BUSES/7", "/statuses/99", "/İS/1", "/KİES/4", "/caféS/1", "/ünicodes/2026-01-02", "/x/a@b.c",
		"/people/+4915112345678", "/a b/1", "/%2e%2e/{x}/", "/pkg.Service/Method", "/grpc.health.v1.Health/Check",
		"/orders/ord_8812/items/inv_JKRXjXcAaUyAQT", "/keys/3b:16:bf:aa:01:02", "/v2beta1/things/DSGFQILMDPCSDYBGVT",
		"/a-b_c.d/1", "/-/1", "/___/1", "/ies/1", "/xies/1", "/classes/1", "/analysis/1", "/status/1",
		"/emails/2026-01-02T10:00:00Z", "/u/a.b@c.de", "/files/12.csv", "/files/12.exe", "/v1/1/1/1/1/1/1/1/1/1/1/1/1/1/1/1/1/1/1/1/1",
		strings.Repeat("/users/12", 40), strings.Repeat("/x", 200) + "/1"}
	r := rand.New(rand.NewPCG(1, 2))
	atoms := []string{"users", "Users", "orders", "v1", "v2", "1", "42", "5f0c9a1e-3b2d-4c8e-9f1a-2b3c4d5e6f70", "2026-01-02",
		"a@b.co", "+4915112345678", "deadbeef01", "ord_8812", "me", "search", "x.json", "12.json", "café", "\xff", "%41", "a b",
		";m=1", "", "categories", "buses", "ies", "İS", "token_ABCDEFGH12345678", "DSGFQILMDPCSDYBGVT", "a-b", "_", "{x}"}
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for n := r.IntN(8); n >= 0; n-- {
			b.WriteByte('/')
			b.WriteString(atoms[r.IntN(len(atoms))])
			if r.IntN(10) == 0 {
				b.WriteString(strconv.Itoa(r.IntN(1000)))
			}
		}
		ps = append(ps, b.String())
	}
	return ps
}

func TestTemplateSame(t *testing.T) {
	for _, p := range samePaths() {
		if got, want := Template(p), templateRef(p); got != want {
			t.Fatalf("Template(%q) = %q, want %q", p, got, want)
		}
		for _, seg := range strings.Split(p, "/") {
			for k := KindLiteral; k < numKinds; k++ {
				if got, want := paramName(seg, k), paramNameRef(seg, k); got != want {
					t.Fatalf("paramName(%q, %v) = %q, want %q", seg, k, got, want)
				}
			}
			if got, want := singular(seg), singularRef(seg); got != want {
				t.Fatalf("singular(%q) = %q, want %q", seg, got, want)
			}
		}
	}
}

// FuzzTemplateSame: Template answers as the straightforward form does.
func FuzzTemplateSame(f *testing.F) {
	for _, p := range samePaths()[:60] {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if got, want := Template(p), templateRef(p); got != want {
			t.Fatalf("Template(%q) = %q, want %q", p, got, want)
		}
		if got, want := singular(p), singularRef(p); got != want {
			t.Fatalf("singular(%q) = %q, want %q", p, got, want)
		}
	})
}

func BenchmarkTemplate(b *testing.B) {
	ps := []string{"/v1/users/8812/orders/5f0c9a1e-3b2d-4c8e-9f1a-2b3c4d5e6f70", "/api/products/1234/reviews", "/v2/accounts/ord_8812/invoices"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = Template(ps[i%len(ps)])
	}
}

func BenchmarkTemplateRef(b *testing.B) {
	ps := []string{"/v1/users/8812/orders/5f0c9a1e-3b2d-4c8e-9f1a-2b3c4d5e6f70", "/api/products/1234/reviews", "/v2/accounts/ord_8812/invoices"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = templateRef(ps[i%len(ps)])
	}
}

func skipStringRef(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

func TestSkipStringSame(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alpha := []byte(`"\\a"\\\`)
	for n := 0; n < 300000; n++ {
		// short strings, and long ones that pass skipString's byte loop
		b := make([]byte, 1+r.IntN([]int{12, 64}[n%2]))
		b[0] = '"'
		for i := 1; i < len(b); i++ {
			b[i] = alpha[r.IntN(len(alpha))]
		}
		if got, want := skipString(b, 0), skipStringRef(b, 0); got != want {
			t.Fatalf("skipString(%q) = %d, want %d", b, got, want)
		}
	}
}

func TestUUIDSame(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	alpha := []byte("0123456789abcdefABCDEFgz-_")
	for n := 0; n < 300000; n++ {
		b := []byte("5f0c9a1e-3b2d-4c8e-9f1a-2b3c4d5e6f70")
		for k := r.IntN(3); k >= 0; k-- {
			b[r.IntN(len(b))] = alpha[r.IntN(len(alpha))]
		}
		if got, want := isUUID(b), classify(string(b)) == KindUUID; got != want {
			t.Fatalf("isUUID(%q) = %v, want %v", b, got, want)
		}
	}
}

func classifyRef(s string) Kind {
	n := len(s)
	if n == 0 {
		return KindLiteral
	}
	if isVersion(s) {
		return KindLiteral
	}
	var digits, lower, upper, hexLetters, other, dashes int
	for i := 0; i < n; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'z':
			lower++
			if c <= 'f' {
				hexLetters++
			}
		case c >= 'A' && c <= 'Z':
			upper++
			if c <= 'F' {
				hexLetters++
			}
		case c == '-':
			dashes++
		default:
			other++
		}
	}
	switch {
	case digits == n:
		return KindInt
	case n > 1 && s[0] == '+' && digits == n-1 && n >= 9:
		return KindPhone
	case n == 36 && dashes == 4 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' && digits+hexLetters == 32:
		return KindUUID
	case other == 0 && dashes == 0 && n >= 8 && digits+hexLetters == n && digits > 0 && (lower == 0 || upper == 0):
		return KindHex
	case n >= 11 && other > 0 && digits+hexLetters+other == n && digits > 0 && strings.Count(s, ":") == other && (lower == 0 || upper == 0):
		// colon-separated hex: MAC addresses, key fingerprints (3b:16:bf:...)
		return KindHex
	case isDate(s):
		return KindDate
	case strings.IndexByte(s, '@') > 0 && strings.IndexByte(s, '.') > 0:
		return KindEmail
	}
	if n >= 16 && digits > 0 && lower+upper > 0 && other <= 2 {
		// long mixed tokens: base64url ids, ULIDs, KSUIDs, Stripe-like ids
		return KindToken
	}
	if n >= 12 && upper >= 3 && lower >= 3 && (caseSwitches(s)*3 >= n || upper*3 >= n) {
		// random base62 without digits: inv_JKRXjXcAaUyAQT (camelCase
		// words switch case only a few times)
		return KindToken
	}
	if n >= 6 && digits >= 3 && lower+upper > 0 && digits*3 >= n && other <= 2 {
		// short ids mixing letters and many digits: ord_8812, A1B2C3D4
		return KindToken
	}
	if n >= 16 && upper+digits == n {
		// opaque upper-case keys: DSGFQILMDPCSDYBGVT
		return KindToken
	}
	return KindLiteral
}

func TestClassifySame(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	alpha := []byte("0123456789abcdefghzABCDEFGZ-_.:@+T~\xff")
	for _, p := range samePaths() {
		for _, seg := range strings.Split(p, "/") {
			if got, want := classify(seg), classifyRef(seg); got != want {
				t.Fatalf("classify(%q) = %v, want %v", seg, got, want)
			}
		}
	}
	for n := 0; n < 500000; n++ {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = alpha[r.IntN(len(alpha))]
		}
		if len(b) == 36 && r.IntN(2) == 0 {
			b[8], b[13], b[18], b[23] = '-', '-', '-', '-'
		}
		if got, want := classify(string(b)), classifyRef(string(b)); got != want {
			t.Fatalf("classify(%q) = %v, want %v", b, got, want)
		}
	}
}

// TestSchemaGuessSame: the guesses at property places change nothing of
// the inferred schema: bodies with keys in changing orders, inferred into
// one tree, give the schema of a tree that never guesses right.
func TestSchemaGuessSame(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	keys := []string{"id", "name", "email", "created_at", "items", "a", "b", "zeta", "Alpha", "x_y"}
	var bodies [][]byte
	for n := 0; n < 300; n++ {
		var b strings.Builder
		b.WriteString("[")
		for o := r.IntN(3); o >= 0; o-- {
			if o < 2 {
				b.WriteString("{")
				perm := r.Perm(len(keys))
				for j, k := range perm[:1+r.IntN(len(keys))] {
					if j > 0 {
						b.WriteString(",")
					}
					b.WriteString(`"` + keys[k] + `":`)
					switch r.IntN(4) {
					case 0:
						b.WriteString(`{"id":1,"name":"x"}`)
					case 1:
						b.WriteString(`"2026-01-02"`)
					case 2:
						b.WriteString(`[1,2]`)
					default:
						b.WriteString(`null`)
					}
				}
				b.WriteString("}")
			} else {
				b.WriteString(`{"id":7,"name":"y"}`)
			}
			if o > 0 {
				b.WriteString(",")
			}
		}
		b.WriteString("]")
		bodies = append(bodies, []byte(b.String()))
	}
	var guessed, fresh schemaTree
	for _, body := range bodies {
		if !guessed.infer(body) {
			t.Fatalf("invalid body %s", body)
		}
		// a tree whose guesses are all cleared before each body
		clearGuesses(&fresh.root)
		fresh.infer(body)
	}
	g, _ := json.Marshal(guessed.root.JSONSchema())
	f, _ := json.Marshal(fresh.root.JSONSchema())
	if string(g) != string(f) {
		t.Fatalf("schemas differ:\n%s\n%s", g, f)
	}
}

func clearGuesses(n *schemaNode) {
	n.first, n.next = 255, 255
	for _, p := range n.props {
		clearGuesses(p.n)
	}
	if n.items != nil {
		clearGuesses(n.items)
	}
}

func BenchmarkSchemaInfer(b *testing.B) {
	body := []byte(`{"id":8812,"name":"Ada Lovelace","email":"ada@example.com","created_at":"2026-01-02T10:00:00Z",` +
		`"address":{"street":"12 Analytical Row","city":"London","zip":"N1 9GU"},"uuid":"5f0c9a1e-3b2d-4c8e-9f1a-2b3c4d5e6f70",` +
		`"orders":[{"id":1,"total":12.5,"items":["a","b"]},{"id":2,"total":3,"items":[]}],"active":true,"note":null}`)
	var st schemaTree
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		st.infer(body)
	}
}

// TestSummarySame: Summary is JSON without the schemas, and the
// decorator sees the same endpoint.
func TestSummarySame(t *testing.T) {
	cat := NewCatalog(NewConfig(), "t")
	var seen []string
	cat.SetDecorator(func(j *EndpointJSON) {
		b, _ := json.Marshal(j)
		seen = append(seen, string(b))
	})
	o := cat.Observer()
	for i := 0; i < 40; i++ {
		x := tx([]string{"POST", "GET"}[i%2], "api", "/orders/"+strconv.Itoa(i%5)+"?limit=3", 200+i%3)
		x.Request.Headers = []http1.Header{{Name: "Content-Type", Value: "application/json"}}
		x.Request.Body.Data = []byte(`{"sku":"A","qty":` + strconv.Itoa(i) + `,"ship":{"zip":"94103"}}`)
		x.Response.Headers = []http1.Header{{Name: "Content-Type", Value: "application/json"}}
		x.Response.Body.Data = []byte(`{"id":"5f0c9a1e-3b2d-4c8e-9f1a-2b3c4d5e6f70","items":[{"n":1}]}`)
		x.Notes.SensitiveResponse = 1 << (i % 3)
		o.Analyze(x, nil)
	}
	v := cat.View()
	if len(v.Endpoints) == 0 {
		t.Fatal("no endpoints")
	}
	for _, ep := range v.Endpoints {
		seen = nil
		full := ep.JSON(v.Time)
		if full.RequestSchema == nil && full.ResponseSchemas == nil {
			t.Fatalf("%s %s: no schema to leave out", ep.Method, ep.Path)
		}
		full.RequestSchema, full.ResponseSchemas = nil, nil
		sum := ep.Summary(v.Time)
		a, _ := json.Marshal(full)
		b, _ := json.Marshal(sum)
		if string(a) != string(b) {
			t.Fatalf("Summary differs from JSON without schemas:\n%s\n%s", a, b)
		}
		if len(seen) != 2 {
			t.Fatalf("decorator called %d times", len(seen))
		}
	}
}

func probePathRef(p string) probeClass {
	plain := true
	for i := 0; i < len(p) && plain; i++ {
		c := p[i]
		plain = pathPlain[c] || c == '.' && (i+1 == len(p) || p[i+1] != '.')
	}
	c := probeNone
	if !plain {
		Segments(p, func(seg string) bool {
			c = probeSegment(seg)
			return c == probeNone
		})
	}
	if c == probeNone && sensitivePath(p) {
		return probeTraversal
	}
	return c
}

// TestProbePathSame: probePath's one-pass test of the path agrees with
// the form that always ran sensitivePath.
func TestProbePathSame(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	parts := []string{"/", "/", "/", "api", "v2", "etc/", "Etc/", "proc/", "self/", "c", "2", "system32/", "ystem32/", "passwd",
		".", "..", ".ssh/", "id_rsa", "win.ini", "%2e", "%2f", "(", ")", ":", "=", "&", "$", "{{", "<", "x", "WEB-INF/web.xml", ".json"}
	for n := 0; n < 300000; n++ {
		var b strings.Builder
		for k := r.IntN(8); k >= 0; k-- {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		p := b.String()
		if got, want := probePath(p), probePathRef(p); got != want {
			t.Fatalf("probePath(%q) = %v, want %v", p, got, want)
		}
		if _, dot := probePathDot(p); !dot && strings.Contains(p, ".") {
			t.Fatalf("probePathDot(%q) says no dot", p)
		}
	}
	for _, p := range samePaths() {
		if got, want := probePath(p), probePathRef(p); got != want {
			t.Fatalf("probePath(%q) = %v, want %v", p, got, want)
		}
	}
}

func BenchmarkProbePath(b *testing.B) {
	paths := []string{"/api/organizations/c8bd2ce8-2b24-549c-8ed2-4f4f6016bca4/projects/7d0a1f31-0e63-8fe0-58bc-aa8afc29f20d",
		"/v1/products/clearance", "/api/me", "/v2/products/481/reviews", "/blog/posts/nova-jasper-7/comments"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		probePath(paths[i%len(paths)])
	}
}

// TestLooksGraphQLSame: looksGraphQL answers as gqlreq.Looks.
func TestLooksGraphQLSame(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	parts := []string{`{`, `[`, ` `, "\n", `"query"`, `"persistedQuery"`, `"Query"`, `uery"`, `"q"`, `:`, `"x"`, `}`, `]`, `query=`, `1`}
	cts := []string{"", "application/json", "application/graphql", "Application/GraphQL; charset=utf-8", "text/graphql", "application/graphql-response+json", "GRAPHQL"}
	for n := 0; n < 100000; n++ {
		var b strings.Builder
		for k := r.IntN(6); k > 0; k-- {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		req := &http1.Request{Method: []string{"GET", "POST", "PUT"}[r.IntN(3)], Query: b.String()}
		req.Body.Data = []byte(b.String())
		if ct := cts[r.IntN(len(cts))]; ct != "" {
			req.Headers = []http1.Header{{Name: "Content-Type", Value: ct}}
		}
		if got, want := looksGraphQL(req), gqlreq.Looks(req); got != want {
			t.Fatalf("looksGraphQL(%s %q, %q) = %v, want %v", req.Method, req.Body.Data, http1.Get(req.Headers, http1.IDContentType), got, want)
		}
	}
	if looksGraphQL(nil) {
		t.Fatal("nil request")
	}
}

// TestSettledFormatsSame: skipping the formats of strings whose node has
// settled on none gives the schemas of looking at every string.
func TestSettledFormatsSame(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	vals := []string{`"2026-01-02"`, `"2026-01-02T10:00:00Z"`, `"ada@example.com"`, `"5f0c9a1e-3b2d-4c8e-9f1a-2b3c4d5e6f70"`,
		`"https://example.com/x"`, `"10.0.0.1"`, `"plain text"`, `""`, `1`, `null`}
	keys := []string{"a", "b", "c", "d"}
	for round := 0; round < 200; round++ {
		var fast, slow schemaTree
		for n := 0; n < 30; n++ {
			var b strings.Builder
			b.WriteString(`{"list":[`)
			for k := r.IntN(4); k >= 0; k-- {
				b.WriteString(`{`)
				for j, key := range keys[:1+r.IntN(len(keys))] {
					if j > 0 {
						b.WriteString(",")
					}
					// each key draws from a few formats, so nodes settle at
					// different points (or never)
					b.WriteString(`"` + key + `":` + vals[(j*3+r.IntN(2+round%4))%len(vals)])
				}
				b.WriteString(`}`)
				if k > 0 {
					b.WriteString(",")
				}
			}
			b.WriteString(`],"s":` + vals[r.IntN(len(vals))] + `}`)
			body := []byte(b.String())
			fast.infer(body)
			skipSettled = false
			slow.infer(body)
			skipSettled = true
		}
		f, _ := json.Marshal(fast.root.JSONSchema())
		s, _ := json.Marshal(slow.root.JSONSchema())
		if string(f) != string(s) {
			t.Fatalf("schemas differ:\n%s\n%s", f, s)
		}
	}
}
