package sensor

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// yamlKeys lists the dotted YAML keys of every leaf field of t.
func yamlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		if f.Type.Kind() == reflect.Struct {
			if sub := yamlKeys(f.Type, key+"."); len(sub) > 0 {
				keys = append(keys, sub...)
				continue
			}
		}
		keys = append(keys, key)
	}
	return keys
}

// TestConfigDocumented keeps docs/configuration.md in step with Config.
func TestConfigDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := yamlKeys(reflect.TypeOf(Config{}), "")
	if len(keys) < 10 {
		t.Fatalf("found only %d keys: %v", len(keys), keys)
	}
	for _, k := range keys {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/configuration.md does not document `%s`", k)
		}
	}
}

func TestConfigDefaultsValidate(t *testing.T) {
	c := Config{}.WithDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	bad := c
	bad.Sensor.Workers = -1
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "sensor.workers") {
		t.Fatalf("want sensor.workers error, got %v", err)
	}
}
