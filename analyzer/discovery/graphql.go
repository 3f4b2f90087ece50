package discovery

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apitap/apitap/analyzer/graphql/gqlreq"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// GraphQL operations: a GraphQL endpoint (POST /graphql) carries many
// operations; each becomes an entry under its endpoint, keyed by type and
// operation name (anonymous ones by their root fields), with what it
// selects and declares, the shape of the data it gets back and its
// errors. Requests are recognised and parsed by package gqlreq (in stage
// two, under the catalog's lock, like everything the catalog records);
// the table is bounded per endpoint (maxGraphQLOps, then counted as cut)
// and names per operation (gqlreq.Limits.MaxNames).

// maxGraphQLOps bounds the operations kept per endpoint.
const maxGraphQLOps = 256

// gqlOp is one operation's statistics.
type gqlOp struct {
	key, typ, name string
	calls, errors  uint64
	persisted      uint64 // calls that sent only a persisted-query hash
	hash           string
	first, last    int64
	roots, args    []string // sorted, unique
	vars           []gqlreq.Variable
	data           []string // response data root fields "name:kind"
	sensitive      uint64   // sensitive types in its responses (event.SensitiveTypes bits)
	maxDepth       int
}

// gqlTable is an endpoint's operations, sorted by key.
type gqlTable struct {
	ops     []*gqlOp
	batches uint64 // requests that carried more than one operation
	cut     uint64 // operations not kept (maxGraphQLOps)
}

func (g *gqlTable) op(key string) *gqlOp {
	i := sort.Search(len(g.ops), func(i int) bool { return g.ops[i].key >= key })
	if i < len(g.ops) && g.ops[i].key == key {
		return g.ops[i]
	}
	if len(g.ops) >= maxGraphQLOps {
		return nil
	}
	o := &gqlOp{key: key}
	g.ops = slices.Insert(g.ops, i, o)
	return o
}

// union adds the sorted, unique names of b to a (at most n).
func union(a, b []string, n int) []string {
	for _, s := range b {
		i, found := slices.BinarySearch(a, s)
		if !found && len(a) < n {
			a = slices.Insert(a, i, s)
		}
	}
	return a
}

func (o *gqlOp) merge(p *gqlOp) {
	if o.typ == "" {
		o.typ, o.name, o.hash = p.typ, p.name, p.hash
	}
	o.calls += p.calls
	o.errors += p.errors
	o.persisted += p.persisted
	if o.first == 0 || p.first != 0 && p.first < o.first {
		o.first = p.first
	}
	o.last = max(o.last, p.last)
	o.roots = union(o.roots, p.roots, 64)
	o.args = union(o.args, p.args, 64)
	o.data = union(o.data, p.data, 64)
	o.sensitive |= p.sensitive
	for _, v := range p.vars {
		if !slices.Contains(o.vars, v) && len(o.vars) < 64 {
			o.vars = append(o.vars, v)
		}
	}
	slices.SortFunc(o.vars, func(a, b gqlreq.Variable) int {
		if a.Name != b.Name {
			return compare(a.Name, b.Name)
		}
		return compare(a.Type, b.Type)
	})
	o.maxDepth = max(o.maxDepth, p.maxDepth)
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (g *gqlTable) merge(o *gqlTable) {
	g.batches += o.batches
	g.cut += o.cut
	for _, p := range o.ops {
		if q := g.op(p.key); q != nil {
			q.merge(p)
		} else {
			g.cut += p.calls
		}
	}
}

// recordGraphQL adds the GraphQL operations of tx (if it is a GraphQL
// request) to ep.
func (t *trie) recordGraphQL(ep *epStats, tx *reassembly.Transaction) {
	req := tx.Request
	if t.gql == nil {
		t.gql = gqlreq.NewParser(gqlreq.Limits{})
	}
	var r *gqlreq.Request
	if tx.Message != nil {
		r = t.gql.ParseMessage(req.Body.Bytes())
	} else {
		r = t.gql.Parse(req)
	}
	if r == nil || len(r.Ops) == 0 {
		return
	}
	if tx.Message != nil && r.MessageID != "" {
		t.wsSubscribed(tx, r.MessageID, r.Ops[0].Key())
	}
	if ep.gql == nil {
		ep.gql = &gqlTable{}
	}
	g := ep.gql
	if r.Batch > 1 {
		g.batches++
	}
	var resps []gqlreq.Response
	if resp := tx.Response; resp != nil && tx.Message == nil {
		resps = t.gqlResponses(resp.Body.Bytes())
	}
	at := req.Start.UnixNano()
	note := tx.Notes.GraphQL
	for i := range r.Ops {
		o := &r.Ops[i]
		s := g.op(o.Key())
		if s == nil {
			g.cut++
			continue
		}
		p := gqlOp{typ: o.Type, name: o.Name, hash: o.Hash, calls: 1, first: at, last: at, roots: o.RootFields, args: o.Args, vars: o.Variables, maxDepth: o.Depth}
		if o.Persisted {
			p.persisted = 1
		}
		var rs *gqlreq.Response
		switch {
		case len(resps) == r.Batch && o.Index < len(resps):
			rs = &resps[o.Index] // its element of the batch's answer
		case len(resps) == 1:
			rs = &resps[0]
		}
		if rs != nil {
			p.data = rs.DataFields
			if rs.Errors > 0 {
				p.errors = 1
			}
		}
		// sensitive types: a single operation has the transaction's; a
		// batch's operation those of its element of the response array
		// (the graphql analyzer's note); over WebSocket those of the
		// server's answers that name its id (wsAnswer)
		switch {
		case tx.Message != nil:
		case r.Batch == 1 && len(r.Ops) == 1:
			p.sensitive = tx.Notes.SensitiveResponse
		case note != nil && o.Index < len(note.Sensitive):
			p.sensitive = note.Sensitive[o.Index]
		}
		s.merge(&p)
	}
}

// looksGraphQL is gqlreq.Looks with a quicker no for most request
// bodies: Looks takes a body for GraphQL when its content type is
// application/graphql or when it is JSON naming "query" or
// "persistedQuery". Both names end in uery", so a body without that and
// without "graphql" in its content type is none, after one scan of the
// body instead of two.
func looksGraphQL(req *http1.Request) bool {
	if req == nil {
		return false
	}
	if req.Method != "GET" {
		b := req.Body.Bytes()
		if len(b) == 0 {
			return false
		}
		if !bytes.Contains(b, []byte(`uery"`)) && !hasFoldASCII(http1.Get(req.Headers, http1.IDContentType), "graphql") {
			return false
		}
	}
	return gqlreq.Looks(req)
}

// hasFoldASCII says whether s holds word (lower-case ASCII) in any case
// of its ASCII letters.
func hasFoldASCII(s, word string) bool {
	for i := 0; i+len(word) <= len(s); i++ {
		if s[i]|0x20 == word[0] && strings.EqualFold(s[i:i+len(word)], word) {
			return true
		}
	}
	return false
}

// gqlResponses reads a response body: one response, or a batch's.
func (t *trie) gqlResponses(b []byte) []gqlreq.Response {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	if b[0] != '[' {
		if r, ok := t.gql.ParseResponse(b); ok {
			return []gqlreq.Response{r}
		}
		return nil
	}
	var list []json.RawMessage
	if json.Unmarshal(b, &list) != nil {
		return nil
	}
	out := make([]gqlreq.Response, len(list))
	for i, e := range list {
		out[i], _ = t.gql.ParseResponse(e)
	}
	return out
}

// GraphQLJSON is an endpoint's GraphQL operations (endpoint events, the
// JSON catalog; x-graphql-operations in OpenAPI).
type GraphQLJSON struct {
	Operations []GraphQLOperationJSON `json:"operations"`
	Batches    uint64                 `json:"batches,omitempty"`
	Cut        uint64                 `json:"cut,omitempty"`
}

// GraphQLOperationJSON is one operation.
type GraphQLOperationJSON struct {
	Type       string            `json:"type"`
	Name       string            `json:"name,omitempty"`
	Calls      uint64            `json:"calls"`
	Errors     uint64            `json:"errors"`
	Persisted  uint64            `json:"persisted,omitempty"`
	Hash       string            `json:"hash,omitempty"`
	RootFields []string          `json:"root_fields"`
	Arguments  []string          `json:"arguments"`
	Variables  map[string]string `json:"variables"`
	Data       map[string]string `json:"data,omitempty"`
	Sensitive  []string          `json:"sensitive,omitempty"`
	MaxDepth   int               `json:"max_depth"`
	FirstSeen  string            `json:"first_seen"`
	LastSeen   string            `json:"last_seen"`
}

func (g *gqlTable) render() *GraphQLJSON {
	j := &GraphQLJSON{Operations: make([]GraphQLOperationJSON, 0, len(g.ops)), Batches: g.batches, Cut: g.cut}
	for _, o := range g.ops {
		oj := GraphQLOperationJSON{Type: o.typ, Name: o.name, Calls: o.calls, Errors: o.errors, Persisted: o.persisted, Hash: o.hash,
			RootFields: nonNil(o.roots), Arguments: nonNil(o.args), Variables: map[string]string{}, MaxDepth: o.maxDepth,
			FirstSeen: time.Unix(0, o.first).UTC().Format(time.RFC3339Nano), LastSeen: time.Unix(0, o.last).UTC().Format(time.RFC3339Nano)}
		for _, v := range o.vars {
			oj.Variables[v.Name] = v.Type
		}
		for b, i := o.sensitive, uint32(0); b != 0; b, i = b>>1, i+1 {
			if b&1 != 0 {
				oj.Sensitive = append(oj.Sensitive, sensitiveName(i))
			}
		}
		if len(o.data) > 0 {
			oj.Data = map[string]string{}
			for _, d := range o.data {
				i := bytes.LastIndexByte([]byte(d), ':')
				oj.Data[d[:i]] = d[i+1:]
			}
		}
		j.Operations = append(j.Operations, oj)
	}
	return j
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// maxWSOps bounds the operation ids remembered of GraphQL-over-WebSocket
// connections (all cleared when full: a later answer then goes
// unattributed).
const maxWSOps = 4096

// wsSubscribed remembers which operation a WebSocket connection's
// operation id names, for the server's answers.
func (t *trie) wsSubscribed(tx *reassembly.Transaction, id, key string) {
	if t.wsOps == nil || len(t.wsOps) >= maxWSOps {
		t.wsOps = map[string]string{}
	}
	t.wsOps[tx.Flow.ID+"\x00"+id] = key
}

// wsAnswer attributes a server's GraphQL-over-WebSocket answer ("next",
// "data") to the operation its id names: the data shape and the
// sensitive types of the message (the operation must be catalogued
// already; an answer is not a call).
func (t *trie) wsAnswer(ep *epStats, tx *reassembly.Transaction) {
	if ep.gql == nil || len(t.wsOps) == 0 || tx.Response == nil {
		return
	}
	if t.gql == nil {
		t.gql = gqlreq.NewParser(gqlreq.Limits{})
	}
	rs, ok := t.gql.ParseMessageResponse(tx.Response.Body.Bytes())
	if !ok || rs.MessageID == "" {
		return
	}
	key, found := t.wsOps[tx.Flow.ID+"\x00"+rs.MessageID]
	if !found {
		return
	}
	g := ep.gql
	i := sort.Search(len(g.ops), func(i int) bool { return g.ops[i].key >= key })
	if i == len(g.ops) || g.ops[i].key != key {
		return
	}
	o := g.ops[i]
	o.data = union(o.data, rs.DataFields, 64)
	o.sensitive |= tx.Notes.SensitiveResponse
}

// addMessage records the GraphQL operation a WebSocket client message
// carries under the endpoint that upgraded its connection (which must be
// in the catalog already), and what the server's answers to it carry;
// messages are not calls.
func (t *trie) addMessage(tx *reassembly.Transaction) {
	req := tx.Request
	if req == nil || req.Path == "" || tx.Message.FromClient && len(req.Body.Bytes()) == 0 {
		return
	}
	host, clean := normHostClean(req.Host, tx)
	if !clean {
		return
	}
	ht := t.hosts[hostKey{host: host, version: t.version(req)}]
	if ht == nil {
		return
	}
	n, complete := t.find(ht, req.Path)
	if !complete {
		return
	}
	ep, _ := n.ep(req.Method)
	switch {
	case ep == nil:
	case tx.Message.FromClient:
		t.recordGraphQL(ep, tx)
	default:
		t.wsAnswer(ep, tx)
	}
}
