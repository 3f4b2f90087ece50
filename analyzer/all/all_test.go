package all

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/apitap/apitap/analyzer"
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

// TestAnalyzersDocumented keeps docs/configuration.md and each analyzer's
// README in step with the analyzers' configuration structs.
func TestAnalyzersDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(analyzer.Registered()) == 0 {
		t.Fatal("no analyzer registered")
	}
	for _, d := range analyzer.Registered() {
		readme, err := os.ReadFile("../" + d.Name + "/README.md")
		if err != nil {
			t.Errorf("analyzer %s has no README: %v", d.Name, err)
		}
		keys := append([]string{"enabled"}, yamlKeys(reflect.TypeOf(d.NewConfig()).Elem(), "")...)
		for _, k := range keys {
			full := "analyzers." + d.Name + "." + k
			if !strings.Contains(string(doc), "`"+full+"`") {
				t.Errorf("docs/configuration.md does not document `%s`", full)
			}
			if !strings.Contains(string(readme), k) {
				t.Errorf("analyzer/%s/README.md does not mention %s", d.Name, k)
			}
		}
	}
}
