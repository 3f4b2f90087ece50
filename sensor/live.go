package sensor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	xbpf "golang.org/x/net/bpf"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/bpf"
	"github.com/apitap/apitap/exporter/blocklist"
	"github.com/apitap/apitap/sensor/capture"
)

// Options are what Run needs: the sensor configuration and the live
// capture settings resolved from flags and the configuration file
// (apitap run parses them; Run owns everything from there on).
type Options struct {
	Config Config
	Ifaces []string // "any" captures every interface
	Source string   // "afpacket" (default) or "pcap"
	RingMB int      // AF_PACKET ring (or libpcap buffer) per worker, MiB
	// Promisc puts the interfaces in promiscuous mode.
	Promisc bool
	// EBPF loads the eBPF pre-filter with Filter's selection (falling back
	// to a classic filter, or to none, where the kernel refuses it); BPF is
	// a classic filter expression used instead.
	EBPF   bool
	BPF    string
	Filter bpf.Config
	Out    io.Writer // events
	Log    zerolog.Logger
	// Export, when set, starts the sinks behind the pipeline; the
	// function it returns drains them at the end.
	Export func(p *Pipeline) (finish func() error, err error)
	// Admin, when set, starts the admin server for the pipeline; ready is
	// called once capture runs.
	Admin func(ctx context.Context, p *Pipeline) (ready func(), err error)
	// Reload, when set, is called on SIGHUP after the specs and rule packs
	// were reloaded, with the loaded pre-filter (nil without one), to
	// re-apply the configuration file's capture selection.
	Reload func(filter *bpf.Filter)
}

// Selects says whether f keeps less than everything (the eBPF pre-filter
// or a classic filter is needed).
func Selects(f bpf.Config) bool {
	return f.Ports != nil || f.Allow != nil || f.Deny != nil || f.VLANs != nil || f.SamplePerMille > 0
}

// Result is what a live run did.
type Result struct {
	Summary *Summary
	// Kernel is what the capture sockets' kernel counters say.
	KernelPackets, KernelDrops, KernelFreezes uint64
	// FilterRan says the eBPF pre-filter ran; Filter holds its counters
	// (indexed by bpf.Counter*) and Ports its per-port counters at the end.
	FilterRan bool
	Filter    [bpf.CounterDroppedSample + 1]uint64
	Ports     map[uint16]bpf.PortStat
}

// ConfigError is an error in what Run was asked to do (exit code 2),
// unlike a failure while doing it.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Run captures live traffic until ctx ends: it sets up the pre-filter and
// the capture sockets (one AF_PACKET fanout group of Workers sockets per
// interface), drops every capability, builds the pipeline and its sinks,
// starts the admin server, sheds load in the kernel when the ring drops,
// reloads specs, rule packs and the capture selection on SIGHUP, and on the
// way out flushes open connections, drains the sinks and returns the
// summary.
func Run(ctx context.Context, o Options) (*Result, error) {
	cfg, log := o.Config, o.Log
	res := &Result{}
	var filter *bpf.Filter
	var classic []xbpf.RawInstruction
	var err error
	switch {
	case o.Source == "pcap":
		if Selects(o.Filter) {
			return nil, &ConfigError{errors.New("--ports/--allow/--deny/--vlans/--sample use the eBPF pre-filter of the afpacket source; with --source pcap use --bpf")}
		}
	case o.BPF != "":
		if classic, err = capture.CompileBPF(o.BPF, 262144); err != nil {
			return nil, &ConfigError{err}
		}
	case o.EBPF:
		filter, err = bpf.Load()
		if err == nil {
			err = filter.Apply(o.Filter)
		}
		if err != nil {
			if filter != nil {
				filter.Close()
				filter = nil
			}
			if !Selects(o.Filter) {
				log.Warn().Err(err).Msg("eBPF pre-filter unavailable; capturing everything on the interface")
				break
			}
			expr := ClassicExpr(o.Filter)
			var cerr error
			if classic, cerr = capture.CompileBPF(expr, 262144); cerr != nil || expr == "" {
				return nil, fmt.Errorf("the eBPF pre-filter is needed for this selection and the classic fallback is not possible (%v): %w", cerr, err)
			}
			log.Warn().Err(err).Str("classic_filter", expr).Msg("eBPF pre-filter unavailable; falling back to a classic BPF filter (no sampling, no counters)")
		}
	case Selects(o.Filter):
		return nil, &ConfigError{errors.New("--ports/--allow/--deny/--vlans/--sample need the eBPF pre-filter (--ebpf=true)")}
	}
	progFD := 0
	if filter != nil {
		defer filter.Close()
		progFD = filter.FD()
	}
	var srcs []capture.Source
	if o.Source == "pcap" {
		if cfg.Sensor.Workers != 1 {
			log.Info().Msg("libpcap has no fanout: one worker reads the interface")
			cfg.Sensor.Workers = 1
		}
		if len(o.Ifaces) > 1 {
			return nil, &ConfigError{errors.New("--source pcap reads one interface")}
		}
		ps, err := capture.OpenPcap(capture.PcapConfig{Iface: o.Ifaces[0], BufferBytes: o.RingMB << 20, Promisc: o.Promisc, Filter: o.BPF})
		if err != nil {
			return nil, err
		}
		srcs = []capture.Source{ps}
	} else {
		// one fanout group of cfg.Sensor.Workers sockets per interface, a
		// worker per socket
		for _, iface := range o.Ifaces {
			s, err := openFanout(o, iface, cfg.WithDefaults().Sensor.Workers, progFD, classic)
			if err != nil {
				for _, x := range srcs {
					x.Close()
				}
				return nil, err
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
	cfg.Live = true
	p, err := NewPipeline(cfg, o.Out, log)
	if err != nil {
		return nil, &ConfigError{err}
	}
	// the sensor's own addresses and its gateways are never blocked
	p.Block.NeverBlock(blocklist.ReasonSensor, blocklist.LocalPrefixes()...)
	p.Block.NeverBlock(blocklist.ReasonGateway, blocklist.HostGateways()...)
	finish := func() error { return nil }
	if o.Export != nil {
		if finish, err = o.Export(p); err != nil {
			return nil, err
		}
	}
	if err := DropCapabilities(); err != nil {
		log.Warn().Err(err).Msg("could not drop capabilities (a binary built with cgo can not); running with those it started with")
	} else {
		log.Debug().Msg("dropped every capability: sockets and the eBPF program are set up")
	}
	var ready func()
	if o.Admin != nil {
		if ready, err = o.Admin(ctx, p); err != nil {
			return nil, err
		}
	}
	log.Info().Strs("iface", o.Ifaces).Int("workers", len(srcs)).Int("ring_mb", o.RingMB).Bool("promisc", o.Promisc).Msg("capturing; stop with Ctrl-C or SIGTERM")
	if ready != nil {
		ready()
	}
	kernel := func() (pk, dr, fr uint64) {
		for _, s := range srcs {
			if k, ok := s.(interface {
				KernelStats() (uint64, uint64, uint64, error)
			}); ok {
				if a, b, c, err := k.KernelStats(); err == nil {
					pk, dr, fr = pk+a, dr+b, fr+c
				}
			}
		}
		return
	}
	kernelDrops := func() uint64 { _, d, _ := kernel(); return d }
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
		go shedLoad(ctx, filter, o.Filter.SamplePerMille, kernelDrops, log)
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
				p.reloadShared(log)
				if o.Reload != nil {
					o.Reload(filter)
				}
			}
		}
	}()
	runErr := p.RunLive(ctx, srcs)
	res.KernelPackets, res.KernelDrops, res.KernelFreezes = kernel()
	res.Summary, err = p.Close()
	if filter != nil {
		res.FilterRan = true
		if c, err := filter.Counters(); err == nil {
			copy(res.Filter[:], c[:])
		}
		res.Ports, _ = filter.PortStats()
	}
	if xerr := finish(); err == nil {
		err = xerr
	}
	if runErr != nil {
		return res, runErr
	}
	return res, err
}

// reloadShared reloads what the analyzers' shared state can reload on
// SIGHUP (specs, rule packs), in chain order.
func (p *Pipeline) reloadShared(log zerolog.Logger) {
	for _, name := range p.Analyzers {
		if st, ok := p.shared[name].(interface{ Reload() error }); ok {
			if err := st.Reload(); err != nil {
				log.Error().Err(err).Str("analyzer", name).Msg("SIGHUP: not reloaded")
			}
		}
	}
}

// shedLoad watches the kernel's ring drops every second and, while there
// are any, lowers the pre-filter's per-flow sampling rate so that whole
// flows are shed in the kernel instead of random packets (see Shedder).
func shedLoad(ctx context.Context, filter *bpf.Filter, configured int, drops func() uint64, log zerolog.Logger) {
	sh := &Shedder{Set: filter.SetSample, Max: configured}
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

// fanoutSeq tells the fanout groups of several interfaces apart.
var fanoutSeq int

// openFanout opens one AF_PACKET socket per worker in one fanout group.
func openFanout(o Options, iface string, workers, progFD int, classic []xbpf.RawInstruction) ([]capture.Source, error) {
	fanoutSeq++
	// odd and distinct per interface: (x+seq)|1 made two consecutive
	// sequence numbers collide whenever x+1 was even, and the second
	// interface's sockets then failed to join (EINVAL)
	fanout := uint16((os.Getpid()*7+2*fanoutSeq)&0x7fff) | 1
	var srcs []capture.Source
	for i := 0; i < workers; i++ {
		s, err := capture.OpenAFPacket(capture.AFPacketConfig{Iface: iface, RingBytes: o.RingMB << 20, FanoutID: fanout, Promisc: o.Promisc, EBPFProgFD: progFD, ClassicBPF: classic})
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

// ClassicExpr writes the selection as a tcpdump expression, for kernels
// without eBPF ("" when it has no classic equivalent: VLAN lists and
// sampling).
func ClassicExpr(f bpf.Config) string {
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
