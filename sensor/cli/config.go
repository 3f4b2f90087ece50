package cli

import (
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/exporter"
	"github.com/apitap/apitap/sensor"
)

func configHelp(w io.Writer) {
	fmt.Fprint(w, `usage: apitap config check FILE

Validates a configuration file as apitap read and run would (strict YAML:
unknown keys, wrong types and bad values are errors naming the key and
line), builds every enabled analyzer (loading specs, rule packs and
databases), checks every sink section under exporters, and prints the effective configuration, defaults included.
Exit code 0 when the file is valid, 2 when it is not.
`)
}

func runConfig(args []string, env *IO) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		configHelp(env.Stdout)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	if args[0] != "check" || len(args) != 2 {
		fmt.Fprintln(env.Stderr, "usage: apitap config check FILE")
		return ExitUsage
	}
	cfg, err := sensor.LoadConfig(args[1])
	if err == nil {
		cfg = cfg.WithDefaults()
		err = cfg.Validate()
	}
	var enabled []analyzer.Enabled
	if err == nil {
		enabled, err = analyzer.Configure(cfg.Analyzers)
	}
	if err == nil {
		_, err = analyzer.NewShared(enabled, analyzer.Env{Sensor: cfg.Sensor.ID, Worker: -1})
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "apitap config check: %v\n", err)
		return ExitUsage
	}
	var sinks []exporter.Enabled
	if err == nil {
		sinks, err = exporter.Configure(cfg.Exporters)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "apitap config check: %v\n", err)
		return ExitUsage
	}
	out := map[string]any{}
	b, _ := yaml.Marshal(cfg)
	yaml.Unmarshal(b, &out)
	an := map[string]any{}
	for _, e := range enabled {
		an[e.Desc.Name] = e.Config
	}
	out["analyzers"] = an
	ex := map[string]any{}
	for _, e := range sinks {
		if m, ok := e.Config.(exporter.Secrets); ok {
			m.Mask() // secrets are never printed
		}
		sec := map[string]any{}
		b, _ := yaml.Marshal(e.Config)
		yaml.Unmarshal(b, &sec)
		b, _ = yaml.Marshal(e.Output)
		yaml.Unmarshal(b, &sec)
		ex[e.Desc.Name] = sec
	}
	out["exporters"] = ex
	b, err = yaml.Marshal(out)
	if err != nil {
		fmt.Fprintf(env.Stderr, "apitap config check: %v\n", err)
		return ExitFailure
	}
	fmt.Fprintf(env.Stdout, "# %s is valid.\n# Analyzer chain, in the order it runs (stage flow: on every worker, per connection; stage ordered: one goroutine, in capture order):\n", args[1])
	for i, e := range enabled {
		stage := e.Desc.Stage.String()
		if e.Desc.NewOrdered != nil {
			stage += " (and a part in stage ordered, before the ordered analyzers)"
		}
		parts := []string{fmt.Sprintf("#   %d. %-12s stage %s", i+1, e.Desc.Name, stage)}
		if len(e.Desc.After) > 0 {
			parts = append(parts, "after "+strings.Join(e.Desc.After, ", "))
		}
		if len(e.Desc.Provides) > 0 {
			parts = append(parts, "provides "+strings.Join(e.Desc.Provides, ", "))
		}
		fmt.Fprintln(env.Stdout, strings.Join(parts, "; "))
	}
	fmt.Fprintf(env.Stdout, "# Effective configuration:\n%s", b)
	return ExitOK
}
