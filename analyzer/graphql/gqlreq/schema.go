package gqlreq

import (
	"fmt"
	"strings"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// Schema is a published GraphQL schema (SDL) that operations seen on the
// wire are compared with (apitap diff --graphql-schema).
type Schema struct {
	s *ast.Schema
}

// LoadSchema parses SDL (name is used in error messages).
func LoadSchema(name, sdl string) (*Schema, error) {
	s, err := gqlparser.LoadSchema(&ast.Source{Name: name, Input: sdl})
	if err != nil {
		return nil, fmt.Errorf("graphql schema %s: %w", name, err)
	}
	return &Schema{s: s}, nil
}

// Check compares an operation's root fields and their arguments
// ("field.arg"; arguments of nested fields are not checked: the catalog
// does not keep which type a nested field belongs to) with the schema. It
// returns the root type name ("" when the schema has no root type for
// the operation type), the root fields the type does not have, and the
// arguments of known root fields it does not declare (as "field(arg)").
// Introspection fields (__schema, __type, __typename) are always known.
func (s *Schema) Check(typ string, roots, args []string) (root string, fields, unknownArgs []string) {
	var def *ast.Definition
	switch typ {
	case "query":
		def = s.s.Query
	case "mutation":
		def = s.s.Mutation
	case "subscription":
		def = s.s.Subscription
	}
	if def == nil {
		return "", roots, nil
	}
	for _, f := range roots {
		if strings.HasPrefix(f, "__") {
			continue
		}
		if def.Fields.ForName(f) == nil {
			fields = append(fields, f)
		}
	}
	for _, a := range args {
		f, arg, _ := strings.Cut(a, ".")
		fd := def.Fields.ForName(f)
		if fd == nil || !contains(roots, f) {
			continue
		}
		if fd.Arguments.ForName(arg) == nil {
			unknownArgs = append(unknownArgs, f+"("+arg+")")
		}
	}
	return def.Name, fields, unknownArgs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
