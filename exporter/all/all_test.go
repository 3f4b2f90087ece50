package all

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/apitap/apitap/exporter"
)

// yamlKeys lists the dotted YAML keys of the leaf fields of struct t.
func yamlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			if sub := yamlKeys(f.Type, prefix+tag+"."); len(sub) > 0 {
				keys = append(keys, sub...)
				continue
			}
		}
		keys = append(keys, prefix+tag)
	}
	return keys
}

// TestSinksDocumented keeps docs/configuration.md and each sink's README
// in step with the sinks' configuration structs and the common keys.
func TestSinksDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(exporter.Registered()) < 4 {
		t.Fatalf("%d sinks registered", len(exporter.Registered()))
	}
	common := append([]string{"enabled"}, yamlKeys(reflect.TypeOf(exporter.Output{}), "")...)
	for _, k := range common {
		if !strings.Contains(string(doc), "`exporters.NAME."+k+"`") {
			t.Errorf("docs/configuration.md does not document `exporters.NAME.%s`", k)
		}
	}
	for _, d := range exporter.Registered() {
		readme, err := os.ReadFile("../" + d.Name + "/README.md")
		if err != nil {
			t.Errorf("sink %s has no README: %v", d.Name, err)
		}
		for _, h := range []string{"## Description", "## Syntax", "## Metrics"} {
			if !strings.Contains(string(readme), h) {
				t.Errorf("exporter/%s/README.md has no %q", d.Name, h)
			}
		}
		for _, k := range yamlKeys(reflect.TypeOf(d.NewConfig()).Elem(), "") {
			full := "exporters." + d.Name + "." + k
			if !strings.Contains(string(doc), "`"+full+"`") {
				t.Errorf("docs/configuration.md does not document `%s`", full)
			}
			if !strings.Contains(string(readme), k[strings.LastIndex(k, ".")+1:]) {
				t.Errorf("exporter/%s/README.md does not mention %s", d.Name, k)
			}
		}
	}
}
