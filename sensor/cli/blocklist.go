package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/apitap/apitap/exporter/blocklist"
	"github.com/apitap/apitap/exporter/kafka"
	"github.com/apitap/apitap/sensor"
)

func blocklistHelp(w io.Writer) {
	fmt.Fprint(w, `usage: apitap blocklist --kafka-brokers HOST:PORT [flags]

Consumes the blocklist topic (apitap.blocklist, keyed by <type>:<value>,
compacted: a tombstone revokes) as a Kafka consumer group and materialises
the current blocklist for enforcement points. On every change it replaces,
atomically (write to a temporary file, rename):

  --nginx FILE        an nginx include with one "deny ADDRESS;" line per blocked
                      IP or CIDR (include it in a server or location block)
  --nginx-geo FILE    "ADDRESS ACTION;" lines for an nginx geo block:
                      geo $apitap_action { default ""; include FILE; }
  --haproxy FILE      a HAProxy ACL file: one address or CIDR per line
                      (acl blocked src -f FILE; http-request deny if blocked)
  --haproxy-map FILE  a HAProxy map file: "ADDRESS ACTION" per line
                      (http-request deny if { src,map_ip(FILE) -m str block })
  --plain FILE        one blocked address or CIDR per line (ipset, scripts)
  --json FILE         every entry with its type, action, reason and expiry

Every value is validated for its target before it is written: addresses
and networks in canonical form only (no zone, no separator, no control
byte), never a special address (loopback, unspecified, broadcast,
multicast, link-local, documentation, reserved), never this host's own
addresses or --never-block, never a network wider than /16 (IPv4) or /32
(IPv6); identities (JSON only) without control bytes, at most 256 bytes.
What is refused is counted (apitap_blocklist_rejected_total on --listen's
/metrics) and logged.

--check-cmd runs the target's own checker on the candidate files before
they count (nginx -t -c /etc/nginx/nginx.conf, haproxy -c -f
/etc/haproxy/haproxy.cfg); when it fails, the last good files stay and
--reload-cmd does not run. With {} in the command, {} is replaced by the
candidate files and the check runs before they are put in place.
--reload-cmd (through sh -c, debounced) then lets the enforcement point
pick the change up.

--haproxy-runtime SOCKET keeps HAProxy's ACL (--haproxy-runtime-acl, by
default the --haproxy file) and map (--haproxy-runtime-map, by default the
--haproxy-map file) in step over the runtime API (stats socket with level
admin): entries apply at once, without a reload.

Dry run: entries a sensor made with blocklist.dry_run (would_block, ...)
go to each file's twin FILE.dry-run, never to FILE.

--listen serves /blocklist.txt and /blocklist.json for gateways and WAFs
that poll a URL, /metrics and /healthz. Entries disappear at their
expires_at even without a tombstone.

Only entries whose action is in --actions (default block) go to the nginx,
HAProxy and plain outputs; the JSON file and feed carry every entry.

Examples:
  apitap blocklist --kafka-brokers kafka:9092 --nginx /etc/nginx/apitap-deny.conf \
      --check-cmd "nginx -t -q" --reload-cmd "nginx -s reload"
  apitap blocklist --kafka-brokers kafka:9092 --haproxy /etc/haproxy/apitap.acl \
      --haproxy-runtime /run/haproxy/admin.sock
  apitap blocklist --kafka-brokers kafka:9092 --listen :8088 --json /var/lib/apitap/blocklist.json

Flags:
`)
	fs, _ := blocklistFlags(io.Discard)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

type blocklistOpts struct {
	config, brokers, topic, group   string
	files                           map[string]*string // format name -> path
	reload, check, listen, actions  string
	runtime, runtimeACL, runtimeMap string
	neverBlock, logLevel            string
	neverBlockLocal                 bool
	debounce, resync                time.Duration
}

func blocklistFlags(stderr io.Writer) (*flag.FlagSet, *blocklistOpts) {
	o := &blocklistOpts{files: map[string]*string{}}
	fs := flag.NewFlagSet("blocklist", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "", "YAML configuration `file`: its exporters.kafka section gives TLS and SASL settings")
	fs.StringVar(&o.brokers, "kafka-brokers", "", "comma list of `host:port` (required)")
	fs.StringVar(&o.topic, "topic", "apitap.blocklist", "blocklist `topic`")
	fs.StringVar(&o.group, "group", "apitap-blocklist", "consumer `group` (each enforcement point should have its own)")
	for _, f := range []struct{ name, usage string }{
		{"nginx", "nginx include `file` of deny lines"},
		{"nginx-geo", "nginx geo include `file` of \"ADDRESS ACTION;\" lines"},
		{"haproxy", "HAProxy ACL `file`"},
		{"haproxy-map", "HAProxy map `file` of \"ADDRESS ACTION\" lines"},
		{"plain", "plain list `file`, one address or CIDR per line"},
		{"json", "JSON `file` of every entry"},
	} {
		o.files[f.name] = fs.String(f.name, "", f.usage)
	}
	fs.StringVar(&o.check, "check-cmd", "", "`command` (sh -c) that checks the candidate files; on failure the last good files stay ({} is replaced by the candidate paths)")
	fs.StringVar(&o.reload, "reload-cmd", "", "`command` run (sh -c) after the files changed and passed --check-cmd")
	fs.DurationVar(&o.debounce, "debounce", 250*time.Millisecond, "rewrite the files (and reload) at most once per this `interval`: a burst of entries makes one reload")
	fs.StringVar(&o.runtime, "haproxy-runtime", "", "HAProxy stats `socket` (unix path or host:port, level admin): apply entries over the runtime API")
	fs.StringVar(&o.runtimeACL, "haproxy-runtime-acl", "", "ACL `reference` kept over the runtime API (default: the --haproxy file)")
	fs.StringVar(&o.runtimeMap, "haproxy-runtime-map", "", "map `reference` kept over the runtime API (default: the --haproxy-map file)")
	fs.DurationVar(&o.resync, "resync", 30*time.Second, "synchronise the HAProxy runtime API at least this `often` (after HAProxy restarts)")
	fs.StringVar(&o.listen, "listen", "", "serve /blocklist.txt, /blocklist.json, /metrics and /healthz on `host:port`")
	fs.StringVar(&o.actions, "actions", "block", "comma list of `actions` enforced by the nginx, HAProxy and plain outputs")
	fs.StringVar(&o.neverBlock, "never-block", "", "comma list of `CIDRs` never written (besides the built-in special ranges)")
	fs.BoolVar(&o.neverBlockLocal, "never-block-local", true, "never write this host's own addresses (the enforcement point's)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	return fs, o
}

func runBlocklist(args []string, env *IO) int {
	fs, o := blocklistFlags(env.Stderr)
	return runService("blocklist", fs, args, blocklistHelp, env, func(ctx context.Context) error { return doBlocklist(ctx, o, env) })
}

// consumer is `apitap blocklist` without Kafka: the state, the outputs
// and how they are kept (tests drive it directly).
type consumer struct {
	st      *blocklist.State
	files   *blocklist.Files
	runtime *blocklist.Runtime
	enforce map[string]bool
	written uint64 // state version the files hold
	synced  uint64 // state version the runtime API holds
	lastRT  time.Time
	resync  time.Duration
	log     zerolog.Logger
	// rtChanges and fileChanges wake the runtime and file loops
	rtChanges, fileChanges chan struct{}
}

// newConsumer checks the options and builds the consumer.
func newConsumer(o *blocklistOpts, log zerolog.Logger) (*consumer, error) {
	c := &consumer{enforce: map[string]bool{}, resync: o.resync, log: log, rtChanges: make(chan struct{}, 1), fileChanges: make(chan struct{}, 1)}
	for _, a := range splitList(o.actions) {
		if !slices.Contains(blocklist.Actions, a) || strings.HasPrefix(a, "would_") {
			return nil, usagef("--actions: %q, want rate_limit, block or deceive", a)
		}
		c.enforce[a] = true
	}
	never := blocklist.ConsumerGuard()
	if o.neverBlock != "" {
		ps, err := sensor.Prefixes("--never-block", splitList(o.neverBlock))
		if err != nil {
			return nil, usageError{err.Error()}
		}
		never.Add(blocklist.ReasonAllow, ps...)
	}
	if o.neverBlockLocal {
		never.Add(blocklist.ReasonSensor, blocklist.LocalPrefixes()...)
	}
	outputs := map[string]bool{}
	c.files = &blocklist.Files{Enforce: c.enforce, Check: o.check, Reload: o.reload}
	for _, name := range blocklist.FormatNames {
		if p := *o.files[name]; p != "" {
			f := blocklist.Formats[name]
			c.files.Outputs = append(c.files.Outputs, blocklist.FileOutput{Format: f, Path: p})
			outputs[name] = f.Addresses
		}
	}
	if o.runtime != "" {
		c.runtime = &blocklist.Runtime{Addr: o.runtime, ACL: o.runtimeACL, Map: o.runtimeMap, Enforce: c.enforce}
		if c.runtime.ACL == "" && c.runtime.Map == "" {
			c.runtime.ACL, c.runtime.Map = *o.files["haproxy"], *o.files["haproxy-map"]
		}
		if err := c.runtime.Validate(); err != nil {
			return nil, usagef("--haproxy-runtime: %v", err)
		}
		outputs["haproxy-runtime"] = true
	}
	if o.listen != "" {
		outputs["feed"] = false
	}
	if len(outputs) == 0 {
		return nil, usagef("nothing to maintain: give --nginx, --nginx-geo, --haproxy, --haproxy-map, --plain, --json, --haproxy-runtime or --listen")
	}
	if (o.check != "" || o.reload != "") && len(c.files.Outputs) == 0 {
		return nil, usagef("--check-cmd and --reload-cmd need a file output")
	}
	c.st = blocklist.NewState(never, outputs)
	c.files.Rejects = &c.st.Rejects
	if c.runtime != nil {
		c.runtime.Rejects = &c.st.Rejects
	}
	return c, nil
}

// notify tells the runtime and file loops that the state changed.
func (c *consumer) notify() {
	for _, ch := range []chan struct{}{c.rtChanges, c.fileChanges} {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// syncRuntime brings the HAProxy runtime API up to the state (at once:
// no reload to batch), and at least every --resync.
func (c *consumer) syncRuntime(ctx context.Context, force bool) {
	if c.runtime == nil {
		return
	}
	items, v := c.st.Snapshot()
	if v == c.synced && !force {
		return
	}
	a, ch, d, err := c.runtime.Sync(ctx, items)
	c.lastRT = time.Now()
	if err != nil {
		c.log.Error().Err(err).Msg("HAProxy runtime API not synchronised")
		return
	}
	c.synced = v
	if a+ch+d > 0 {
		c.log.Info().Int("added", a).Int("changed", ch).Int("removed", d).Msg("HAProxy runtime API updated")
	}
}

// writeFiles rewrites the files when the state changed, and reports
// whether a file changed (and the reload ran).
func (c *consumer) writeFiles(ctx context.Context) bool {
	items, v := c.st.Snapshot()
	if v == c.written || len(c.files.Outputs) == 0 {
		return false
	}
	before := c.st.Rejects.Total("")
	changed, err := c.files.Write(ctx, items)
	if err != nil {
		c.log.Error().Err(err).Msg("blocklist files")
		if !changed {
			return true // a failed check: try again with the next change, after the interval
		}
	}
	c.written = v
	if changed {
		c.log.Info().Int("entries", len(items)).Int("enforced", len(blocklist.Enforced(items, c.enforce))).
			Dur("check_ms", c.files.CheckTime).Dur("reload_ms", c.files.ReloadTime).Msg("blocklist updated")
	}
	if n := c.st.Rejects.Total(""); n > before {
		c.log.Warn().Uint64("rejected", n-before).Msg("entries refused by output validation")
	}
	return changed
}

func doBlocklist(ctx context.Context, o *blocklistOpts, env *IO) error {
	log, err := newLogger(env.Stderr, o.logLevel, env.StderrTTY)
	if err != nil {
		return err
	}
	if o.brokers == "" {
		return usagef("--kafka-brokers is required")
	}
	c, err := newConsumer(o, log)
	if err != nil {
		return err
	}
	var cfg sensor.Config
	if o.config != "" {
		if cfg, err = sensor.LoadConfig(o.config); err != nil {
			return usageError{err.Error()}
		}
	}
	dialer := &kafkago.Dialer{Timeout: 10 * time.Second, DualStack: true}
	kc, err := kafka.FromSettings(cfg.Exporters)
	if err != nil {
		return usageError{err.Error()}
	}
	if kc.TLS.Enabled {
		if dialer.TLS, err = kc.TLS.Config(); err != nil {
			return usageError{err.Error()}
		}
	}
	if kc.SASL.Mechanism != "" {
		if dialer.SASLMechanism, err = kc.SASL.Build(); err != nil {
			return usageError{err.Error()}
		}
	}
	if o.listen != "" {
		ln, err := net.Listen("tcp", o.listen)
		if err != nil {
			return fmt.Errorf("listen %s: %w", o.listen, err)
		}
		srv := &http.Server{Handler: c.handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info().Str("addr", ln.Addr().String()).Msg("serving /blocklist.txt, /blocklist.json and /metrics")
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: splitList(o.brokers), GroupID: o.group, Topic: o.topic, Dialer: dialer,
		StartOffset: kafkago.FirstOffset, MaxWait: 100 * time.Millisecond, CommitInterval: time.Second})
	defer r.Close()
	go c.loop(ctx, o.debounce)
	log.Info().Str("topic", o.topic).Str("group", o.group).Msg("consuming the blocklist")
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("kafka: %w", err)
		}
		if c.st.Apply(string(m.Key), m.Value) {
			c.notify()
		}
		if err := r.CommitMessages(ctx, m); err != nil && ctx.Err() == nil {
			log.Warn().Err(err).Msg("commit")
		}
	}
}

// loop applies changes: the runtime API at once, on its own; the files at
// once too, but at most one rewrite (and reload) per debounce interval, so
// that a burst of entries makes one reload, not one each. Every second
// entries past their expiry leave.
func (c *consumer) loop(ctx context.Context, debounce time.Duration) {
	if c.runtime != nil {
		go func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-c.rtChanges:
					c.syncRuntime(ctx, false)
				case <-tick.C:
					if time.Since(c.lastRT) >= c.resync {
						c.syncRuntime(ctx, true)
					}
				}
			}
		}()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last time.Time // of the last rewrite
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if c.st.Expire(time.Now()) {
				c.notify()
			}
			continue
		case <-c.fileChanges:
		}
		if wait := time.Until(last.Add(debounce)); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		if c.writeFiles(ctx) {
			last = time.Now()
		}
	}
}

func (c *consumer) handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(consumerMetrics{c})
	mux := http.NewServeMux()
	mux.HandleFunc("/blocklist.txt", func(w http.ResponseWriter, r *http.Request) {
		items, _ := c.st.Snapshot()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(blocklist.Formats["plain"].Render(items, func(a string) bool { return c.enforce[a] }, &c.st.Rejects))
	})
	mux.HandleFunc("/blocklist.json", func(w http.ResponseWriter, r *http.Request) {
		items, _ := c.st.Snapshot()
		w.Header().Set("Content-Type", "application/json")
		w.Write(blocklist.Formats["json"].Render(items, func(a string) bool { _, dry := blocklist.DryRunAction(a); return !dry }, &c.st.Rejects))
	})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	return mux
}

// consumerMetrics are apitap blocklist's Prometheus metrics.
type consumerMetrics struct{ c *consumer }

var (
	descBLEntries  = prometheus.NewDesc("apitap_blocklist_entries", "Entries held, by action.", []string{"action"}, nil)
	descBLRejected = prometheus.NewDesc("apitap_blocklist_rejected_total", "Entries an output refused, by output and reason.", []string{"output", "reason"}, nil)
	descBLCheck    = prometheus.NewDesc("apitap_blocklist_check_failures_total", "Candidate files --check-cmd refused (the last good files stayed).", nil, nil)
	descBLReload   = prometheus.NewDesc("apitap_blocklist_reload_failures_total", "--reload-cmd runs that failed.", nil, nil)
	descBLRuntime  = prometheus.NewDesc("apitap_blocklist_runtime_errors_total", "HAProxy runtime API synchronisations that failed.", nil, nil)
)

func (m consumerMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBLEntries, descBLRejected, descBLCheck, descBLReload, descBLRuntime} {
		ch <- d
	}
}

func (m consumerMetrics) Collect(ch chan<- prometheus.Metric) {
	items, _ := m.c.st.Snapshot()
	by := map[string]int{}
	for _, it := range items {
		by[it.Action]++
	}
	for _, a := range blocklist.Actions {
		ch <- prometheus.MustNewConstMetric(descBLEntries, prometheus.GaugeValue, float64(by[a]), a)
	}
	m.c.st.Rejects.Each(func(o, r string, n uint64) {
		ch <- prometheus.MustNewConstMetric(descBLRejected, prometheus.CounterValue, float64(n), o, r)
	})
	ch <- prometheus.MustNewConstMetric(descBLCheck, prometheus.CounterValue, float64(m.c.files.CheckFailures.Load()))
	ch <- prometheus.MustNewConstMetric(descBLReload, prometheus.CounterValue, float64(m.c.files.ReloadFailures.Load()))
	var rt uint64
	if m.c.runtime != nil {
		rt = m.c.runtime.Errors.Load()
	}
	ch <- prometheus.MustNewConstMetric(descBLRuntime, prometheus.CounterValue, float64(rt))
}

// runService runs a long-lived subcommand (blocklist, correlate): its
// flags without arguments, then do until SIGINT or SIGTERM.
func runService(name string, fs *flag.FlagSet, args []string, help func(io.Writer), env *IO, do func(context.Context) error) int {
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: apitap %s --kafka-brokers HOST:PORT [flags]   (apitap help %s for details)\n", name, name)
	}
	rest, _, code, done := parseArgs(fs, args, help, env)
	if done {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(env.Stderr, "apitap %s: unexpected argument %q\n", name, rest[0])
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := do(ctx)
	if err != nil {
		fmt.Fprintf(env.Stderr, "apitap %s: %v\n", name, err)
	}
	return exitCode(err)
}
