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
	"strings"
	"syscall"

	"github.com/apitap/apitap/sensor"
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
promiscuous mode).

Examples:
  apitap run -i eth1                                  summary on Ctrl-C
  apitap run -i eth1 --emit transaction,stats -o /var/log/apitap.jsonl
  apitap run -i ens5 --workers 4 --ring-mb 256        a busy AWS mirror target

Flags:
`)
	fs, _ := runFlags(io.Discard)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

type runOpts struct {
	readOpts
	iface   string
	ringMB  int
	promisc bool
}

func runFlags(stderr io.Writer) (*flag.FlagSet, *runOpts) {
	o := &runOpts{}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.iface, "i", "", "network `interface` to capture on")
	fs.IntVar(&o.ringMB, "ring-mb", 64, "AF_PACKET ring size per worker, in `MiB`")
	fs.BoolVar(&o.promisc, "promisc", true, "put the interface in promiscuous mode")
	fs.StringVar(&o.config, "config", "", "YAML configuration `file` (strict: unknown keys are errors); flags override it")
	fs.StringVar(&o.out, "out", "", "write events to `file` instead of standard output (-o is the same)")
	fs.StringVar(&o.out, "o", "", "short for --out")
	fs.StringVar(&o.emit, "emit", "", "comma list of event `types` to write (default: all but transaction)")
	fs.IntVar(&o.workers, "workers", 0, "capture sockets and reassembly workers; 0 means one per CPU (GOMAXPROCS)")
	fs.StringVar(&o.sensorID, "sensor-id", "", "`id` written into every event (default: the host name)")
	fs.IntVar(&o.maxBody, "max-body-bytes", 0, "body `bytes` kept per HTTP message after decoding (default 65536)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.BoolVar(&o.quiet, "quiet", false, "do not print the summary at exit")
	o.progress = "never"
	return fs, o
}

func runRun(args []string, env *IO) int {
	fs, o := runFlags(env.Stderr)
	fs.Usage = func() { fmt.Fprintln(env.Stderr, "usage: apitap run [flags] -i IFACE   (apitap help run for details)") }
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			runHelp(env.Stdout)
			return ExitOK
		}
		return ExitUsage
	}
	o.setFlags = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.setFlags[f.Name] = true })
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = doRun(ctx, rest, o, env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "apitap run: %v\n", err)
	}
	return exitCode(err)
}

func doRun(ctx context.Context, rest []string, o *runOpts, env *IO) error {
	if len(rest) > 0 {
		return usagef("unexpected arguments %q (capture files are read with apitap read)", strings.Join(rest, " "))
	}
	if o.iface == "" {
		return usagef("no interface given: use -i IFACE")
	}
	if o.ringMB < 2 || o.ringMB > 1<<16 {
		return usagef("--ring-mb must be between 2 and 65536, got %d", o.ringMB)
	}
	if _, err := net.InterfaceByName(o.iface); err != nil {
		return usagef("-i %s: %v", o.iface, err)
	}
	log, err := newLogger(env.Stderr, o.logLevel, env.StderrTTY)
	if err != nil {
		return err
	}
	cfg, err := o.buildConfig()
	if err != nil {
		return err
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
	srcs, err := openLive(o, cfg.Sensor.Workers)
	if err != nil {
		return err
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
	log.Info().Str("iface", o.iface).Int("workers", len(srcs)).Int("ring_mb", o.ringMB).Bool("promisc", o.promisc).Msg("capturing; stop with Ctrl-C or SIGTERM")
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
	}
	if runErr != nil {
		return runErr
	}
	return err
}

// openLive opens one AF_PACKET socket per worker in one fanout group.
func openLive(o *runOpts, workers int) ([]capture.Source, error) {
	fanout := uint16(os.Getpid()&0x7fff) | 1
	var srcs []capture.Source
	for i := 0; i < workers; i++ {
		s, err := capture.OpenAFPacket(capture.AFPacketConfig{Iface: o.iface, RingBytes: o.ringMB << 20, FanoutID: fanout, Promisc: o.promisc})
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
