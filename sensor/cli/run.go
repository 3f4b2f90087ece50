package cli

import (
	"context"
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

	xbpf "golang.org/x/net/bpf"

	"github.com/apitap/apitap/analyzer/attack"
	"github.com/apitap/apitap/analyzer/conformance"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/bpf"
	"github.com/apitap/apitap/sensor"
	"github.com/apitap/apitap/sensor/admin"
	"github.com/apitap/apitap/sensor/capture"
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
	fs.DurationVar(&o.statsInterval, "stats-interval", 0, "write a stats event this often (default 60s; 0 keeps the configuration's)")
	fs.StringVar(&o.adminAddr, "admin-addr", "127.0.0.1:9090", "serve /metrics (Prometheus), /healthz, /readyz and the read-only API (/api/catalog, /api/catalog/openapi, /api/blocklist, /api/actors, /api/detections, /api/stats) and the live /report on `host:port`; \"\" turns it off")
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
	if o.bpfExpr != "" && o.selects(fcfg) {
		return usagef("--bpf replaces the eBPF pre-filter: give either --bpf or --ports/--allow/--deny/--vlans/--sample")
	}
	var filter *bpf.Filter
	var classic []xbpf.RawInstruction
	switch {
	case o.source == "pcap":
		if o.selects(fcfg) {
			return usagef("--ports/--allow/--deny/--vlans/--sample use the eBPF pre-filter of the afpacket source; with --source pcap use --bpf")
		}
	case o.bpfExpr != "":
		if classic, err = capture.CompileBPF(o.bpfExpr, 262144); err != nil {
			return usageError{err.Error()}
		}
	case o.ebpf:
		filter, err = bpf.Load()
		if err == nil {
			err = filter.Apply(fcfg)
		}
		if err != nil {
			if filter != nil {
				filter.Close()
				filter = nil
			}
			if !o.selects(fcfg) {
				log.Warn().Err(err).Msg("eBPF pre-filter unavailable; capturing everything on the interface")
				break
			}
			expr := classicExpr(fcfg)
			var cerr error
			if classic, cerr = capture.CompileBPF(expr, 262144); cerr != nil || expr == "" {
				return fmt.Errorf("the eBPF pre-filter is needed for this selection and the classic fallback is not possible (%v): %w", cerr, err)
			}
			log.Warn().Err(err).Str("classic_filter", expr).Msg("eBPF pre-filter unavailable; falling back to a classic BPF filter (no sampling, no counters)")
		} else {
			defer filter.Close()
		}
	case o.selects(fcfg):
		return usagef("--ports/--allow/--deny/--vlans/--sample need the eBPF pre-filter (--ebpf=true)")
	}
	progFD := 0
	if filter != nil {
		progFD = filter.FD()
	}
	var srcs []capture.Source
	if o.source == "pcap" {
		if cfg.Sensor.Workers != 1 {
			log.Info().Msg("libpcap has no fanout: one worker reads the interface")
			cfg.Sensor.Workers = 1
		}
		if len(o.ifaces) > 1 {
			return usagef("--source pcap reads one interface")
		}
		ps, err := capture.OpenPcap(capture.PcapConfig{Iface: o.ifaces[0], BufferBytes: o.ringMB << 20, Promisc: o.promisc, Filter: o.bpfExpr})
		if err != nil {
			return err
		}
		srcs = []capture.Source{ps}
	} else {
		// one fanout group of cfg.Sensor.Workers sockets per interface, a
		// worker per socket
		for _, iface := range o.ifaces {
			s, err := openLive(o, iface, cfg.Sensor.Workers, progFD, classic)
			if err != nil {
				for _, x := range srcs {
					x.Close()
				}
				return err
			}
			srcs = append(srcs, s...)
		}
		cfg.Sensor.Workers = len(srcs)
	}
	defer func() {
		for _, s := range srcs {
			s.Close()
		}
	}()
	p, err := sensor.NewPipeline(cfg, out, log)
	if err != nil {
		return usageError{err.Error()}
	}
	guardBlocklist(p)
	fan, err := startExport(cfg, p, false, log)
	if err != nil {
		return err
	}
	if err := dropCapabilities(); err != nil {
		log.Warn().Err(err).Msg("could not drop capabilities (a binary built with cgo can not); running with those it started with")
	} else {
		log.Debug().Msg("dropped every capability: sockets and the eBPF program are set up")
	}
	adm, err := o.startAdmin(ctx, p, cfg.Sensor.ID, log)
	if err != nil {
		return err
	}
	log.Info().Strs("iface", o.ifaces).Int("workers", len(srcs)).Int("ring_mb", o.ringMB).Bool("promisc", o.promisc).Msg("capturing; stop with Ctrl-C or SIGTERM")
	if adm != nil {
		adm.SetExport(fan)
		adm.SetReady(true)
	}
	kernelDrops := func() (total uint64) {
		for _, s := range srcs {
			if k, ok := s.(interface {
				KernelStats() (uint64, uint64, uint64, error)
			}); ok {
				if _, d, _, err := k.KernelStats(); err == nil {
					total += d
				}
			}
		}
		return total
	}
	p.ExtraDrops = func() []event.Count {
		c := []event.Count{{Name: "kernel", N: kernelDrops()}}
		if filter != nil {
			if n, err := filter.Counters(); err == nil {
				c = append(c, event.Count{Name: "sampling", N: n[bpf.CounterDroppedSample]})
			}
		}
		return c
	}
	if filter != nil {
		go shedLoad(ctx, filter, fcfg.SamplePerMille, kernelDrops, log)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if st, ok := p.Shared(conformance.Name).(*conformance.State); ok {
					if err := st.Reload(); err != nil {
						log.Error().Err(err).Msg("SIGHUP: specs not reloaded")
					}
				}
				if st, ok := p.Shared(attack.Name).(*attack.State); ok {
					if err := st.Reload(); err != nil {
						log.Error().Err(err).Msg("SIGHUP: attack rules not reloaded")
					}
				}
				o.reload(cfg, filter, log)
			}
		}
	}()
	runErr := p.RunLive(ctx, srcs)
	var kp, kd, kf uint64
	for _, s := range srcs {
		if k, ok := s.(interface {
			KernelStats() (uint64, uint64, uint64, error)
		}); ok {
			if a, b, c, err := k.KernelStats(); err == nil {
				kp, kd, kf = kp+a, kd+b, kf+c
			}
		}
	}
	sum, err := p.Close()
	if !o.quiet {
		printSummary(env.Stderr, sum, cfg)
		fmt.Fprintf(env.Stderr, "  kernel         %s packets received, %s dropped, %s ring freezes\n", humanCount(kp), humanCount(kd), humanCount(kf))
		if filter != nil {
			if c, err := filter.Counters(); err == nil {
				fmt.Fprintf(env.Stderr, "  eBPF filter    %s seen, %s kept, dropped: %s port, %s allow, %s deny, %s vlan, %s sampling\n",
					humanCount(c[bpf.CounterSeen]), humanCount(c[bpf.CounterKept]), humanCount(c[bpf.CounterDroppedPort]), humanCount(c[bpf.CounterDroppedAllow]),
					humanCount(c[bpf.CounterDroppedDeny]), humanCount(c[bpf.CounterDroppedVLAN]), humanCount(c[bpf.CounterDroppedSample]))
			}
			if ps, err := filter.PortStats(); err == nil && len(ps) > 0 {
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
				for _, x := range ports[:min(5, len(ports))] {
					parts = append(parts, x.Name)
				}
				fmt.Fprintf(env.Stderr, "  kept by port   %s (packets/bytes)\n", strings.Join(parts, ", "))
			}
		}
	}
	if xerr := finishExport(fan, env.Stderr, o.quiet); err == nil {
		err = xerr
	}
	if runErr != nil {
		return runErr
	}
	return err
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

func (c *runOpts) selects(f bpf.Config) bool {
	return f.Ports != nil || f.Allow != nil || f.Deny != nil || f.VLANs != nil || f.SamplePerMille > 0
}

// shedLoad watches the kernel's ring drops every second and, while there
// are any, lowers the pre-filter's per-flow sampling rate so that whole
// flows are shed in the kernel instead of random packets (see
// sensor.Shedder).
func shedLoad(ctx context.Context, filter *bpf.Filter, configured int, drops func() uint64, log zerolog.Logger) {
	sh := &sensor.Shedder{Set: filter.SetSample, Max: configured}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := drops()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := drops()
		changed, err := sh.Observe(now - last)
		last = now
		switch {
		case err != nil:
			log.Error().Err(err).Msg("overload: could not change the sampling rate")
		case changed:
			log.Warn().Int("flows_kept_per_mille", sh.Rate()).Msg("overload: kernel ring drops; shedding whole flows in the pre-filter")
		}
	}
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
	} else if o.selects(fcfg) {
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

// fanoutSeq tells the fanout groups of several interfaces apart.
var fanoutSeq int

// classicExpr writes the selection as a tcpdump expression, for kernels
// without eBPF (sampling and VLAN lists have no classic equivalent here).
func classicExpr(f bpf.Config) string {
	var and []string
	var ports []string
	for _, p := range f.Ports {
		ports = append(ports, fmt.Sprintf("tcp port %d", p))
	}
	if len(ports) > 0 {
		sel := "(" + strings.Join(ports, " or ") + ")"
		if f.Tunnels {
			sel = "(" + sel + " or udp port 4789 or udp port 6081 or proto gre)"
		}
		and = append(and, sel)
	}
	var nets []string
	for _, p := range f.Allow {
		nets = append(nets, "net "+p.String())
	}
	if len(nets) > 0 {
		and = append(and, "("+strings.Join(nets, " or ")+")")
	}
	for _, p := range f.Deny {
		and = append(and, "not net "+p.String())
	}
	if len(f.VLANs) > 0 || (f.SamplePerMille > 0 && f.SamplePerMille < 1000) {
		return "" // not expressible: the caller refuses to start
	}
	return strings.Join(and, " and ")
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

// openLive opens one AF_PACKET socket per worker in one fanout group.
func openLive(o *runOpts, iface string, workers, progFD int, classic []xbpf.RawInstruction) ([]capture.Source, error) {
	fanoutSeq++
	// odd and distinct per interface: (x+seq)|1 made two consecutive
	// sequence numbers collide whenever x+1 was even, and the second
	// interface's sockets then failed to join (EINVAL)
	fanout := uint16((os.Getpid()*7+2*fanoutSeq)&0x7fff) | 1
	var srcs []capture.Source
	for i := 0; i < workers; i++ {
		s, err := capture.OpenAFPacket(capture.AFPacketConfig{Iface: iface, RingBytes: o.ringMB << 20, FanoutID: fanout, Promisc: o.promisc, EBPFProgFD: progFD, ClassicBPF: classic})
		if err != nil {
			for _, s := range srcs {
				s.Close()
			}
			return nil, err
		}
		srcs = append(srcs, s)
	}
	return srcs, nil
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
