package gqlreq

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/apitap/apitap/reassembly/http1"
)

// Limits bound what one request costs.
type Limits struct {
	MaxQueryBytes int // longer queries are not parsed (flag TooLarge); default 64 KiB
	MaxTokens     int // parser token limit; default 20000
	MaxBatch      int // operations read from one batch; default 100
	MaxNames      int // root fields, arguments and variables kept per operation; default 64
	MaxWalk       int // selections walked per operation (fragments expanded); default 20000
}

// WithDefaults fills zero fields.
func (l Limits) WithDefaults() Limits {
	if l.MaxQueryBytes <= 0 {
		l.MaxQueryBytes = 64 << 10
	}
	if l.MaxTokens <= 0 {
		l.MaxTokens = 20000
	}
	if l.MaxBatch <= 0 {
		l.MaxBatch = 100
	}
	if l.MaxNames <= 0 {
		l.MaxNames = 64
	}
	if l.MaxWalk <= 0 {
		l.MaxWalk = 20000
	}
	return l
}

// Carriers (Request.Via).
const (
	ViaJSON      = "json"      // POST JSON body
	ViaGraphQL   = "graphql"   // application/graphql body
	ViaGET       = "get"       // GET ?query=
	ViaWebSocket = "websocket" // graphql-ws / subscriptions-transport-ws message
)

// Variable is one declared variable.
type Variable struct {
	Name, Type string
}

// Operation summarises one operation of a request.
type Operation struct {
	Type string // "query", "mutation", "subscription"
	Name string // operation name ("" when anonymous)
	// RootFields are the fields selected at the top (names, not aliases),
	// sorted, unique; Args the argument names used anywhere, as
	// "field.arg", sorted, unique; Variables as declared.
	RootFields []string
	Args       []string
	Variables  []Variable
	// Depth is the deepest selection (root fields are depth 1), fragments
	// expanded; Fields counts the fields selected (fragments expanded);
	// Aliases the aliased fields; MaxRepeat the most times one field name
	// is selected in one selection set (alias duplication); Directives the
	// directive uses, MaxDirectives the most on one field or fragment use.
	Depth, Fields, Aliases, MaxRepeat, Directives, MaxDirectives int
	// Introspection: __schema or __type selected at the top.
	Introspection bool
	// FragmentCycle: a fragment spreads itself, directly or not.
	FragmentCycle bool
	// Persisted: only a persisted-query hash was sent (no query text);
	// Hash is its first 16 hex digits.
	Persisted bool
	Hash      string
	// Truncated: a bound cut the walk (counts are lower bounds).
	Truncated bool
	// Index is the operation's element in a batch (0 otherwise): its
	// answer is the element at Index of the response array.
	Index int
	// Literals are the string literals of arguments (inline values, not
	// variables), named "field.arg" (at most MaxNames, each at most 4 KiB),
	// for the attack analyzer's inputs.
	Literals []Literal
	// VariablesJSON is the request's variables object (raw JSON, a view
	// of the request body or of a decoded string; valid as long as the
	// request), for the attack analyzer's inputs.
	VariablesJSON []byte
	// RootSelections counts the fields selected at the top, aliases
	// included (fragments expanded): RootSelections-len(RootFields) are
	// repeats of a root field under other aliases.
	RootSelections int
	// Roots are a mutation's root selections (at most MaxNames) with
	// their string-valued arguments, for the detectors that count what a
	// mutation does (logins); nil for queries and subscriptions.
	Roots []Root
}

// Root is one root selection of a mutation.
type Root struct {
	Key  string // the response key: the alias, or the field name
	Name string // the field name
	// Args are the string-valued arguments: literals and variables, an
	// input object's fields named "arg.field" (at most MaxNames).
	Args []Arg
}

// Arg is an argument's string value: a literal (Value) or a variable
// (Var, its name without "$"), to be looked up in VariablesJSON.
type Arg struct {
	Name, Value, Var string
}

// Literal is a string literal of an argument.
type Literal struct {
	Name, Value string
}

// Key is the operation's catalog key: "type name", or for an anonymous
// operation "type {root,fields}".
func (o *Operation) Key() string {
	if o.Name != "" {
		return o.Type + " " + o.Name
	}
	return o.Type + " {" + strings.Join(o.RootFields, ",") + "}"
}

// Request is a recognised GraphQL request.
type Request struct {
	Via string
	// Batch is the number of operations the request carried (a JSON array
	// of requests; 1 otherwise), Ops the ones read (MaxBatch).
	Batch int
	Ops   []Operation
	// ParseErrors counts operations whose query did not parse; TooLarge
	// those longer than MaxQueryBytes (neither is in Ops).
	ParseErrors, TooLarge int
	// MessageID is the operation id a GraphQL-over-WebSocket client
	// message gave (ParseMessage): the server's answers carry it.
	MessageID string
}

// body is one JSON request object.
type body struct {
	Query         *string         `json:"query"`
	OperationName string          `json:"operationName"`
	Variables     json.RawMessage `json:"variables"`
	Extensions    struct {
		PersistedQuery *struct {
			Hash string `json:"sha256Hash"`
		} `json:"persistedQuery"`
	} `json:"extensions"`
}

// Parser extracts GraphQL requests. It is not safe for concurrent use.
type Parser struct {
	lim  Limits
	reqs []body
	walk walker
}

// NewParser returns a Parser with lim's defaults filled.
func NewParser(lim Limits) *Parser { return &Parser{lim: lim.WithDefaults()} }

// Looks says cheaply whether req may be a GraphQL request (before Parse).
func Looks(req *http1.Request) bool {
	if req == nil {
		return false
	}
	if req.Method == "GET" {
		return strings.Contains(req.Query, "query=") || strings.Contains(req.Query, "extensions=")
	}
	b := req.Body.Bytes()
	if len(b) == 0 {
		return false
	}
	ct := strings.ToLower(http1.Get(req.Headers, http1.IDContentType))
	if strings.HasPrefix(ct, "application/graphql") {
		return true
	}
	return (b[0] == '{' || b[0] == '[' || b[0] == ' ' || b[0] == '\n') && (bytes.Contains(b, []byte(`"query"`)) || bytes.Contains(b, []byte(`"persistedQuery"`)))
}

// Parse recognises a GraphQL request (nil when req is not one).
func (p *Parser) Parse(req *http1.Request) *Request {
	if !Looks(req) {
		return nil
	}
	if req.Method == "GET" {
		return p.parseGET(req.Query)
	}
	ct := strings.ToLower(http1.Get(req.Headers, http1.IDContentType))
	if strings.HasPrefix(ct, "application/graphql") {
		r := &Request{Via: ViaGraphQL, Batch: 1}
		q := string(req.Body.Bytes())
		p.add(r, &q, "", nil, "")
		return r
	}
	return p.ParseJSON(req.Body.Bytes(), ViaJSON)
}

// ParseJSON reads a JSON request object or a batch (array) of them.
func (p *Parser) ParseJSON(b []byte, via string) *Request {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	// encoding/json decodes a batch into the slice's old elements without
	// zeroing them: a field the new request lacks (a persisted-query
	// hash) would be the previous batch's
	clear(p.reqs[:cap(p.reqs)])
	p.reqs = p.reqs[:0]
	if b[0] == '[' {
		if err := json.Unmarshal(b, &p.reqs); err != nil {
			return nil
		}
	} else {
		var one body
		if err := json.Unmarshal(b, &one); err != nil {
			return nil
		}
		p.reqs = append(p.reqs, one)
	}
	r := &Request{Via: via, Batch: len(p.reqs)}
	for i := range p.reqs {
		q := &p.reqs[i]
		if q.Query == nil && q.Extensions.PersistedQuery == nil {
			continue
		}
		if len(r.Ops) >= p.lim.MaxBatch {
			break
		}
		hash := ""
		if q.Extensions.PersistedQuery != nil {
			hash = q.Extensions.PersistedQuery.Hash
		}
		n := len(r.Ops)
		p.add(r, q.Query, q.OperationName, q.Variables, hash)
		if len(r.Ops) > n {
			r.Ops[n].Index = i
		}
	}
	if len(r.Ops) == 0 && r.ParseErrors == 0 && r.TooLarge == 0 {
		return nil
	}
	return r
}

func (p *Parser) parseGET(rawQuery string) *Request {
	vals, err := url.ParseQuery(rawQuery)
	if err != nil && len(vals) == 0 {
		return nil
	}
	q, hasQ := vals["query"]
	hash := ""
	if ext := vals.Get("extensions"); ext != "" {
		var e struct {
			PersistedQuery *struct {
				Hash string `json:"sha256Hash"`
			} `json:"persistedQuery"`
		}
		if json.Unmarshal([]byte(ext), &e) == nil && e.PersistedQuery != nil {
			hash = e.PersistedQuery.Hash
		}
	}
	if !hasQ && hash == "" {
		return nil
	}
	r := &Request{Via: ViaGET, Batch: 1}
	var qp *string
	if hasQ {
		qp = &q[0]
	}
	var vars []byte
	if v := vals.Get("variables"); v != "" {
		vars = []byte(v)
	}
	p.add(r, qp, vals.Get("operationName"), vars, hash)
	if len(r.Ops) == 0 && r.ParseErrors == 0 && r.TooLarge == 0 {
		return nil
	}
	return r
}

// add parses one query and appends its selected operation to r.
func (p *Parser) add(r *Request, q *string, opName string, vars []byte, hash string) {
	if len(vars) > 0 && (vars[0] != '{' || string(vars) == "null") {
		vars = nil
	}
	if q == nil || strings.TrimSpace(*q) == "" {
		if hash == "" {
			return
		}
		r.Ops = append(r.Ops, Operation{Type: "query", Name: bound(opName, 128), Persisted: true, Hash: bound(hash, 16), VariablesJSON: vars})
		return
	}
	if len(*q) > p.lim.MaxQueryBytes {
		r.TooLarge++
		return
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: *q}, p.lim.MaxTokens)
	if err != nil || doc == nil || len(doc.Operations) == 0 {
		r.ParseErrors++
		return
	}
	op := doc.Operations[0]
	if opName != "" {
		if o := doc.Operations.ForName(opName); o != nil {
			op = o
		}
	}
	o := Operation{Type: string(op.Operation), Name: bound(op.Name, 128), Hash: bound(hash, 16), VariablesJSON: vars}
	if o.Type == "" {
		o.Type = "query"
	}
	for _, v := range op.VariableDefinitions {
		if len(o.Variables) >= p.lim.MaxNames {
			o.Truncated = true
			break
		}
		o.Variables = append(o.Variables, Variable{Name: bound(v.Variable, 128), Type: bound(v.Type.String(), 128)})
	}
	p.walk.run(&o, op, doc.Fragments, p.lim)
	r.Ops = append(r.Ops, o)
}

// bound cuts s to n bytes (names are kept in the catalog).
func bound(s string, n int) string {
	if len(s) > n {
		return strings.Clone(s[:n])
	}
	return s
}

// walker walks an operation's selections, fragments expanded.
type walker struct {
	frags   ast.FragmentDefinitionList
	lim     Limits
	steps   int
	active  map[string]bool
	roots   map[string]bool
	args    map[string]bool
	o       *Operation
	counter map[string]int
}

func (w *walker) run(o *Operation, op *ast.OperationDefinition, frags ast.FragmentDefinitionList, lim Limits) {
	w.frags, w.lim, w.steps, w.o = frags, lim, 0, o
	w.active, w.roots, w.args = map[string]bool{}, map[string]bool{}, map[string]bool{}
	w.counter = map[string]int{}
	w.directives(len(op.Directives))
	w.set(op.SelectionSet, 1, true)
	o.RootFields = sortedKeys(w.roots, lim.MaxNames, o)
	o.Args = sortedKeys(w.args, lim.MaxNames, o)
	// a cycle through fragments the operation does not reach is still one
	if !o.FragmentCycle {
		for _, f := range frags {
			clear(w.active)
			if w.cycle(f.Name, 0) {
				o.FragmentCycle = true
				break
			}
		}
	}
}

func (w *walker) directives(n int) {
	w.o.Directives += n
	w.o.MaxDirectives = max(w.o.MaxDirectives, n)
}

// set walks one selection set at depth d.
func (w *walker) set(ss ast.SelectionSet, d int, root bool) {
	local := w.counter
	if len(ss) > 1 {
		local = map[string]int{}
	}
	for _, s := range ss {
		w.steps++
		if w.steps > w.lim.MaxWalk || d > 512 {
			w.o.Truncated = true
			return
		}
		switch s := s.(type) {
		case *ast.Field:
			w.o.Fields++
			w.o.Depth = max(w.o.Depth, d)
			if s.Alias != "" && s.Alias != s.Name {
				w.o.Aliases++
			}
			w.directives(len(s.Directives))
			if len(ss) > 1 {
				local[s.Name]++
				w.o.MaxRepeat = max(w.o.MaxRepeat, local[s.Name])
			} else {
				w.o.MaxRepeat = max(w.o.MaxRepeat, 1)
			}
			if root {
				w.o.RootSelections++
				if w.o.Type == "mutation" && len(w.o.Roots) < w.lim.MaxNames {
					w.o.Roots = append(w.o.Roots, w.root(s))
				}
				w.roots[s.Name] = true
				if s.Name == "__schema" || s.Name == "__type" {
					w.o.Introspection = true
				}
			}
			for _, a := range s.Arguments {
				w.args[s.Name+"."+a.Name] = true
				w.literals(s.Name+"."+a.Name, a.Value, 0)
			}
			if len(s.SelectionSet) > 0 {
				w.set(s.SelectionSet, d+1, false)
			}
		case *ast.InlineFragment:
			w.directives(len(s.Directives))
			w.set(s.SelectionSet, d, root)
		case *ast.FragmentSpread:
			w.directives(len(s.Directives))
			if w.active[s.Name] {
				w.o.FragmentCycle = true
				continue
			}
			f := w.frags.ForName(s.Name)
			if f == nil {
				continue
			}
			w.active[s.Name] = true
			w.set(f.SelectionSet, d, root)
			delete(w.active, s.Name)
		}
	}
}

// root summarises a mutation's root selection.
func (w *walker) root(f *ast.Field) Root {
	r := Root{Key: bound(f.Alias, 128), Name: bound(f.Name, 128)}
	if r.Key == "" {
		r.Key = r.Name
	}
	var add func(name string, v *ast.Value, depth int)
	add = func(name string, v *ast.Value, depth int) {
		if v == nil || depth > 2 || len(r.Args) >= w.lim.MaxNames {
			return
		}
		switch v.Kind {
		case ast.StringValue, ast.BlockValue:
			r.Args = append(r.Args, Arg{Name: bound(name, 128), Value: bound(v.Raw, 1024)})
		case ast.Variable:
			r.Args = append(r.Args, Arg{Name: bound(name, 128), Var: bound(v.Raw, 128)})
		case ast.ObjectValue:
			for _, c := range v.Children {
				add(name+"."+c.Name, c.Value, depth+1)
			}
		}
	}
	for _, a := range f.Arguments {
		add(a.Name, a.Value, 0)
	}
	return r
}

// literals collects the string literals of an argument value.
func (w *walker) literals(name string, v *ast.Value, depth int) {
	if v == nil || depth > 8 {
		return
	}
	switch v.Kind {
	case ast.StringValue, ast.BlockValue:
		if len(w.o.Literals) >= w.lim.MaxNames {
			w.o.Truncated = true
			return
		}
		w.o.Literals = append(w.o.Literals, Literal{Name: bound(name, 128), Value: bound(v.Raw, 4096)})
	case ast.ListValue, ast.ObjectValue:
		for _, c := range v.Children {
			n := name
			if c.Name != "" {
				n = name + "." + c.Name
			}
			w.literals(n, c.Value, depth+1)
		}
	}
}

// cycle says whether fragment name reaches itself.
func (w *walker) cycle(name string, depth int) bool {
	if depth > 64 {
		return false
	}
	if w.active[name] {
		return true
	}
	f := w.frags.ForName(name)
	if f == nil {
		return false
	}
	w.active[name] = true
	found := w.spreads(f.SelectionSet, depth)
	delete(w.active, name)
	return found
}

func (w *walker) spreads(ss ast.SelectionSet, depth int) bool {
	for _, s := range ss {
		switch s := s.(type) {
		case *ast.Field:
			if w.spreads(s.SelectionSet, depth) {
				return true
			}
		case *ast.InlineFragment:
			if w.spreads(s.SelectionSet, depth) {
				return true
			}
		case *ast.FragmentSpread:
			if w.cycle(s.Name, depth+1) {
				return true
			}
		}
	}
	return false
}

func sortedKeys(m map[string]bool, n int, o *Operation) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, bound(k, 128))
	}
	slices.Sort(out)
	if len(out) > n {
		out = out[:n]
		o.Truncated = true
	}
	return out
}
