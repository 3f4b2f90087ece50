package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/graphql/gqlreq"
)

// gqlDiff is the GraphQL part of apitap diff (--graphql-schema).
type gqlDiff struct {
	Schema            string         `json:"schema"`
	Operations        int            `json:"operations"`
	UnknownOperations []gqlDiffEntry `json:"unknown_operations"`
	UnknownFields     []gqlDiffEntry `json:"unknown_fields"`
}

// gqlDiffEntry is one operation that departs from the schema.
type gqlDiffEntry struct {
	Host      string   `json:"host"`
	Endpoint  string   `json:"endpoint"`
	Type      string   `json:"type"`
	Name      string   `json:"name,omitempty"`
	Calls     uint64   `json:"calls"`
	Fields    []string `json:"fields,omitempty"`
	Arguments []string `json:"arguments,omitempty"`
}

func (g *gqlDiff) differences() int {
	if g == nil {
		return 0
	}
	return len(g.UnknownOperations) + len(g.UnknownFields)
}

// graphQLDiff compares the catalog's GraphQL operations with the schema
// (nil without --graphql-schema).
func graphQLDiff(a *analysis, o *diffOpts) (*gqlDiff, error) {
	if o.graphqlSchema == "" {
		return nil, nil
	}
	sdl, err := os.ReadFile(o.graphqlSchema)
	if err != nil {
		return nil, usagef("--graphql-schema: %v", err)
	}
	s, err := gqlreq.LoadSchema(o.graphqlSchema, string(sdl))
	if err != nil {
		return nil, usageError{err.Error()}
	}
	c, ok := a.p.Shared(discovery.Name).(*discovery.Catalog)
	if !ok {
		return nil, usagef("--graphql-schema needs the discovery analyzer")
	}
	d := &gqlDiff{Schema: o.graphqlSchema, UnknownOperations: []gqlDiffEntry{}, UnknownFields: []gqlDiffEntry{}}
	v := c.View()
	for _, ep := range v.Endpoints {
		j := ep.JSON(v.Time)
		if j.GraphQL == nil {
			continue
		}
		for _, op := range j.GraphQL.Operations {
			d.Operations++
			if len(op.RootFields) == 0 { // a persisted query: no text to compare
				continue
			}
			_, fields, args := s.Check(op.Type, op.RootFields, op.Arguments)
			e := gqlDiffEntry{Host: j.Host, Endpoint: j.Method + " " + j.Path, Type: op.Type, Name: op.Name, Calls: op.Calls, Fields: fields, Arguments: args}
			switch {
			case len(fields) == len(op.RootFields):
				d.UnknownOperations = append(d.UnknownOperations, e)
			case len(fields)+len(args) > 0:
				d.UnknownFields = append(d.UnknownFields, e)
			}
		}
	}
	return d, nil
}

// doGraphQLDiff is apitap diff with a GraphQL schema and no OpenAPI spec.
func doGraphQLDiff(files []string, o *diffOpts, env *IO) (int, error) {
	if o.format != "text" && o.format != "json" {
		return 0, usagef("--format: want text or json, got %q", o.format)
	}
	a, err := o.analyse(files, env, discovery.Name)
	if err != nil {
		return 0, err
	}
	if !o.quiet {
		printSummary(env.Stderr, a.sum, a.cfg)
	}
	gd, err := graphQLDiff(a, o)
	if err != nil {
		return 0, err
	}
	var doc []byte
	if o.format == "json" {
		doc, _ = json.MarshalIndent(map[string]any{"graphql": gd}, "", "  ")
		doc = append(doc, '\n')
	} else {
		var b strings.Builder
		fmt.Fprintf(&b, "apitap diff: %d capture(s) against GraphQL schema %s\n", len(files), o.graphqlSchema)
		printGraphQLDiff(&b, gd)
		if n := gd.differences(); n > 0 {
			fmt.Fprintf(&b, "\nResult: %d difference(s) between the schema and the traffic (exit code %d).\n", n, ExitDifferences)
		} else {
			fmt.Fprintf(&b, "\nResult: the traffic matches the schema.\n")
		}
		doc = []byte(b.String())
	}
	if a.out == "" || a.out == "-" {
		if _, err := env.Stdout.Write(doc); err != nil {
			return 0, fmt.Errorf("write report: %w", err)
		}
	} else if err := os.WriteFile(a.out, doc, 0o644); err != nil {
		return 0, fmt.Errorf("write report: %w", err)
	}
	if err := a.failures(files); err != nil {
		return 0, err
	}
	return gd.differences(), nil
}

// withGraphQL adds the GraphQL comparison to the JSON report.
func withGraphQL(doc []byte, gd *gqlDiff) []byte {
	if gd == nil {
		return doc
	}
	var m map[string]any
	if json.Unmarshal(doc, &m) != nil {
		return doc
	}
	m["graphql"] = gd
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return doc
	}
	return out
}

func printGraphQLDiff(w io.Writer, d *gqlDiff) {
	if d == nil {
		return
	}
	row := func(e gqlDiffEntry, extra ...string) []string {
		name := e.Name
		if name == "" {
			name = "(anonymous)"
		}
		return append([]string{e.Host, e.Endpoint, e.Type, name}, append(extra, fmt.Sprintf("%d calls", e.Calls))...)
	}
	fmt.Fprintf(w, "\nUnknown GraphQL operations (no root field in the schema; of %d operations): %d\n", d.Operations, len(d.UnknownOperations))
	var rows [][]string
	for _, e := range d.UnknownOperations {
		rows = append(rows, row(e, strings.Join(e.Fields, ",")))
	}
	table(w, rows)
	fmt.Fprintf(w, "\nUnknown GraphQL fields and arguments: %d\n", len(d.UnknownFields))
	rows = nil
	for _, e := range d.UnknownFields {
		rows = append(rows, row(e, strings.Join(append(append([]string{}, e.Fields...), e.Arguments...), ",")))
	}
	table(w, rows)
}
