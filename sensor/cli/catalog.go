package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/apitap/apitap/analyzer/discovery"
)

func catalogHelp(w io.Writer) {
	fmt.Fprint(w, `usage: apitap catalog [flags] FILE...

Reads capture files like apitap read and writes the API catalog that the
discovery analyzer built from them: every host and endpoint, with path
templates (/v1/users/{userId}), parameters, content types, inferred JSON
schemas, status codes, authentication, consumers, usage by hour, latency
and how completely the traffic was captured. Parameter and header values
are never stored, only names, types and counts.

Formats (--format):
  table          one line per endpoint: host, method, template, calls, auth, status codes
  json           the full catalog (docs/events.md#catalog), indented JSON
  openapi        an OpenAPI 3.1 document in YAML, validated with kin-openapi before it is written
  openapi-json   the same in JSON

A running sensor (apitap run) emits the same entries as "endpoint" events.

With --base SPEC (OpenAPI 3.0 or 3.1, YAML or JSON), the catalog is merged
into that spec instead: operations, query parameters, response status codes
and response schema properties the spec lacks are added, each marked
x-apitap-observed (first_seen, last_seen, calls), for the endpoints of the
hosts its servers name (--host picks one). The spec keeps its order,
comments and formatting as far as YAML allows, a JSON spec stays JSON, and
the result is validated with kin-openapi. Items an earlier merge added get
their mark updated: merging the same traffic twice changes nothing.
--only-new lists the additions instead (--format json: as JSON).

Examples:
  apitap catalog capture.pcap
  apitap catalog --format openapi --host api.example.com -o api.yaml day1.pcap.gz
  apitap catalog --format json -o catalog.json *.pcapng
  apitap catalog --base api.yaml -o api.observed.yaml day1.pcap.gz
  apitap catalog --base api.yaml --only-new day1.pcap.gz
  apitap catalog --from-kafka kafka:9092 --format json

With --from-kafka BROKERS it reads no capture: it writes the catalog merged
across sensors by apitap correlate (the table of its apitap-catalog group,
made from every sensor's endpoint events on apitap.inventory): counts add
up, parameters, statuses and sensitive types are the union, first_seen and
last_seen span every sensor (every --format; --host picks one host).

Flags:
`)
	fs, _ := catalogFlags(io.Discard)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

type catalogOpts struct {
	readOpts
	format  string
	host    string
	base    string
	onlyNew bool
	// fromKafka reads the merged catalog of apitap correlate
	fromKafka string
}

func catalogFlags(stderr io.Writer) (*flag.FlagSet, *catalogOpts) {
	o := &catalogOpts{}
	fs := flag.NewFlagSet("catalog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.reportFlags(fs, "catalog")
	fs.StringVar(&o.format, "format", "table", "`format`: table, json, openapi (YAML) or openapi-json")
	fs.StringVar(&o.host, "host", "", "only this `host` (openapi: one document for one service)")
	fs.StringVar(&o.base, "base", "", "merge what was observed into this OpenAPI `spec` (YAML or JSON) and write it")
	fs.BoolVar(&o.onlyNew, "only-new", false, "with --base: list only what the spec lacks")
	fs.StringVar(&o.sensorID, "sensor-id", "", "`id` written into the catalog (default: the host name)")
	fs.StringVar(&o.fromKafka, "from-kafka", "", "read the catalog merged across sensors by apitap correlate from these Kafka `brokers` (host:port,...) instead of captures")
	return fs, o
}

func runCatalog(args []string, env *IO) int {
	fs, o := catalogFlags(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: apitap catalog [flags] FILE...   (apitap help catalog for details)")
	}
	files, set, code, done := parseArgs(fs, args, catalogHelp, env)
	if done {
		return code
	}
	o.setFlags = set
	err := doCatalog(files, o, env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "apitap catalog: %v\n", err)
	}
	return exitCode(err)
}

func doCatalog(files []string, o *catalogOpts, env *IO) error {
	switch o.format {
	case "table", "json", "openapi", "openapi-json":
	default:
		return usagef("--format: want table, json, openapi or openapi-json, got %q", o.format)
	}
	if o.onlyNew && o.base == "" {
		return usagef("--only-new needs --base SPEC")
	}
	if o.setFlags["from-kafka"] {
		if len(files) > 0 || o.base != "" {
			return usagef("--from-kafka reads no capture and merges into no --base spec")
		}
		return kafkaCatalog(o, env)
	}
	var base []byte
	if o.base != "" {
		var err error
		if base, err = os.ReadFile(o.base); err != nil {
			return usagef("--base: %v", err)
		}
	}
	a, err := o.analyse(files, env, discovery.Name)
	if err != nil {
		return err
	}
	p, sum, cfg, out := a.p, a.sum, a.cfg, a.out
	cat, ok := p.Shared(discovery.Name).(*discovery.Catalog)
	if !ok {
		return usagef("the discovery analyzer is disabled in %s", o.config)
	}
	v := cat.View()
	if o.host != "" {
		found := false
		for _, h := range v.Hosts {
			found = found || h.Host == o.host
		}
		if !found {
			var hs []string
			for _, h := range v.Hosts {
				hs = append(hs, h.Host)
			}
			return usagef("--host %q: not in the catalog (hosts: %s)", o.host, strings.Join(hs, ", "))
		}
	}
	var doc []byte
	switch {
	case base != nil:
		merged, adds, err := v.MergeSpec(base, discovery.MergeOptions{Host: o.host})
		if err != nil {
			return err
		}
		doc = merged
		if o.onlyNew {
			var b bytes.Buffer
			if o.format == "json" {
				if adds == nil {
					adds = []discovery.Addition{}
				}
				js, _ := json.MarshalIndent(adds, "", "  ")
				b.Write(append(js, '\n'))
			} else {
				discovery.WriteAdditions(&b, adds)
			}
			doc = b.Bytes()
		}
	case o.format == "json":
		// written one endpoint at a time: a big catalog is never one buffer
		if !o.quiet {
			printSummary(env.Stderr, sum, cfg)
		}
		if err := writeOut(out, env, func(w io.Writer) error { return v.WriteJSON(w, cfg.Sensor.ID) }); err != nil {
			return fmt.Errorf("write catalog: %w", err)
		}
		return a.failures(files)
	case o.format == "openapi" || o.format == "openapi-json":
		doc, err = v.OpenAPI(discovery.OpenAPIOptions{Host: o.host, JSON: o.format == "openapi-json"})
		if err != nil {
			return err
		}
	default:
		var b strings.Builder
		printCatalog(&b, filterHost(v, o.host), 0)
		doc = []byte(b.String())
	}
	if !o.quiet {
		printSummary(env.Stderr, sum, cfg)
	}
	if out == "" || out == "-" {
		if _, err := env.Stdout.Write(doc); err != nil {
			return fmt.Errorf("write catalog: %w", err)
		}
	} else if err := os.WriteFile(out, doc, 0o644); err != nil {
		return fmt.Errorf("write catalog: %w", err)
	}
	return a.failures(files)
}

// writeOut writes to the -o file, or to standard output for "" and "-".
func writeOut(out string, env *IO, fn func(io.Writer) error) error {
	if out == "" || out == "-" {
		return fn(env.Stdout)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func filterHost(v *discovery.View, host string) *discovery.View {
	if host == "" {
		return v
	}
	c := *v
	c.Endpoints, c.Hosts = nil, nil
	for _, ep := range v.Endpoints {
		if ep.Host == host {
			c.Endpoints = append(c.Endpoints, ep)
		}
	}
	for _, h := range v.Hosts {
		if h.Host == host {
			c.Hosts = append(c.Hosts, h)
		}
	}
	return &c
}

// catalogRows is how many endpoints the read summary lists.
const catalogRows = 40

// printCatalog writes the catalog as a table; maxRows > 0 cuts it.
func printCatalog(w io.Writer, v *discovery.View, maxRows int) {
	if len(v.Endpoints) == 0 {
		fmt.Fprintf(w, "\ncatalog: no API endpoints seen\n")
		return
	}
	fmt.Fprintf(w, "\ncatalog: %d endpoint(s) on %d host(s)\n", len(v.Endpoints), len(v.Hosts))
	rows := [][]string{{"HOST", "METHOD", "TEMPLATE", "CALLS", "RISK", "AUTH", "STATUS"}}
	for i, ep := range v.Endpoints {
		if maxRows > 0 && i >= maxRows {
			break
		}
		j := ep.JSON(v.Time)
		path := j.Path
		if j.Kind != "api" {
			path += " (" + j.Kind + ")"
		}
		risk := "-"
		if r, ok := j.Risk.(interface{ Summary() string }); ok {
			risk = r.Summary()
		}
		rows = append(rows, []string{j.Host, j.Method, path, fmt.Sprint(j.Calls), risk, countList(j.Auth.Types), countList(j.StatusCodes)})
	}
	writeTable(w, rows, map[int]bool{3: true}) // counts right-aligned
	if maxRows > 0 && len(v.Endpoints) > maxRows {
		fmt.Fprintf(w, "  ... and %d more (apitap catalog lists them all)\n", len(v.Endpoints)-maxRows)
	}
	var static, noise, folded, probes uint64
	for _, h := range v.Hosts {
		static, noise, folded, probes = static+h.Static, noise+h.Noise, folded+h.Folded, probes+h.Probes
	}
	for _, ep := range v.Endpoints {
		probes += ep.Probes()
	}
	if static+noise+folded+probes > 0 {
		fmt.Fprintf(w, "  not listed: %d static asset requests, %d requests to paths that only answered errors (scanner noise), %d probes (payloads, scanners) counted on the nearest endpoint or host; %d path segments folded by bounds\n", static, noise, probes, folded)
	}
	if v.Evicted > 0 {
		fmt.Fprintf(w, "  evicted: %d endpoints (%d calls) beyond the budget of %d (analyzers.discovery.max_endpoints)\n", v.Evicted, v.EvictedCalls, v.Budget)
	}
}

// countList renders counts as "name:n name:n", busiest first.
func countList(m map[string]uint64) string {
	type kv struct {
		k string
		n uint64
	}
	var l []kv
	for k, n := range m {
		l = append(l, kv{k, n})
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].n != l[j].n {
			return l[i].n > l[j].n
		}
		return l[i].k < l[j].k
	})
	var parts []string
	for _, e := range l {
		parts = append(parts, fmt.Sprintf("%s:%d", e.k, e.n))
	}
	return strings.Join(parts, " ")
}
