package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apitap/apitap/analyzer/conformance"
)

// ExitDifferences is apitap diff's exit code when traffic departs from
// the specs (for CI gates).
const ExitDifferences = 3

func diffHelp(w io.Writer) {
	fmt.Fprint(w, `usage: apitap diff --spec SPEC [--spec SPEC...] [--graphql-schema SDL] [flags] FILE...

Compares published OpenAPI specs (3.0, 3.1, or Swagger 2.0; YAML or JSON;
a directory loads every spec in it) with what the captures show, and
prints a report:

  shadow endpoints          traffic to paths no spec documents (per catalog
                            template; probes and scanner noise are never
                            endpoints, the attack analyzer reports them)
  undocumented methods      documented paths called with other methods
  zombie endpoints          deprecated operations, ones only an older version
                            of the spec has, and ones a newer version
                            supersedes (a higher version segment, a host with
                            a higher version label, an older version header
                            value), still being called, with their replacement
  undocumented parameters   query parameters (and cookies with
                            analyzers.conformance.check_cookies) not in the operation
  undocumented fields       JSON body properties the schemas do not name
                            (sampled per operation)
  undocumented headers      request headers neither the operation nor the
                            standard list (Host, User-Agent, ...) names
  undocumented status codes responses the operation does not document
  schema violations         request and response bodies and parameters that
                            fail the spec's schemas (sampled per operation)
  infrastructure endpoints  health checks, readiness and metrics endpoints no
                            spec documents (listed, not differences)
  documented but never seen operations no transaction called

With --graphql-schema FILE (GraphQL SDL; --spec may then be left out), the
GraphQL operations of the catalog are compared with the schema:

  unknown GraphQL operations  operations none of whose root fields the
                            schema's root type has (a shadow API)
  unknown GraphQL fields      root fields and root-field arguments the schema
                            does not declare (nested fields are not checked)

Specs bind to hosts and base paths from their servers (or
analyzers.conformance.bindings). Values are never printed, only names,
locations and reasons.

Exit codes: 0 traffic matches the specs, 3 differences found, 1 runtime
failure, 2 usage or configuration error. "Documented but never seen" alone
does not make a difference.

Examples:
  apitap diff --spec api.yaml capture.pcap
  apitap diff --spec specs/ --format json -o diff.json day1.pcap.gz day2.pcap.gz

Flags:
`)
	fs, _ := diffFlags(io.Discard)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

type diffOpts struct {
	readOpts
	format        string
	graphqlSchema string
}

func diffFlags(stderr io.Writer) (*flag.FlagSet, *diffOpts) {
	o := &diffOpts{}
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.reportFlags(fs, "report")
	fs.StringVar(&o.format, "format", "text", "`format`: text or json")
	fs.StringVar(&o.graphqlSchema, "graphql-schema", "", "GraphQL schema (SDL) `file` to compare the GraphQL operations with")
	return fs, o
}

func runDiff(args []string, env *IO) int {
	fs, o := diffFlags(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: apitap diff --spec SPEC [flags] FILE...   (apitap help diff for details)")
	}
	files, set, code, done := parseArgs(fs, args, diffHelp, env)
	if done {
		return code
	}
	o.setFlags = set
	n, err := doDiff(files, o, env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "apitap diff: %v\n", err)
		return exitCode(err)
	}
	if n > 0 {
		return ExitDifferences
	}
	return ExitOK
}

func doDiff(files []string, o *diffOpts, env *IO) (int, error) {
	if len(o.specs) == 0 && o.graphqlSchema != "" {
		return doGraphQLDiff(files, o, env)
	}
	if len(o.specs) == 0 {
		return 0, usagef("no spec given: use --spec FILE|DIR (see apitap help diff)")
	}
	if o.format != "text" && o.format != "json" {
		return 0, usagef("--format: want text or json, got %q", o.format)
	}
	a, err := o.analyse(files, env, conformance.Name)
	if err != nil {
		return 0, err
	}
	p, sum, cfg, out := a.p, a.sum, a.cfg, a.out
	st, ok := p.Shared(conformance.Name).(*conformance.State)
	if !ok || st.Diff() == nil {
		return 0, fmt.Errorf("no comparison was made")
	}
	d := st.Diff()
	if !o.quiet {
		printSummary(env.Stderr, sum, cfg)
	}
	var doc []byte
	gd, err := graphQLDiff(a, o)
	if err != nil {
		return 0, err
	}
	if o.format == "json" {
		doc, _ = json.MarshalIndent(d, "", "  ")
		doc = withGraphQL(doc, gd)
		doc = append(doc, '\n')
	} else {
		var b strings.Builder
		printDiff(&b, d, len(files))
		printGraphQLDiff(&b, gd)
		doc = []byte(b.String())
	}
	if out == "" || out == "-" {
		if _, err := env.Stdout.Write(doc); err != nil {
			return 0, fmt.Errorf("write report: %w", err)
		}
	} else if err := os.WriteFile(out, doc, 0o644); err != nil {
		return 0, fmt.Errorf("write report: %w", err)
	}
	if err := a.failures(files); err != nil {
		return 0, err
	}
	return d.Differences() + gd.differences(), nil
}

// printDiff writes the human report.
func printDiff(w io.Writer, d *conformance.Diff, captures int) {
	fmt.Fprintf(w, "apitap diff: %d capture(s) against %d spec(s)\n", captures, len(d.Specs))
	for _, s := range d.Specs {
		var binds []string
		for _, b := range s.Bindings {
			h := b.Host
			if h == "" {
				h = "any host"
			}
			binds = append(binds, h+b.Base)
		}
		fmt.Fprintf(w, "  %s %s (%s): %d operations on %s\n", s.Title, s.Version, s.File, s.Operations, strings.Join(binds, ", "))
	}
	for _, s := range d.SkippedSpecs {
		fmt.Fprintf(w, "  skipped: %s\n", s)
	}
	section := func(title string, n int) bool {
		fmt.Fprintf(w, "\n%s: %d\n", title, n)
		return n > 0
	}
	unmatched := func(list []conformance.Unmatched) {
		rows := [][]string{}
		for _, u := range list {
			rows = append(rows, []string{u.Method, u.Host + u.Path, fmt.Sprintf("%d calls", u.Calls), u.First.UTC().Format("2006-01-02 15:04:05") + " .. " + u.Last.UTC().Format("15:04:05")})
		}
		table(w, rows)
	}
	if section("Shadow endpoints (no spec documents them)", len(d.Shadow)) {
		unmatched(d.Shadow)
	}
	if section("Undocumented methods (the path is documented, the method is not)", len(d.UndocumentedMethods)) {
		unmatched(d.UndocumentedMethods)
	}
	items := func(list []*conformance.Item, cols func(*conformance.Item) []string) {
		rows := [][]string{}
		for _, it := range list {
			rows = append(rows, append(cols(it), fmt.Sprintf("%d calls", it.Count)))
		}
		table(w, rows)
	}
	if section("Zombie endpoints (deprecated, only in an older version, or superseded, still called)", len(d.Zombies)) {
		items(d.Zombies, func(it *conformance.Item) []string {
			repl := ""
			if it.Replacement != "" {
				repl = "replaced by " + it.Replacement
			}
			return []string{it.Op, it.Spec, it.Reason, repl}
		})
	}
	if section("Undocumented parameters", len(d.Parameters)) {
		items(d.Parameters, func(it *conformance.Item) []string { return []string{it.Op, it.Location, it.Name} })
	}
	if section("Undocumented fields (JSON properties the schemas do not name)", len(d.Fields)) {
		items(d.Fields, func(it *conformance.Item) []string { return []string{it.Op, it.Location, it.Name} })
	}
	if section("Undocumented headers", len(d.Headers)) {
		items(d.Headers, func(it *conformance.Item) []string { return []string{it.Op, it.Name} })
	}
	if section("Undocumented status codes", len(d.Statuses)) {
		items(d.Statuses, func(it *conformance.Item) []string { return []string{it.Op, it.Reason} })
	}
	if section("Schema violations", len(d.SchemaViolations)) {
		items(d.SchemaViolations, func(it *conformance.Item) []string { return []string{it.Op, it.Location, it.Name, it.Reason} })
	}
	if len(d.Infrastructure) > 0 {
		fmt.Fprintf(w, "\nInfrastructure endpoints (health, readiness, metrics; not in the specs, not differences): %d\n", len(d.Infrastructure))
		unmatched(d.Infrastructure)
	}
	if section("Documented but never seen", len(d.NeverSeen)) {
		for _, s := range d.NeverSeen {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	if d.Dropped > 0 {
		fmt.Fprintf(w, "\n%d findings not kept (analyzers.conformance.max_tracked)\n", d.Dropped)
	}
	if n := d.Differences(); n > 0 {
		fmt.Fprintf(w, "\nResult: %d difference(s) between the specs and the traffic (exit code %d).\n", n, ExitDifferences)
	} else {
		fmt.Fprintf(w, "\nResult: the traffic matches the specs.\n")
	}
}

// table writes rows with aligned columns, indented.
func table(w io.Writer, rows [][]string) { writeTable(w, rows, nil) }
