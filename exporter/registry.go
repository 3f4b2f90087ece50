package exporter

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/apitap/apitap/exporter/ocsf"
)

// Env is what a sink gets from the sensor.
type Env struct {
	Log     zerolog.Logger
	Sensor  string // sensor id (events made elsewhere, e.g. replayed from a spool, keep their own)
	Version string // apitap version: OCSF metadata, CEF header, syslog origin
}

// Descriptor registers a sink (from its package's init function), as
// analyzer.Descriptor registers an analyzer.
type Descriptor struct {
	Name string // = its folder name, the key of its section under `exporters:`
	// NewConfig returns the sink's configuration with its defaults; the
	// YAML section (without the common keys of Output) is decoded strictly
	// over it, and validated if it has a Validate() error method.
	NewConfig func() any
	// New builds the sink from a decoded configuration and the section's
	// common keys. The registry puts the type, severity and format stage
	// (see Output) in front of it: the sink receives only what it asked for,
	// already in its format.
	New func(cfg any, out Output, env Env) (Sink, error)
	// Types are the event types the sink takes when its section does not
	// say (nil: every type written).
	Types []string
	// Formats the sink can write (default: apitap and ocsf).
	Formats []string
	// Tombstones: the sink takes records with an empty value (a blocklist
	// revocation on a compacted Kafka topic). Other sinks never see them.
	Tombstones bool
	// Streams are the StreamTypes the sink takes (in the apitap format);
	// other sinks never see them.
	Streams []string
}

// Output holds the keys every sink section has besides `enabled`.
type Output struct {
	// Format of the values: apitap (the events of docs/events.md) or ocsf
	// (exporter/ocsf: detections as Detection Finding, transactions as API
	// Activity; the other types have no OCSF class and are not sent).
	Format string `yaml:"format"`
	// Types are the event types sent (among those output.emit writes).
	Types []string `yaml:"types"`
	// MinSeverity leaves out detections below it (info, low, medium,
	// high, critical); other types pass.
	MinSeverity string `yaml:"min_severity"`
}

// Formats of values.
const (
	FormatApitap = "apitap"
	FormatOCSF   = "ocsf"
)

// EventTypes are the event types of the contract (as sensor.EventTypes).
var EventTypes = [...]string{"transaction", "message", "endpoint", "detection", "blocklist", "actor", "stats"}

// StreamTypes are record types that are not events: binary records for
// other apitap processes (observation: analyzer/observation records for
// `apitap correlate`). Only sinks whose Descriptor lists one receive it.
var StreamTypes = [...]string{"observation"}

var severities = []string{"info", "low", "medium", "high", "critical"}

var registry = map[string]Descriptor{}

// Register adds a sink. It panics on a duplicate or incomplete descriptor:
// a programming error found at start-up.
func Register(d Descriptor) {
	if d.Name == "" || d.New == nil || d.NewConfig == nil {
		panic(fmt.Sprintf("exporter.Register: incomplete descriptor %+v", d))
	}
	if _, dup := registry[d.Name]; dup {
		panic("exporter.Register: duplicate sink " + d.Name)
	}
	registry[d.Name] = d
}

// Registered lists the sinks by name.
func Registered() []Descriptor {
	out := make([]Descriptor, 0, len(registry))
	for _, d := range registry {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Settings is the `exporters:` section of the configuration: one key per
// sink, each a mapping with an optional `enabled`, the common keys of
// Output and the sink's own keys. A section turns its sink on unless it
// says enabled: false.
//
//	exporters:
//	  syslog:
//	    address: siem.example:6514
//	    format: ocsf
type Settings struct {
	node      yaml.Node
	overrides []override
}

type override struct {
	name   string
	enable bool
	fn     func(cfg any)
}

// Override changes sink name's decoded configuration (flags such as
// --kafka-brokers set sink keys); enable turns the sink on.
func (s *Settings) Override(name string, enable bool, fn func(cfg any)) {
	s.overrides = append(s.overrides, override{name, enable, fn})
}

// UnmarshalYAML keeps the section's node, decoded by Configure once every
// sink has registered.
func (s *Settings) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode && !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return fmt.Errorf("line %d: exporters must be a mapping of sink names to settings", n.Line)
	}
	s.node = *n
	return nil
}

// MarshalYAML writes the section as it was given (config check prints the
// decoded sections instead).
func (s Settings) MarshalYAML() (any, error) {
	if s.node.Kind == 0 {
		return map[string]any{}, nil
	}
	return &s.node, nil
}

// Enabled is a sink to build, with its decoded configuration.
type Enabled struct {
	Desc   Descriptor
	Config any
	Output Output
}

var lineRE = regexp.MustCompile(`line (\d+)`)
var yamlTypeRE = regexp.MustCompile(`field (\S+) not found in type \S+`)

// Configure decodes every section strictly over the sink's defaults and
// returns the enabled sinks by name. Unknown sinks and keys are errors that
// name the key and line.
func Configure(s Settings) ([]Enabled, error) {
	secs := map[string][2]*yaml.Node{}
	for i := 0; i+1 < len(s.node.Content); i += 2 {
		k, v := s.node.Content[i], s.node.Content[i+1]
		if _, ok := registry[k.Value]; !ok {
			var known []string
			for _, d := range Registered() {
				known = append(known, d.Name)
			}
			return nil, fmt.Errorf("exporters.%s (line %d): unknown sink (known: %s)", k.Value, k.Line, strings.Join(known, ", "))
		}
		secs[k.Value] = [2]*yaml.Node{k, v}
	}
	var out []Enabled
	for _, d := range Registered() {
		cfg := d.NewConfig()
		var o Output
		enabled := false
		if sec, ok := secs[d.Name]; ok {
			on, err := decodeSection(sec[1], cfg, &o)
			if err != nil {
				return nil, fmt.Errorf("exporters.%s: %w", d.Name, err)
			}
			enabled = on == nil || *on
		}
		for _, x := range s.overrides {
			if x.name == d.Name {
				if x.fn != nil {
					x.fn(cfg)
				}
				enabled = enabled || x.enable
			}
		}
		if !enabled {
			continue
		}
		if err := o.complete(d); err != nil {
			return nil, fmt.Errorf("exporters.%s.%w", d.Name, err)
		}
		if v, ok := cfg.(interface{ Validate() error }); ok {
			if err := v.Validate(); err != nil {
				return nil, fmt.Errorf("exporters.%s: %w", d.Name, err)
			}
		}
		out = append(out, Enabled{Desc: d, Config: cfg, Output: o})
	}
	return out, nil
}

// complete fills defaults and checks the common keys.
func (o *Output) complete(d Descriptor) error {
	if o.Format == "" {
		o.Format = FormatApitap
	}
	formats := d.Formats
	if formats == nil {
		formats = []string{FormatApitap, FormatOCSF}
	}
	if !slices.Contains(formats, o.Format) {
		return fmt.Errorf("format: want %s, got %q", strings.Join(formats, " or "), o.Format)
	}
	for _, t := range o.Types {
		if !slices.Contains(EventTypes[:], t) {
			return fmt.Errorf("types: unknown event type %q (known: %s)", t, strings.Join(EventTypes[:], ", "))
		}
		if o.Format == FormatOCSF && !ocsf.Maps(t) {
			return fmt.Errorf("types: %s events have no OCSF class (format ocsf sends %s)", t, strings.Join(ocsf.Types, " and "))
		}
	}
	if o.Types == nil {
		o.Types = d.Types
		if o.Types == nil {
			o.Types = EventTypes[:]
		}
		if o.Format == FormatOCSF {
			var keep []string
			for _, t := range o.Types {
				if ocsf.Maps(t) {
					keep = append(keep, t)
				}
			}
			o.Types = keep
		}
	}
	if o.MinSeverity != "" && !slices.Contains(severities, o.MinSeverity) {
		return fmt.Errorf("min_severity: want one of %s, got %q", strings.Join(severities, ", "), o.MinSeverity)
	}
	return nil
}

// commonKeys are the keys of Output, taken out of a section before the
// sink's own decoding.
var commonKeys = []string{"format", "types", "min_severity"}

// decodeSection takes `enabled` and the common keys out of a mapping node
// and decodes the rest strictly into cfg, keeping the file's line numbers
// in errors.
func decodeSection(node *yaml.Node, cfg any, o *Output) (*bool, error) {
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return nil, nil
	}
	if node.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: want a mapping of settings", node.Line)
	}
	var enabled *bool
	rest, common := *node, *node
	rest.Content, common.Content = nil, nil
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		switch {
		case k.Value == "enabled":
			var b bool
			if err := v.Decode(&b); err != nil {
				return nil, fmt.Errorf("line %d: enabled must be true or false", v.Line)
			}
			enabled = &b
		case slices.Contains(commonKeys, k.Value):
			common.Content = append(common.Content, k, v)
		default:
			rest.Content = append(rest.Content, k, v)
		}
	}
	if len(common.Content) > 0 {
		if err := common.Decode(o); err != nil {
			return nil, fmt.Errorf("%s", strings.TrimPrefix(strings.TrimPrefix(err.Error(), "yaml: "), "unmarshal errors:\n  "))
		}
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

// Build makes the enabled sinks, each behind its Output stage. On an
// error it closes the sinks already made.
func Build(enabled []Enabled, env Env) ([]Sink, error) {
	var sinks []Sink
	for _, e := range enabled {
		s, err := e.Desc.New(e.Config, e.Output, env)
		if err != nil {
			for _, x := range sinks {
				x.Close()
			}
			return nil, fmt.Errorf("exporters.%s: %w", e.Desc.Name, err)
		}
		sinks = append(sinks, newStage(s, e.Desc, e.Output, env))
	}
	return sinks, nil
}

// Secrets lists, for config check, the configuration fields a sink wants
// masked: a sink's config implements it to name them.
type Secrets interface {
	// Mask blanks the secrets of a copy of the configuration.
	Mask()
}
