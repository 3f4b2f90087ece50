package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
	"github.com/apitap/apitap/internal/testutil/eventtest"
	"github.com/apitap/apitap/internal/testutil/gqltest"
)

// TestGraphQLCapture reads a capture of a real GraphQL server with clients
// and attacks: endpoint events list the operations and are valid, GraphQL
// detections come out, the output is the same for any number of workers,
// and apitap diff --graphql-schema reports the operations and fields a
// reduced schema does not have.
func TestGraphQLCapture(t *testing.T) {
	r := gqltest.Record(t, 3, 300, true)
	dir := t.TempDir()
	capFile := filepath.Join(dir, "graphql.pcap")
	if err := pcapgen.WriteFile(capFile, pcapgen.Ethernet, &pcapgen.Encap{}, r.Packets); err != nil {
		t.Fatal(err)
	}
	args := []string{"read", "--emit", "endpoint,detection,stats", "--sensor-id", "gql", "--progress", "never", "--quiet"}
	code, out, errOut := runCLI(t, nil, append(args, "--workers", "1", capFile)...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	eventtest.ValidateStream(t, bytes.NewReader(out))
	for _, n := range []string{"2", "4"} {
		if _, many, _ := runCLI(t, nil, append(args, "--workers", n, capFile)...); !bytes.Equal(out, many) {
			t.Fatalf("--workers %s: different output", n)
		}
	}
	classes := map[string]bool{}
	ops := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var ev struct {
			Type    string `json:"type"`
			Class   string `json:"class"`
			GraphQL *struct {
				Operations []json.RawMessage `json:"operations"`
			} `json:"graphql"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type == "detection" {
			classes[ev.Class] = true
		}
		if ev.Type == "endpoint" && ev.GraphQL != nil {
			ops += len(ev.GraphQL.Operations)
		}
	}
	for _, c := range []string{"graphql_introspection", "graphql_depth", "graphql_alias_abuse", "graphql_batching", "graphql_directive_overload",
		"graphql_circular_fragment", "graphql_csrf", "graphql_field_suggestion", "graphql_verbose_error", "sqli", "xss"} {
		if !classes[c] {
			t.Errorf("no %s detection", c)
		}
	}
	if ops < 18 {
		t.Errorf("%d operations in the endpoint events", ops)
	}
	// a schema without search, updateProfile and products' category
	sdl := strings.NewReplacer("  search(term: String!): [Product!]!\n", "", "  updateProfile(name: String, phone: String): User\n", "",
		"products(first: Int = 10, category: String)", "products(first: Int = 10)").Replace(gqltest.SDL)
	schema := filepath.Join(dir, "schema.graphql")
	if err := os.WriteFile(schema, []byte(sdl), 0o644); err != nil {
		t.Fatal(err)
	}
	code, rep, errOut := runCLI(t, nil, "diff", "--graphql-schema", schema, "--quiet", capFile)
	if code != ExitDifferences {
		t.Fatalf("diff: exit %d: %s\n%s", code, errOut, rep)
	}
	for _, want := range []string{"Unknown GraphQL operations", "query     Search", "mutation  UpdateProfile", "Unknown GraphQL fields and arguments: 1", "ListProducts  products(category)"} {
		if !strings.Contains(string(rep), want) {
			t.Errorf("diff report lacks %q:\n%s", want, rep)
		}
	}
	t.Logf("%s", rep)
}
