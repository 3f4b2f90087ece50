package discovery

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/apitap/apitap/internal/testgen/apigen"
)

// TestMergeSpec removes operations and a query parameter from specs
// modelled on public APIs, merges generated traffic of the full specs
// into them (YAML and JSON), and checks that the result validates, that
// the removed items come back marked x-apitap-observed, and that a second
// merge of the same traffic changes nothing.
func TestMergeSpec(t *testing.T) {
	for _, file := range []string{"github.yaml", "twilio.yaml", "stripe.yaml", "box.yaml", "crapi.yaml", "storefront.yaml"} {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join("..", "..", "testdata", "specs", file)
			full, err := apigen.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			host := ""
			if len(full.Servers) > 0 {
				host = strings.Split(strings.TrimPrefix(strings.TrimPrefix(full.Servers[0].URL, "https://"), "http://"), "/")[0]
			}
			g := apigen.New(full, host, 3)
			cat := NewCatalog(NewConfig(), "t")
			for i := 0; i < 4000; i++ {
				tx, _ := g.Next()
				cat.Observe(tx)
			}
			v := cat.View()

			reduced, _ := apigen.Load(path)
			var removed []string
			for _, p := range slices.Sorted(mapsKeys(reduced.Paths.Map())) {
				if len(removed) < 2 && strings.Count(p, "{") == 1 {
					for m := range reduced.Paths.Value(p).Operations() {
						removed = append(removed, "operation "+m+" "+TemplateShape(p))
					}
					reduced.Paths.Delete(p)
				}
			}
			base, err := reduced.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var indented bytes.Buffer
			json.Indent(&indented, base, "", "  ")
			for _, form := range []string{"json", "yaml"} {
				in := indented.Bytes()
				if form == "yaml" {
					in = []byte(mustYAML(t, in))
				}
				out, adds, err := v.MergeSpec(in, MergeOptions{})
				if err != nil {
					t.Fatalf("%s: %v", form, err)
				}
				if (form == "json") != json.Valid(out) {
					t.Errorf("%s base gave %.40q", form, out)
				}
				var got []string
				for _, a := range adds {
					if a.Kind == "operation" {
						got = append(got, "operation "+a.Method+" "+TemplateShape(a.Path))
					}
				}
				for _, r := range removed {
					if !slices.Contains(got, r) {
						t.Errorf("%s: %s not added (added %v)", form, r, got)
					}
				}
				if err := validateSpec(out); err != nil {
					t.Fatalf("%s: %v", form, err)
				}
				again, adds2, err := v.MergeSpec(out, MergeOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if len(adds2) != 0 || !bytes.Equal(again, out) {
					t.Errorf("%s: a second merge added %d items, changed: %v", form, len(adds2), !bytes.Equal(again, out))
				}
				t.Logf("%s %s: %d additions (%d operations removed), %d bytes", file, form, len(adds), len(removed), len(out))
			}
		})
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// mustYAML converts a JSON document to block YAML.
func mustYAML(t *testing.T, js []byte) string {
	var n yaml.Node
	if err := yaml.Unmarshal(js, &n); err != nil {
		t.Fatal(err)
	}
	var plain func(*yaml.Node)
	plain = func(n *yaml.Node) {
		n.Style = 0
		for _, c := range n.Content {
			plain(c)
		}
	}
	plain(&n)
	b, err := yamlOf(&n, 2)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
