package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/behavior"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/exporter"
	"github.com/apitap/apitap/exporter/blocklist"
	"github.com/apitap/apitap/exporter/kafka"
	"github.com/apitap/apitap/sensor"
	"github.com/apitap/apitap/sensor/correlate"
)

func correlateHelp(w io.Writer) {
	fmt.Fprint(w, `usage: apitap correlate --kafka-brokers HOST:PORT [flags]

Runs the behaviour analyzer's cross-flow detectors (credential stuffing,
brute force, account takeover, user enumeration, bola, rate abuse, bots,
scraping, low-and-slow, exfiltration, dos) over the observations that
sensors publish (apitap read/run --observations, or sensor.correlation:
central or both) to the Kafka topic apitap.observations, so that abuse
spread over many sensors is seen as one. It is a goka processor group
(apitap-correlate): start several, they share the topic's partitions; when
one stops, its partitions move to the others, which restore each actor's
recent observations from the group's changelog topic and replay them.

Detections (marked "central":true) and blocklist entries go to their
Kafka topics (apitap.detections, apitap.blocklist) and, as JSON lines, to
standard output or --out. Delivery is at-least-once: after a restart or a
move of partitions a detection may be written again, with the same id
(ids are deterministic); de-duplicate by id.

It also runs the catalog merger (apitap-catalog): every sensor's endpoint
events (apitap.inventory) merged per endpoint, read by
apitap catalog --from-kafka. Runs until SIGINT or SIGTERM, flushing what it
holds on the way out. The behaviour analyzer's settings, the blocklist
policy and Kafka's TLS and SASL come from --config (analyzers.behavior,
blocklist, exporters.kafka).

Examples:
  apitap correlate --kafka-brokers kafka:9092
  apitap correlate --kafka-brokers kafka:9092 --config /etc/apitap/correlate.yaml --out /var/log/apitap/central.jsonl

Flags:
`)
	fs, _ := correlateFlags(io.Discard)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

type correlateOpts struct {
	brokers, config, out, group, sensorID, logLevel string
	partitions                                      int
	idle                                            time.Duration
	catalog, quiet                                  bool
}

func correlateFlags(stderr io.Writer) (*flag.FlagSet, *correlateOpts) {
	o := &correlateOpts{}
	fs := flag.NewFlagSet("correlate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.brokers, "kafka-brokers", "", "comma list of `host:port` (required)")
	fs.StringVar(&o.config, "config", "", "YAML configuration `file`: analyzers.behavior, blocklist, exporters.kafka (topics, TLS, SASL)")
	fs.StringVar(&o.out, "out", "", "write detections and blocklist entries to `file` instead of standard output (-o is the same)")
	fs.StringVar(&o.out, "o", "", "short for --out")
	fs.StringVar(&o.group, "group", "apitap-correlate", "goka `group`: members of one group share the partitions; its table is GROUP-table")
	fs.IntVar(&o.partitions, "partitions", 12, "partitions of apitap.observations and apitap.inventory when the correlator creates them (existing topics keep theirs)")
	fs.DurationVar(&o.idle, "idle", time.Second, "wall `time` after which a silent sensor no longer holds a partition's watermark back")
	fs.BoolVar(&o.catalog, "catalog", true, "also run the catalog merger (apitap catalog --from-kafka reads it)")
	fs.StringVar(&o.sensorID, "sensor-id", "apitap-correlate", "`id` written into its events")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.BoolVar(&o.quiet, "quiet", false, "do not print the summary")
	return fs, o
}

func runCorrelate(args []string, env *IO) int {
	fs, o := correlateFlags(env.Stderr)
	return runService("correlate", fs, args, correlateHelp, env, func(ctx context.Context) error { return doCorrelate(ctx, o, env) })
}

func doCorrelate(ctx context.Context, o *correlateOpts, env *IO) error {
	log, err := newLogger(env.Stderr, o.logLevel, env.StderrTTY)
	if err != nil {
		return err
	}
	brokers := splitList(o.brokers)
	if len(brokers) == 0 {
		return usagef("--kafka-brokers is required")
	}
	var cfg sensor.Config
	if o.config != "" {
		if cfg, err = sensor.LoadConfig(o.config); err != nil {
			return usageError{err.Error()}
		}
	}
	cfg.Sensor.ID = o.sensorID
	cfg.Exporters.Override(kafka.Name, true, func(c any) { c.(*kafka.Config).Brokers = brokers })
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return usagef("configuration: %v", err)
	}
	en, err := analyzer.Configure(cfg.Analyzers)
	if err != nil {
		return usageError{err.Error()}
	}
	var bcfg *behavior.Config
	for _, e := range en {
		if e.Desc.Name == behavior.Name {
			bcfg = e.Config.(*behavior.Config)
		}
	}
	if bcfg == nil {
		return usagef("the behaviour analyzer is disabled in %s: nothing to correlate", o.config)
	}
	// the sinks: Kafka only (detections and blocklist entries to their topics)
	ens, err := exporter.Configure(cfg.Exporters)
	if err != nil {
		return usageError{err.Error()}
	}
	var kens []exporter.Enabled
	for _, e := range ens {
		if e.Desc.Name == kafka.Name {
			kens = append(kens, e)
		}
	}
	sinks, err := exporter.Build(kens, exporter.Env{Log: log, Sensor: cfg.Sensor.ID, Version: Version})
	if err != nil {
		return err
	}
	fan := exporter.New(exporter.Options{Block: true, Log: log}, sinks...)
	var w io.Writer = env.Stdout
	if o.out != "" && o.out != "-" {
		f, err := os.OpenFile(o.out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fan.Close()
			return fmt.Errorf("open %s: %w", o.out, err)
		}
		defer f.Close()
		w = f
	}
	out := &centralOut{w: bufio.NewWriter(w), fan: fan, enc: event.Encoder{Sensor: cfg.Sensor.ID}}
	out.block = blocklist.New(cfg.Blocklist, cfg.Sensor.ID, out.blocklist)
	c, err := correlate.New(correlate.Config{
		Brokers: brokers, Group: o.group, Partitions: o.partitions, Idle: o.idle,
		NewDetectors: func() (correlate.Detectors, error) { return behavior.NewCentral(bcfg, cfg.Sensor.ID) },
		Out:          out.detection,
		OnAssign: func(ps []int32) {
			log.Info().Ints32("partitions", ps).Msg("partitions assigned")
		},
	})
	if err != nil {
		fan.Close()
		return err
	}
	var wg sync.WaitGroup
	var catErr error
	if o.catalog {
		cp, err := correlate.NewCatalog(correlate.CatalogConfig{Brokers: brokers, Partitions: o.partitions})
		if err != nil {
			fan.Close()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cp.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				catErr = err
			}
		}()
	}
	log.Info().Strs("brokers", brokers).Str("group", o.group).Msg("correlating")
	err = c.Run(ctx)
	wg.Wait()
	out.flush()
	if cerr := fan.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = catErr
	}
	if !o.quiet {
		st := c.Stats()
		fmt.Fprintf(env.Stderr, "apitap correlate: %d observations received, %d redelivered (dropped), %d malformed, %d processed (%d late), %d replayed from the input topic, %d detections, %d table writes\n",
			st.Received, st.Duplicates, st.Malformed, st.Processed, st.Late, st.Replayed, st.Detections, st.TableWrites)
	}
	return err
}

// centralOut writes the correlator's detections and blocklist entries.
type centralOut struct {
	mu    sync.Mutex
	w     *bufio.Writer
	fan   *exporter.FanOut
	enc   event.Encoder
	block *blocklist.Manager
	buf   []byte
}

// detection is correlate.Config.Out (called once per detection id).
func (o *centralOut) detection(d *event.Detection) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = o.enc.AppendDetection(o.buf[:0], d)
	o.w.Write(o.buf)
	o.fan.Add(exporter.Record{Type: "detection", Key: d.Actor.Key(), Value: append([]byte(nil), o.buf[:len(o.buf)-1]...)})
	o.block.Tick(d.LastSeen)
	o.block.Detection(d)
	o.w.Flush()
}

// blocklist is the blocklist policy's output (o.mu held).
func (o *centralOut) blocklist(key string, line []byte, tombstone bool) {
	if tombstone {
		o.fan.Add(exporter.Record{Type: "blocklist", Key: key})
		return
	}
	o.w.Write(line)
	o.w.WriteByte('\n')
	o.fan.Add(exporter.Record{Type: "blocklist", Key: key, Value: append([]byte(nil), line...)})
}

func (o *centralOut) flush() {
	o.mu.Lock()
	o.w.Flush()
	o.mu.Unlock()
}
