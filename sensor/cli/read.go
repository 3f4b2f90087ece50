package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer/attack"
	"github.com/apitap/apitap/analyzer/behavior"
	"github.com/apitap/apitap/analyzer/conformance"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/exporter"
	"github.com/apitap/apitap/exporter/kafka"
	"github.com/apitap/apitap/exporter/spool"
	"github.com/apitap/apitap/sensor"
	"github.com/apitap/apitap/sensor/capture"
)

func readHelp(w io.Writer) {
	fmt.Fprint(w, `usage: apitap read [flags] FILE...

Reads capture files as fast as the machine allows, reassembles TCP, parses
HTTP/1.x transactions and writes events as JSON lines (one per line) to
standard output or --out. A progress bar and a summary go to standard error.

FILE is a pcap or pcapng capture, either of them gzip-compressed, or - for
standard input. The format is detected from the content. Tunnelled mirror
traffic (VXLAN, GENEVE, GRE, ERSPAN II/III), VLAN/QinQ tags, Linux cooked
captures (SLL, SLL2) and raw IP are decoded. A truncated or corrupt capture
is processed up to the damage, which the summary and the stats event report.

Events (see docs/events.md): by default every type but "transaction" is
written; with no analyzers enabled that is the final "stats" event. Use
--emit transaction,stats to see each HTTP transaction.

Examples:
  apitap read capture.pcap
  apitap read --emit transaction,stats --out events.jsonl day1.pcap.gz day2.pcapng
  tcpdump -i eth0 -w - -U 'tcp port 80' | apitap read --emit transaction -

Flags:
`)
	fs, _ := readFlags(io.Discard)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

type readOpts struct {
	config    string
	out       string
	emit      string
	workers   int
	sensorID  string
	maxBody   int
	bodyBytes int
	logLevel  string
	progress  string
	quiet     bool
	kafka     string
	spoolDir  string
	specs     []string
	rules     []string
	protos    string
	setFlags  map[string]bool
	// offline: the command reads captures (one worker by default: the
	// same output on every run)
	offline bool
}

// Help of --workers, for live capture and for reading captures.
const (
	workersLive    = "reassembly workers (flow shards); 0 means one per CPU (GOMAXPROCS)"
	workersOffline = "reassembly workers (flow shards); 0 means one per CPU; the output is the same, line for line, with any number of workers " +
		"(stage two puts everything back in capture order)"
)

// workersFlag registers --workers with the command's default.
func (o *readOpts) workersFlag(fs *flag.FlagSet) {
	if o.offline {
		fs.IntVar(&o.workers, "workers", 1, workersOffline)
	} else {
		fs.IntVar(&o.workers, "workers", 0, workersLive)
	}
}

// reportFlags are the flags of the commands that read captures and write
// one report (catalog, diff) instead of events: what names the report.
func (o *readOpts) reportFlags(fs *flag.FlagSet, what string) {
	fs.StringVar(&o.config, "config", "", "YAML configuration `file` (strict: unknown keys are errors)")
	fs.StringVar(&o.out, "out", "", "write the "+what+" to `file` instead of standard output (-o is the same)")
	fs.StringVar(&o.out, "o", "", "short for --out")
	o.offline = true
	o.workersFlag(fs)
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&o.progress, "progress", "auto", "progress bar on standard error: auto (when it is a terminal), always, never")
	fs.BoolVar(&o.quiet, "quiet", false, "do not print the read summary on standard error")
	o.specFlag(fs)
	o.protoFlag(fs)
}

// protoFlag registers --proto-descriptors.
func (o *readOpts) protoFlag(fs *flag.FlagSet) {
	fs.StringVar(&o.protos, "proto-descriptors", "", "protobuf descriptor set `file` (protoc --descriptor_set_out=FILE --include_imports): gRPC messages of its methods are decoded with field names (without it, by field number)")
}

// specFlag registers the repeatable --spec flag.
func (o *readOpts) specFlag(fs *flag.FlagSet) {
	fs.Func("spec", "OpenAPI 3.0/3.1 or Swagger 2.0 `file or dir` (repeatable): check traffic against it (conformance analyzer)", func(v string) error {
		if v == "" {
			return fmt.Errorf("empty path")
		}
		o.specs = append(o.specs, v)
		return nil
	})
}

func readFlags(stderr io.Writer) (*flag.FlagSet, *readOpts) {
	o := &readOpts{offline: true}
	fs := flag.NewFlagSet("read", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.commonFlags(fs)
	fs.StringVar(&o.progress, "progress", "auto", "progress bar on standard error: auto (when it is a terminal), always, never")
	return fs, o
}

// commonFlags are the flags of every command that runs the pipeline.
func (o *readOpts) commonFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.config, "config", "", "YAML configuration `file` (strict: unknown keys are errors); flags override it")
	fs.StringVar(&o.out, "out", "", "write events to `file` instead of standard output (-o is the same)")
	fs.StringVar(&o.out, "o", "", "short for --out")
	fs.StringVar(&o.emit, "emit", "", "comma list of event `types` to write: transaction, endpoint, detection, blocklist, actor, stats, or all (default: all but transaction)")
	o.workersFlag(fs)
	fs.StringVar(&o.sensorID, "sensor-id", "", "`id` written into every event (default: the host name)")
	fs.IntVar(&o.maxBody, "max-body-bytes", 0, "body `bytes` kept per HTTP message after decoding (default 65536)")
	fs.IntVar(&o.bodyBytes, "body-bytes", 0, "put up to `n` raw body bytes into transaction events (debugging only: bodies may hold sensitive data)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.BoolVar(&o.quiet, "quiet", false, "do not print the summary")
	fs.StringVar(&o.kafka, "kafka-brokers", "", "also send events to Kafka: comma list of `host:port` (topics: docs/events.md)")
	fs.StringVar(&o.spoolDir, "spool-dir", "", "keep events on disk in `dir` while Kafka is unreachable, and deliver them, in order, when it is back (also at the next start)")
	o.specFlag(fs)
	o.protoFlag(fs)
	fs.Func("rules", "directory (or file) of YAML attack rule `packs` (repeatable), on top of the built-in CVE pack; reloaded on SIGHUP by apitap run", func(v string) error {
		if v == "" {
			return fmt.Errorf("empty path")
		}
		o.rules = append(o.rules, v)
		return nil
	})
}

// startExport connects the pipeline to the sinks configured under
// `exporters:` (see package exporter). block makes the pipeline wait for a
// slow sink instead of dropping (offline reads). It returns nil when no
// sink is configured.
func startExport(cfg sensor.Config, p *sensor.Pipeline, block bool, log zerolog.Logger) (*exporter.FanOut, error) {
	enabled, err := exporter.Configure(cfg.Exporters)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	if len(enabled) == 0 {
		return nil, nil
	}
	sinks, err := exporter.Build(enabled, exporter.Env{Log: log, Sensor: cfg.Sensor.ID, Version: Version})
	if err != nil {
		return nil, err
	}
	fan := exporter.New(exporter.Options{Block: block, Log: log}, sinks...)
	p.Export = func(typ, key string, line []byte) {
		fan.Add(exporter.Record{Type: typ, Key: key, Value: append([]byte(nil), line...)})
	}
	return fan, nil
}

// finishExport drains the sinks and reports them in the summary.
func finishExport(fan *exporter.FanOut, w io.Writer, quiet bool) error {
	if fan == nil {
		return nil
	}
	err := fan.Close()
	if !quiet {
		for _, s := range fan.Stats() {
			fmt.Fprintf(w, "  sink %-9s %s events handed over, %s dropped (queue full), %s failed\n", s.Sink, humanCount(s.Sent), humanCount(s.Dropped), humanCount(s.Failed))
		}
		for _, s := range fan.Sinks() {
			if sp, ok := exporter.As[*spool.Sink](s); ok {
				n, b, lost, corrupt := sp.Stats()
				fmt.Fprintf(w, "  spool %-8s %s events (%s) left for the next run, %s lost to the size bound, %s corrupt\n", s.Name(), humanCount(uint64(n)), humanBytes(uint64(b)), humanCount(lost), humanCount(corrupt))
			}
		}
	}
	if err == nil {
		if full, failed := fan.Drops(); full+failed > 0 {
			err = fmt.Errorf("%d events could not be delivered to the sinks", full+failed)
		}
	}
	return err
}

func runRead(args []string, env *IO) int {
	fs, o := readFlags(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: apitap read [flags] FILE...   (apitap help read for details)")
	}
	files, set, code, done := parseArgs(fs, args, readHelp, env)
	if done {
		return code
	}
	o.setFlags = set
	err := doRead(files, o, env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "apitap read: %v\n", err)
	}
	return exitCode(err)
}

// buildConfig layers flags over the config file over defaults.
func (o *readOpts) buildConfig() (sensor.Config, error) {
	var cfg sensor.Config
	if o.config != "" {
		c, err := sensor.LoadConfig(o.config)
		if err != nil {
			return cfg, usageError{err.Error()}
		}
		cfg = c
	}
	if o.setFlags["emit"] {
		emit, err := sensor.ParseEmit(o.emit)
		if err != nil {
			return cfg, usageError{err.Error()}
		}
		cfg.Output.Emit = emit
		if cfg.Output.Emit == nil {
			cfg.Output.Emit = []string{}
		}
	}
	if o.setFlags["out"] || o.setFlags["o"] {
		cfg.Output.File = o.out
	}
	if o.setFlags["workers"] {
		if o.workers < 0 {
			return cfg, usagef("--workers must be positive, got %d", o.workers)
		}
		cfg.Sensor.Workers = o.workers
	} else if o.offline && cfg.Sensor.Workers == 0 {
		cfg.Sensor.Workers = 1 // reading captures: the same output on every run
	}
	if o.sensorID != "" {
		cfg.Sensor.ID = o.sensorID
	}
	if o.setFlags["max-body-bytes"] {
		if o.maxBody <= 0 {
			return cfg, usagef("--max-body-bytes must be positive, got %d", o.maxBody)
		}
		cfg.Reassembly.HTTP.MaxBodyBytes = o.maxBody
	}
	if brokers := splitList(o.kafka); o.setFlags["kafka-brokers"] || o.setFlags["spool-dir"] {
		spoolDir, setSpool := o.spoolDir, o.setFlags["spool-dir"]
		cfg.Exporters.Override(kafka.Name, len(brokers) > 0, func(c any) {
			kc := c.(*kafka.Config)
			if len(brokers) > 0 {
				kc.Brokers = brokers
			}
			if setSpool {
				kc.Spool.Dir = spoolDir
			}
		})
	}
	if len(o.specs) > 0 {
		specs := o.specs
		cfg.Analyzers.Override(conformance.Name, true, func(c any) {
			cc := c.(*conformance.Config)
			cc.Specs = append(cc.Specs, specs...)
		})
	}
	if len(o.rules) > 0 {
		rules := o.rules
		cfg.Analyzers.Override(attack.Name, true, func(c any) {
			ac := c.(*attack.Config)
			ac.Rules = append(ac.Rules, rules...)
		})
	}
	if o.setFlags["body-bytes"] {
		cfg.Output.BodyBytes = o.bodyBytes
	}
	if o.setFlags["proto-descriptors"] {
		cfg.Reassembly.GRPC.ProtoDescriptors = o.protos
	}
	if !o.setFlags["quiet"] && cfg.Output.Quiet {
		o.quiet = true
	}
	if !o.setFlags["progress"] && cfg.Output.Progress != "" {
		o.progress = cfg.Output.Progress
	}
	switch o.progress {
	case "auto", "always", "never":
	default:
		return cfg, usagef("--progress: want auto, always or never, got %q", o.progress)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		where := "flags"
		if o.config != "" {
			where = o.config + " or flags"
		}
		return cfg, usagef("configuration (%s): %v", where, err)
	}
	return cfg, nil
}

func doRead(files []string, o *readOpts, env *IO) error {
	if len(files) == 0 {
		return usagef("no capture file given (use - for standard input); see apitap help read")
	}
	log, err := o.logger(env)
	if err != nil {
		return err
	}
	cfg, err := o.buildConfig()
	if err != nil {
		return err
	}
	if err := checkFiles(files); err != nil {
		return err
	}

	out := env.Stdout
	if cfg.Output.File != "" && cfg.Output.File != "-" {
		f, err := os.Create(cfg.Output.File)
		if err != nil {
			return fmt.Errorf("open output: %w", err)
		}
		defer f.Close()
		out = f
	}

	p, err := sensor.NewPipeline(cfg, out, log)
	if err != nil {
		return usageError{err.Error()}
	}
	fan, err := startExport(cfg, p, true, log)
	if err != nil {
		return err
	}
	failed := readFiles(p, files, o, env, log)
	sum, err := p.Close()
	for _, f := range sum.Files {
		if f.Damage != "" {
			log.Warn().Str("file", f.Name).Str("damage", f.Damage).Uint64("packets_read", f.Packets).Msgf("capture damaged; processed up to the damage: %v", f.Err)
		}
	}
	if !o.quiet {
		printSummary(env.Stderr, sum, cfg)
		if cat, ok := p.Shared(discovery.Name).(*discovery.Catalog); ok {
			printCatalog(env.Stderr, cat.View(), catalogRows)
		}
		if t, ok := p.Shared(behavior.Name).(*behavior.Tracker); ok {
			printActors(env.Stderr, t, sum.LastTime, actorRows)
		}
	}
	if xerr := finishExport(fan, env.Stderr, o.quiet); err == nil {
		err = xerr
	}
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d captures could not be read: %s", len(failed), len(files), strings.Join(failed, ", "))
	}
	return nil
}

// readFiles runs every capture through p, with a progress bar when asked,
// and returns the names of those that could not be read.
// analysis is a read of captures whose product is not the event stream
// (catalog, diff, report): no events are written and --out names the
// product.
type analysis struct {
	p      *sensor.Pipeline
	sum    *sensor.Summary
	cfg    sensor.Config
	out    string   // --out: where the product goes
	failed []string // captures that could not be read
}

// analyse reads files with every event type off. need names an analyzer
// the product comes from: it is checked before anything is read.
func (o *readOpts) analyse(files []string, env *IO, need string) (*analysis, error) {
	if len(files) == 0 {
		return nil, usagef("no capture file given (use - for standard input)")
	}
	log, err := o.logger(env)
	if err != nil {
		return nil, err
	}
	a := &analysis{out: o.out}
	o.setFlags["out"], o.setFlags["o"] = false, false
	o.setFlags["emit"], o.emit = true, ""
	if a.cfg, err = o.buildConfig(); err != nil {
		return nil, err
	}
	if err := checkFiles(files); err != nil {
		return nil, err
	}
	if a.p, err = sensor.NewPipeline(a.cfg, io.Discard, log); err != nil {
		return nil, usageError{err.Error()}
	}
	if need != "" && !contains(a.p.Analyzers, need) {
		return nil, usagef("the %s analyzer is disabled in %s", need, o.config)
	}
	a.failed = readFiles(a.p, files, o, env, log)
	if a.sum, err = a.p.Close(); err != nil {
		return nil, err
	}
	return a, nil
}

// failures is the error of the captures that could not be read.
func (a *analysis) failures(files []string) error {
	if len(a.failed) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d captures could not be read: %s", len(a.failed), len(files), strings.Join(a.failed, ", "))
}

func readFiles(p *sensor.Pipeline, files []string, o *readOpts, env *IO, log zerolog.Logger) []string {
	showProgress := o.progress == "always" || (o.progress == "auto" && env.StderrTTY)
	var failed []string
	var err error
	for i, name := range files {
		var src *capture.File
		if name == "-" {
			src, err = capture.OpenReader("-", env.Stdin)
		} else {
			src, err = capture.OpenFile(name)
		}
		if err != nil {
			log.Error().Err(err).Msg("cannot read capture")
			failed = append(failed, name)
			continue
		}
		var bar *progressBar
		if showProgress {
			bar = startProgress(env.Stderr, src, p, i+1, len(files))
		}
		err = p.Run(src)
		bar.stop()
		src.Close()
		if err != nil {
			log.Error().Err(err).Str("file", name).Msg("read failed")
			failed = append(failed, name)
		}
	}
	return failed
}

// checkFiles rejects missing files, directories and a repeated stdin
// before anything starts.
func checkFiles(files []string) error {
	stdin := 0
	for _, f := range files {
		if f == "-" {
			stdin++
			continue
		}
		st, err := os.Stat(f)
		if err != nil {
			return usagef("%v", err)
		}
		if st.IsDir() {
			return usagef("%s is a directory, not a capture file", f)
		}
	}
	if stdin > 1 {
		return usagef("standard input (-) can be read only once")
	}
	return nil
}
