//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/apitap/apitap/analyzer"
	_ "github.com/apitap/apitap/analyzer/all"
)

// defaultAnalyzers are the analyzers apitap runs when its configuration
// does not mention them (apitap+all), from the same registry.
func defaultAnalyzers() []string {
	var names []string
	for _, d := range analyzer.Registered() {
		if d.Default {
			names = append(names, d.Name)
		}
	}
	return names
}

// pipelineOnlyConfig turns every default analyzer off.
func pipelineOnlyConfig() string {
	s := "analyzers:\n"
	for _, n := range defaultAnalyzers() {
		s += "  " + n + ": {enabled: false}\n"
	}
	return s
}

func main() {
	// On Ctrl-C the running child is killed and the captures are removed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command-line flags.
type options struct {
	apitap, naive, gen string
	size, smallSize    string
	realisticSize      string
	dir                string
	keep               bool
	out                string
	runs               int
	timeout            time.Duration
	cpu                int
	maxWorkers         int
}

const usage = `usage: apitap-bench -apitap PATH -naive PATH -gen PATH [flags]

Generates a large and a small capture with apitap-gen, runs apitap and the
naive baseline on each (GOMAXPROCS=1, pinned to one CPU, warm page cache,
best of -runs), checks apitap's transaction count against the generator's
and prints MB/s/core, tx/s/core and peak RSS.

flags:
`

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("apitap-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.apitap, "apitap", "", "built apitap binary (required)")
	fs.StringVar(&o.naive, "naive", "", "built apitap-naive binary (required)")
	fs.StringVar(&o.gen, "gen", "", "built apitap-gen binary (required)")
	fs.StringVar(&o.size, "size", "1GB", "size of the large capture (1-64 KB transactions)")
	fs.StringVar(&o.smallSize, "small-size", "256MB", "size of the small capture (transactions under 2 KB)")
	fs.StringVar(&o.realisticSize, "realistic-size", "", "size of the realistic capture (API traffic with JSON bodies, gzip, personal data, many users; apitap-gen realistic): the headline row, with each analyzer's share and the scaling over workers; empty: none")
	fs.IntVar(&o.maxWorkers, "max-workers", runtime.NumCPU(), "largest worker count of the scaling runs on the realistic capture")
	fs.StringVar(&o.dir, "dir", "", "directory for the generated captures (default: a temporary directory)")
	fs.BoolVar(&o.keep, "keep", false, "keep the generated captures")
	fs.StringVar(&o.out, "o", "", "also write the results as a markdown `file`")
	fs.IntVar(&o.runs, "runs", 2, "timed runs per program and capture; the fastest counts")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "limit for each child process")
	fs.IntVar(&o.cpu, "cpu", -1, "CPU to pin the children to (default: the first one this process may use)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, f := range []struct{ name, v string }{{"-apitap", o.apitap}, {"-naive", o.naive}, {"-gen", o.gen}} {
		if f.v == "" {
			return o, fmt.Errorf("%s PATH is required", f.name)
		}
	}
	if o.runs < 1 {
		return o, fmt.Errorf("-runs must be at least 1, got %d", o.runs)
	}
	return o, nil
}

// run is the whole command; it returns the exit code: 0 success, 1 runtime
// failure or transaction-count mismatch, 2 usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "apitap-bench:", err)
		return 2
	}
	rep, err := bench(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "apitap-bench:", err)
		return 1
	}
	fmt.Fprint(stdout, rep.text())
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(rep.markdown()), 0o644); err != nil {
			fmt.Fprintln(stderr, "apitap-bench:", err)
			return 1
		}
	}
	if m := rep.mismatches(); len(m) > 0 {
		for _, line := range m {
			fmt.Fprintln(stdout, line)
		}
		return 1
	}
	return 0
}

// bench generates the captures, runs the programs and collects a report.
// Progress goes to log.
func bench(ctx context.Context, o options, log io.Writer) (*report, error) {
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "apitap-bench-")
		if err != nil {
			return nil, err
		}
		dir = d
		if !o.keep {
			defer os.RemoveAll(d)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// the pipeline alone (the spine's targets) and the full sensor
	pipelineOnly := filepath.Join(dir, "pipeline-only.yaml")
	if err := os.WriteFile(pipelineOnly, []byte(pipelineOnlyConfig()), 0o644); err != nil {
		return nil, err
	}
	if !o.keep {
		defer os.Remove(pipelineOnly)
	}
	pin := findPinning(ctx, o.cpu)
	rep := &report{pin: pin, runs: o.runs}
	specs := []struct {
		name, size, shape, mode string
	}{
		{"realistic", o.realisticSize, "API mix", "realistic"},
		{"large", o.size, "1-64 KB", "bench"},
		{"small", o.smallSize, "<2 KB", "small"},
	}
	for _, s := range specs {
		if s.size == "" {
			continue
		}
		c := &capture{name: s.name, shape: s.shape, path: filepath.Join(dir, s.name+".pcap")}
		if !o.keep {
			defer os.Remove(c.path)
		}
		fmt.Fprintf(log, "apitap-bench: generating %s capture (%s) in %s\n", s.name, s.size, dir)
		gen, err := generate(ctx, o.gen, c.path, s.size, s.mode)
		if err != nil {
			return nil, err
		}
		c.gen = gen
		syscall.Sync() // no writeback of the new capture during the timed runs
		if err := warm(c.path); err != nil {
			return nil, err
		}
		progs := []program{
			{name: "apitap", argv: []string{o.apitap, "read", "--workers", "1", "--emit", "stats", "--config", pipelineOnly, c.path}},
			{name: "apitap+all", argv: []string{o.apitap, "read", "--workers", "1", "--emit", "stats", c.path}},
			{name: "naive", argv: []string{o.naive, c.path}},
		}
		if s.name == "realistic" {
			// each analyzer's share: the full sensor without it
			for _, a := range defaultAnalyzers() {
				cfg := filepath.Join(dir, "without-"+a+".yaml")
				if err := os.WriteFile(cfg, []byte("analyzers:\n  "+a+": {enabled: false}\n"), 0o644); err != nil {
					return nil, err
				}
				if !o.keep {
					defer os.Remove(cfg)
				}
				progs = append(progs, program{name: "apitap+all-" + a, argv: []string{o.apitap, "read", "--workers", "1", "--emit", "stats", "--config", cfg, c.path}})
			}
		}
		ms := make([]*measurement, len(progs))
		for i, p := range progs {
			ms[i] = &measurement{capture: c, program: p.name}
		}
		for r := 1; r <= o.runs; r++ {
			for i, p := range progs {
				cctx, cancel := context.WithTimeout(ctx, o.timeout)
				res, err := runChild(cctx, p.argv, pin)
				cancel()
				if err != nil {
					return nil, fmt.Errorf("%s on %s capture: %w", p.name, c.name, err)
				}
				ms[i].add(res)
				fmt.Fprintf(log, "apitap-bench: %-6s on %s, run %d/%d: %.2f s, %d transactions, peak RSS %.1f MB\n",
					p.name, c.name, r, o.runs, res.wall.Seconds(), res.stats.Transactions, mb(res.rssBytes))
			}
		}
		rep.rows = append(rep.rows, ms...)
		if s.name == "realistic" {
			sc, mc, err := scaling(ctx, o, c, log)
			if err != nil {
				return nil, err
			}
			rep.scaling, rep.machine = sc, mc
		}
	}
	return rep, nil
}

// scaling measures the full sensor on 1, 2, ... workers (unpinned,
// GOMAXPROCS = workers) and, as the yardstick of what the machine offers,
// as many copies of the naive baseline at once (each GOMAXPROCS=1): on
// shared or virtual CPUs, independent work does not scale linearly either.
// The runs are interleaved (run r of every count before run r+1), so that
// a change in the machine's load between runs does not favour one count.
func scaling(ctx context.Context, o options, c *capture, log io.Writer) (sc, mc []*measurement, err error) {
	counts := workerCounts(o.maxWorkers)
	for _, n := range counts {
		sc = append(sc, &measurement{capture: c, program: fmt.Sprintf("apitap+all x%d", n)})
		mc = append(mc, &measurement{capture: c, program: fmt.Sprintf("naive x%d at once", n)})
	}
	for r := 1; r <= o.runs; r++ {
		for i, n := range counts {
			argv := []string{o.apitap, "read", "--workers", strconv.Itoa(n), "--emit", "stats", c.path}
			for _, p := range []struct {
				m   *measurement
				run func(context.Context) (result, error)
			}{
				{sc[i], func(ctx context.Context) (result, error) { return runChildN(ctx, argv, pinning{}, n) }},
				{mc[i], func(ctx context.Context) (result, error) { return runParallel(ctx, []string{o.naive, c.path}, n) }},
			} {
				cctx, cancel := context.WithTimeout(ctx, o.timeout)
				res, err := p.run(cctx)
				cancel()
				if err != nil {
					return nil, nil, fmt.Errorf("%s on %s capture: %w", p.m.program, c.name, err)
				}
				p.m.add(res)
				fmt.Fprintf(log, "apitap-bench: %s on %s, run %d/%d: %.2f s\n", p.m.program, c.name, r, o.runs, res.wall.Seconds())
			}
		}
	}
	return sc, mc, nil
}

// workerCounts are 1, 2, 4, ... up to max, and max.
func workerCounts(max int) []int {
	var out []int
	for n := 1; n < max; n *= 2 {
		out = append(out, n)
	}
	return append(out, max)
}

// program is one measured command line.
type program struct {
	name string
	argv []string
}
