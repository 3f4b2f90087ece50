package analyzer

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Settings is the `analyzers:` section of the configuration: one key per
// analyzer, each a mapping with an optional `enabled` and the analyzer's
// own keys.
//
//	analyzers:
//	  discovery:
//	    enabled: true
//	    max_endpoints_per_host: 5000
type Settings struct {
	node      yaml.Node
	overrides []override
}

type override struct {
	name   string
	enable bool
	fn     func(cfg any)
}

// Override changes analyzer name's decoded configuration (flags such as
// --spec set analyzer keys); enable turns the analyzer on.
func (s *Settings) Override(name string, enable bool, fn func(cfg any)) {
	s.overrides = append(s.overrides, override{name, enable, fn})
}

// UnmarshalYAML keeps the section's node, to be decoded by Configure once
// every analyzer has registered.
func (s *Settings) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode && !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return fmt.Errorf("line %d: analyzers must be a mapping of analyzer names to settings", n.Line)
	}
	s.node = *n
	return nil
}

// section is one analyzer's part of Settings.
type section struct {
	key, value *yaml.Node
}

func (s Settings) sections() map[string]section {
	out := map[string]section{}
	for i := 0; i+1 < len(s.node.Content); i += 2 {
		out[s.node.Content[i].Value] = section{s.node.Content[i], s.node.Content[i+1]}
	}
	return out
}

var lineRE = regexp.MustCompile(`line (\d+)`)

// Configure decodes every section strictly over the analyzer's defaults and
// returns the enabled analyzers in chain order. Unknown analyzer names and
// unknown keys are errors naming the key and line.
func Configure(s Settings) ([]Enabled, error) {
	secs := s.sections()
	for name, sec := range secs {
		if _, ok := registry[name]; !ok {
			return nil, fmt.Errorf("analyzers.%s (line %d): unknown analyzer (known: %s)", name, sec.key.Line, strings.Join(knownNames(), ", "))
		}
	}
	var out []Enabled
	for _, d := range Registered() {
		cfg := d.NewConfig()
		enabled := d.Default
		if sec, ok := secs[d.Name]; ok {
			on, err := decodeSection(sec.value, cfg)
			if err != nil {
				return nil, fmt.Errorf("analyzers.%s: %w", d.Name, err)
			}
			if on != nil {
				enabled = *on
			} else {
				enabled = true // a section without `enabled` turns the analyzer on
			}
		}
		for _, o := range s.overrides {
			if o.name == d.Name {
				if o.fn != nil {
					o.fn(cfg)
				}
				enabled = enabled || o.enable
			}
		}
		if v, ok := cfg.(interface{ Validate() error }); ok && enabled {
			if err := v.Validate(); err != nil {
				return nil, fmt.Errorf("analyzers.%s: %w", d.Name, err)
			}
		}
		if enabled {
			out = append(out, Enabled{Desc: d, Config: cfg})
		}
	}
	return out, nil
}

// decodeSection takes `enabled` out of a mapping node and decodes the rest
// strictly into cfg, keeping the file's line numbers in errors.
func decodeSection(node *yaml.Node, cfg any) (*bool, error) {
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return nil, nil
	}
	if node.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: want a mapping of settings", node.Line)
	}
	var enabled *bool
	rest := *node
	rest.Content = nil
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		if k.Value == "enabled" {
			var b bool
			if err := v.Decode(&b); err != nil {
				return nil, fmt.Errorf("line %d: enabled must be true or false", v.Line)
			}
			enabled = &b
			continue
		}
		rest.Content = append(rest.Content, k, v)
	}
	if len(rest.Content) == 0 {
		return enabled, nil
	}
	b, err := yaml.Marshal(&rest)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		// re-encoding starts at line 1: shift line numbers back to the file's
		msg := lineRE.ReplaceAllStringFunc(err.Error(), func(m string) string {
			n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
			return "line " + strconv.Itoa(n+rest.Content[0].Line-1)
		})
		msg = strings.TrimPrefix(strings.TrimPrefix(msg, "yaml: "), "unmarshal errors:\n  ")
		return nil, fmt.Errorf("%s", yamlTypeRE.ReplaceAllString(msg, "unknown key $1"))
	}
	return enabled, nil
}

var yamlTypeRE = regexp.MustCompile(`field (\S+) not found in type \S+`)
