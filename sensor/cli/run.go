package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/bpf"
	"github.com/apitap/apitap/exporter"
	"github.com/apitap/apitap/sensor"
	"github.com/apitap/apitap/sensor/admin"
)

func runHelp(w io.Writer) {
	fmt.Fprint(w, `usage: apitap run [flags] -i IFACE

Captures live traffic from a network interface (a SPAN/tap mirror port, a
traffic-mirroring target, or a Kubernetes node's interface), reassembles TCP,
parses HTTP/1.x and writes events like 'apitap read', until SIGINT or
SIGTERM; then it flushes open connections, writes the final stats event and
prints the summary.

Capture uses AF_PACKET TPACKET_V3 rings, one socket per worker joined in a
PACKET_FANOUT_HASH group: the kernel spreads flows over the workers by a
symmetric flow hash, so both directions of a connection meet on one worker.
The interface is put in promiscuous mode (mirror ports need it) unless
--promisc=false. Needs root, or CAP_NET_RAW (and CAP_NET_ADMIN for
promiscuous mode, CAP_BPF for the pre-filter). Once its sockets are open it
drops every capability and sets no_new_privs.

An eBPF pre-filter on the sockets drops, in the kernel, what --ports,
--allow, --deny, --vlans and --sample do not select, before it costs a copy
into the ring; where the kernel refuses eBPF, apitap warns and captures
everything (or refuses to start when a selection was asked for).

Examples:
  apitap run -i eth1                                  summary on Ctrl-C
  apitap run -i eth1 --emit transaction,stats -o /var/log/apitap.jsonl
  apitap run -i ens5 --workers 4 --ring-mb 256        a busy AWS mirror target
  apitap run -i eth1 --ports 80,8080 --deny 10.0.9.0/24   only two API ports, not a noisy subnet

Flags:
`)
	fs, _ := runFlags(io.Discard)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// ifaceList is the repeatable -i flag.
type ifaceList []string

func (l *ifaceList) String() string { return strings.Join(*l, ",") }

func (l *ifaceList) Set(v string) error {
	for _, f := range splitList(v) {
		*l = append(*l, f)
	}
	return nil
}

type runOpts struct {
	readOpts
	ifaces                    ifaceList
	adminAddr, adminTokenFile string
	ringMB                    int
	promisc                   bool
	ebpf                      bool
	ports                     string
	allow                     string
	deny                      string
	vlans                     string
	sample                    int
	tunnels                   bool
	source                    string
	bpfExpr                   string
	tlsUprobes                bool

	statsInterval time.Duration
}

func runFlags(stderr io.Writer) (*flag.FlagSet, *runOpts) {
	o := &runOpts{}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&o.ifaces, "i", "network `interface` to capture on; repeat for several; \"any\" captures every interface (cooked, without link headers)")
	fs.Var(&o.ifaces, "iface", "same as -i (comma-separated list allowed; APITAP_IFACE=eth0,eth1)")
	fs.IntVar(&o.ringMB, "ring-mb", 64, "AF_PACKET ring size per worker, in `MiB`")
	fs.BoolVar(&o.promisc, "promisc", true, "put the interface in promiscuous mode")
	fs.BoolVar(&o.ebpf, "ebpf", true, "filter in the kernel with the eBPF pre-filter (falls back to no pre-filter, with a warning, where the kernel refuses it)")
	fs.StringVar(&o.ports, "ports", "", "keep only TCP traffic from or to these `ports` (comma list; default: all)")
	fs.StringVar(&o.allow, "allow", "", "keep only traffic from or to these `CIDRs` (comma list; default: all)")
	fs.StringVar(&o.deny, "deny", "", "drop traffic from or to these `CIDRs` (comma list)")
	fs.StringVar(&o.vlans, "vlans", "", "keep only traffic tagged with these VLAN `ids` (comma list; default: all)")
	fs.IntVar(&o.sample, "sample", 0, "keep only this many `flows` per 1000 (both directions alike; 0: all)")
	fs.BoolVar(&o.tunnels, "tunnels", true, "keep VXLAN/GENEVE/GRE mirror traffic whatever --ports says")
	fs.StringVar(&o.source, "source", "afpacket", "capture `source`: afpacket (default; fanout over workers) or pcap (libpcap, one worker; needs a build with -tags pcap)")
	fs.StringVar(&o.bpfExpr, "bpf", "", "classic BPF `filter` in tcpdump syntax, instead of the eBPF pre-filter (needs a build with -tags pcap)")
	o.commonFlags(fs)
	fs.BoolVar(&o.tlsUprobes, "tls-uprobes", false, "read HTTPS in clear inside this node's processes: eBPF uprobes on OpenSSL's SSL_read/SSL_write and Go's crypto/tls (root; docs/tls.md)")
	fs.DurationVar(&o.statsInterval, "stats-interval", 0, "write a stats event this often (default 60s; 0 keeps the configuration's)")
	fs.StringVar(&o.adminAddr, "admin-addr", "127.0.0.1:9090", "serve /metrics (Prometheus), /healthz, /readyz and the read-only API (/api/catalog, /api/catalog/openapi, /api/blocklist, /api/actors, /api/detections, /api/stats, /api/tls) and the live /report on `host:port`; \"\" turns it off")
	fs.StringVar(&o.adminTokenFile, "admin-token-file", "", "`file` whose first line is a bearer token the admin API requires (use it whenever --admin-addr is not on localhost)")
	o.progress = "never"
	return fs, o
}

func runRun(args []string, env *IO) int {
	fs, o := runFlags(env.Stderr)
	fs.Usage = func() { fmt.Fprintln(env.Stderr, "usage: apitap run [flags] -i IFACE   (apitap help run for details)") }
	rest, set, code, done := parseArgs(fs, args, runHelp, env)
	if done {
		return code
	}
	o.setFlags = set
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := doRun(ctx, rest, o, env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "apitap run: %v\n", err)
	}
	return exitCode(err)
}

func doRun(ctx context.Context, rest []string, o *runOpts, env *IO) error {
	if len(rest) > 0 {
		return usagef("unexpected arguments %q (capture files are read with apitap read)", strings.Join(rest, " "))
	}
	cfg, err := o.buildConfig()
	if err != nil {
		return err
	}
	o.fromConfig(cfg)
	if o.setFlags["tls-uprobes"] {
		cfg.TLS.Uprobes.Enabled = o.tlsUprobes
	}
	if len(o.ifaces) == 0 {
		return usagef("no interface given: use -i IFACE (or capture.interfaces in --config)")
	}
	if o.ringMB < 2 || o.ringMB > 1<<16 {
		return usagef("--ring-mb must be between 2 and 65536, got %d", o.ringMB)
	}
	for _, i := range o.ifaces {
		if i == "any" {
			if len(o.ifaces) > 1 {
				return usagef("-i any already captures every interface")
			}
			continue
		}
		if _, err := net.InterfaceByName(i); err != nil {
			return usagef("-i %s: %v", i, err)
		}
	}
	log, err := newLogger(env.Stderr, o.logLevel, env.StderrTTY)
	if err != nil {
		return err
	}
	if o.statsInterval < 0 {
		return usagef("--stats-interval must be positive, got %s", o.statsInterval)
	}
	if o.statsInterval > 0 {
		cfg.Output.StatsInterval = o.statsInterval
	}
	out := env.Stdout
	if cfg.Output.File != "" && cfg.Output.File != "-" {
		f, err := os.OpenFile(cfg.Output.File, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("open output: %w", err)
		}
		defer f.Close()
		out = f
	}
	fcfg, err := o.filterConfig(cfg)
	if err != nil {
		return err
	}
	if o.source != "afpacket" && o.source != "pcap" {
		return usagef("--source: want afpacket or pcap, got %q", o.source)
	}
	if o.bpfExpr != "" && sensor.Selects(fcfg) {
		return usagef("--bpf replaces the eBPF pre-filter: give either --bpf or --ports/--allow/--deny/--vlans/--sample")
	}
	var fan *exporter.FanOut
	res, err := sensor.Run(ctx, sensor.Options{
		Config: cfg, Ifaces: o.ifaces, Source: o.source, RingMB: o.ringMB, Promisc: o.promisc,
		EBPF: o.ebpf, BPF: o.bpfExpr, Filter: fcfg, Out: out, Log: log,
		Export: func(p *sensor.Pipeline) (func() error, error) {
			var err error
			if fan, err = startExport(cfg, p, false, log); err != nil {
				return nil, err
			}
			return func() error { return finishExport(fan, env.Stderr, o.quiet) }, nil
		},
		Admin: func(ctx context.Context, p *sensor.Pipeline) (func(), error) {
			adm, err := o.startAdmin(ctx, p, cfg.Sensor.ID, log)
			if err != nil || adm == nil {
				return nil, err
			}
			return func() {
				adm.SetExport(fan)
				adm.SetReady(true)
			}, nil
		},
		Reload: func(filter *bpf.Filter) { o.reload(cfg, filter, log) },
	})
	var ce *sensor.ConfigError
	if errors.As(err, &ce) {
		return usageError{ce.Error()}
	}
	if res != nil && res.Summary != nil && !o.quiet {
		printSummary(env.Stderr, res.Summary, cfg)
		fmt.Fprintf(env.Stderr, "  kernel         %s packets received, %s dropped, %s ring freezes\n", humanCount(res.KernelPackets), humanCount(res.KernelDrops), humanCount(res.KernelFreezes))
		if res.FilterRan {
			c := res.Filter
			fmt.Fprintf(env.Stderr, "  eBPF filter    %s seen, %s kept, dropped: %s port, %s allow, %s deny, %s vlan, %s sampling\n",
				humanCount(c[bpf.CounterSeen]), humanCount(c[bpf.CounterKept]), humanCount(c[bpf.CounterDroppedPort]), humanCount(c[bpf.CounterDroppedAllow]),
				humanCount(c[bpf.CounterDroppedDeny]), humanCount(c[bpf.CounterDroppedVLAN]), humanCount(c[bpf.CounterDroppedSample]))
			if parts := portCounts(res.Ports, 5); len(parts) > 0 {
				fmt.Fprintf(env.Stderr, "  kept by port   %s (packets/bytes)\n", strings.Join(parts, ", "))
			}
		}
	}
	return err
}

// portCounts are the pre-filter's per-port counters, busiest first, as
// "PORT PACKETS/BYTES" texts (at most n), for the summary.
func portCounts(ps map[uint16]bpf.PortStat, n int) []string {
	var ports []event.Count
	for port, st := range ps {
		name := fmt.Sprintf("%d", port)
		if port == 0 {
			name = "other"
		}
		ports = append(ports, event.Count{Name: fmt.Sprintf("%s %s/%s", name, humanCount(st.Packets), humanBytes(st.Bytes)), N: st.Packets})
	}
	sort.Slice(ports, func(i, j int) bool {
		return ports[i].N > ports[j].N || (ports[i].N == ports[j].N && ports[i].Name < ports[j].Name)
	})
	var parts []string
	for _, x := range ports[:min(n, len(ports))] {
		parts = append(parts, x.Name)
	}
	return parts
}

// filterConfig is the pre-filter selection: the configuration's capture
// section with the flags given on the command line on top.
func (o *runOpts) filterConfig(cfg sensor.Config) (bpf.Config, error) {
	cc := cfg.Capture
	if o.setFlags["sample"] {
		if o.sample < 0 || o.sample > 1000 {
			return bpf.Config{}, usagef("--sample must be between 0 and 1000, got %d", o.sample)
		}
		cc.SamplePerMille = o.sample
	}
	if o.setFlags["tunnels"] || cc.Tunnels == nil {
		cc.Tunnels = &o.tunnels
	}
	if o.setFlags["ports"] {
		cc.Ports = nil
		for _, f := range splitList(o.ports) {
			n, err := strconv.ParseUint(f, 10, 16)
			if err != nil || n == 0 {
				return bpf.Config{}, usagef("--ports: bad port %q", f)
			}
			cc.Ports = append(cc.Ports, uint16(n))
		}
	}
	if o.setFlags["vlans"] {
		cc.VLANs = nil
		for _, f := range splitList(o.vlans) {
			n, err := strconv.ParseUint(f, 10, 16)
			if err != nil || n > 4095 {
				return bpf.Config{}, usagef("--vlans: bad VLAN id %q", f)
			}
			cc.VLANs = append(cc.VLANs, uint16(n))
		}
	}
	if o.setFlags["allow"] {
		cc.Allow = splitList(o.allow)
	}
	if o.setFlags["deny"] {
		cc.Deny = splitList(o.deny)
	}
	c := bpf.Config{Ports: cc.Ports, VLANs: cc.VLANs, Tunnels: *cc.Tunnels, SamplePerMille: cc.SamplePerMille}
	var err error
	if c.Allow, err = sensor.Prefixes("--allow", cc.Allow); err != nil {
		return c, usageError{err.Error()}
	}
	if c.Deny, err = sensor.Prefixes("--deny", cc.Deny); err != nil {
		return c, usageError{err.Error()}
	}
	return c, nil
}

// reload re-reads the configuration on SIGHUP: the capture section goes to
// the eBPF maps at once; other changed sections are named as needing a
// restart. A configuration that does not validate changes nothing.
func (o *runOpts) reload(running sensor.Config, filter *bpf.Filter, log zerolog.Logger) {
	if o.config == "" {
		log.Info().Msg("SIGHUP: no --config file to reload")
		return
	}
	cfg, err := o.buildConfig()
	if err != nil {
		log.Error().Err(err).Msg("SIGHUP: configuration not reloaded")
		return
	}
	fcfg, err := o.filterConfig(cfg)
	if err != nil {
		log.Error().Err(err).Msg("SIGHUP: configuration not reloaded")
		return
	}
	applied := "nothing"
	if filter != nil {
		if err := filter.Apply(fcfg); err != nil {
			log.Error().Err(err).Msg("SIGHUP: pre-filter not updated")
			return
		}
		applied = "capture (eBPF pre-filter)"
	} else if sensor.Selects(fcfg) {
		log.Warn().Msg("SIGHUP: the capture selection needs the eBPF pre-filter, which is not loaded")
	}
	var restart []string
	a, b := reflect.ValueOf(running), reflect.ValueOf(cfg)
	for i := 0; i < a.NumField(); i++ {
		name := strings.Split(a.Type().Field(i).Tag.Get("yaml"), ",")[0]
		if name != "capture" && !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			restart = append(restart, name)
		}
	}
	// the live-capture keys of the capture section are set up once
	ca, cb := reflect.ValueOf(running.Capture), reflect.ValueOf(cfg.Capture)
	for i := 0; i < ca.NumField(); i++ {
		switch name := strings.Split(ca.Type().Field(i).Tag.Get("yaml"), ",")[0]; name {
		case "interfaces", "source", "ring_mb", "promisc", "ebpf", "bpf":
			if !reflect.DeepEqual(ca.Field(i).Interface(), cb.Field(i).Interface()) {
				restart = append(restart, "capture."+name)
			}
		}
	}
	ev := log.Info().Str("applied", applied)
	if len(restart) > 0 {
		ev = ev.Strs("needs_restart", restart)
	}
	ev.Msg("SIGHUP: configuration reloaded")
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// fromConfig takes the live-capture, admin and log settings of the
// configuration file where no flag (or APITAP_ variable) gave them.
func (o *runOpts) fromConfig(cfg sensor.Config) {
	set := o.setFlags
	c := cfg.Capture
	if !set["i"] && !set["iface"] && len(c.Interfaces) > 0 {
		o.ifaces = append(ifaceList(nil), c.Interfaces...)
	}
	if !set["ring-mb"] && c.RingMB != 0 {
		o.ringMB = c.RingMB
	}
	if !set["promisc"] && c.Promisc != nil {
		o.promisc = *c.Promisc
	}
	if !set["ebpf"] && c.EBPF != nil {
		o.ebpf = *c.EBPF
	}
	if !set["source"] && c.Source != "" {
		o.source = c.Source
	}
	if !set["bpf"] && c.BPF != "" {
		o.bpfExpr = c.BPF
	}
	if !set["admin-addr"] && cfg.Admin.Addr != nil {
		o.adminAddr = *cfg.Admin.Addr
		set["admin-addr"] = true // given on purpose: a busy address is an error
	}
	if !set["admin-token-file"] && cfg.Admin.TokenFile != "" {
		o.adminTokenFile = cfg.Admin.TokenFile
	}
	if !set["log-level"] && cfg.Log.Level != "" {
		o.logLevel = cfg.Log.Level
	}
}

// startAdmin serves the admin endpoints until ctx ends. The default
// address being busy is a warning; an address given on purpose must work.
func (o *runOpts) startAdmin(ctx context.Context, p *sensor.Pipeline, sensorID string, log zerolog.Logger) (*admin.Server, error) {
	if o.adminAddr == "" {
		return nil, nil
	}
	token := ""
	if o.adminTokenFile != "" {
		b, err := os.ReadFile(o.adminTokenFile)
		if err != nil {
			return nil, usagef("--admin-token-file: %v", err)
		}
		token = strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
		if len(token) < 16 {
			return nil, usagef("--admin-token-file: the token must have at least 16 characters")
		}
	}
	ln, err := net.Listen("tcp", o.adminAddr)
	if err != nil {
		if !o.setFlags["admin-addr"] {
			log.Warn().Err(err).Msg("admin server not started (the default address is busy; set --admin-addr)")
			return nil, nil
		}
		return nil, fmt.Errorf("admin server: %w", err)
	}
	if token == "" {
		if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
			log.Warn().Str("addr", ln.Addr().String()).Msg("the admin server is reachable from other hosts without a token; set --admin-token-file")
		}
	}
	srv := admin.New(p, sensorID, token)
	srv.SetSources(o.ifaces)
	hs := srv.HTTPServer()
	go hs.Serve(ln)
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	log.Info().Str("addr", ln.Addr().String()).Bool("token", token != "").Msg("admin server: /metrics /healthz /readyz /api/")
	return srv, nil
}
