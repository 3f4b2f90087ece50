package sensor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/exporter"
	"github.com/apitap/apitap/exporter/blocklist"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/sensor/decode"
)

// Config is the whole sensor configuration: the YAML file given with
// --config, then flags on top. Zero values take defaults (WithDefaults).
type Config struct {
	Sensor     SensorConfig      `yaml:"sensor"`
	Decode     DecodeConfig      `yaml:"decode"`
	Reassembly reassembly.Config `yaml:"reassembly"`
	Output     OutputConfig      `yaml:"output"`
	Capture    CaptureConfig     `yaml:"capture"`
	// Admin is apitap run's admin server (metrics, health, API, report).
	Admin AdminConfig `yaml:"admin"`
	// Log sets the log level.
	Log LogConfig `yaml:"log"`
	// Exporters configures the sinks, one section each (see package
	// exporter and each sink's README): kafka, file, syslog, webhook.
	Exporters exporter.Settings `yaml:"exporters"`
	// Blocklist is the mitigation policy (exporter/blocklist).
	Blocklist blocklist.Config `yaml:"blocklist"`
	// TLS is seeing inside TLS: key log decryption (tls.go, docs/tls.md).
	TLS TLSConfig `yaml:"tls"`
	// Analyzers configures the analyzers, one section each (see package
	// analyzer and each analyzer's README).
	Analyzers analyzer.Settings `yaml:"analyzers"`
	// Live is set by Run (never read from YAML): the pipeline reads live
	// sources, so per-worker bounds of the analyzers apply (analyzer.Env).
	Live bool `yaml:"-"`
}

// AdminConfig is the admin server of apitap run (docs/live-capture.md).
type AdminConfig struct {
	// Addr is host:port; "" turns the server off. Default 127.0.0.1:9090
	// (--admin-addr).
	Addr *string `yaml:"addr"`
	// TokenFile holds the bearer token every request but the probes must
	// carry (--admin-token-file).
	TokenFile string `yaml:"token_file"`
}

// LogConfig sets the log level: debug, info (default), warn, error
// (--log-level).
type LogConfig struct {
	Level string `yaml:"level"`
}

// SensorConfig names the sensor and sizes its workers.
type SensorConfig struct {
	// ID goes into every event's "sensor" field. Default: the host name.
	ID string `yaml:"id"`
	// Workers is the number of reassembly workers (flow shards).
	// Default: GOMAXPROCS.
	Workers int `yaml:"workers"`
	// QueueBatches bounds each worker's input queue, in batches of up to
	// 256 packets, when a file is read. Default 8: a deeper queue only
	// holds more frames out of the CPU caches (the reader outruns the
	// workers) and costs CPU time in page faults and cache misses.
	QueueBatches int `yaml:"queue_batches"`
	// TrustedProxies are the CIDRs (or addresses) of load balancers and
	// proxies whose X-Forwarded-For, Forwarded and X-Real-IP headers are
	// believed: behind them the client of a request is the right-most
	// address of the chain that is not a trusted proxy, for every analyzer
	// and the blocklist (the proxy stays in events as actor.peer).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Observations publishes an observation of every transaction to the
	// Kafka topic apitap.observations for `apitap correlate`
	// (--observations; needs the Kafka exporter).
	Observations bool `yaml:"observations"`
	// Correlation says where the cross-flow detectors of the behaviour
	// analyzer run: local (default: on this sensor), central (only in
	// `apitap correlate`: observations are published, the sensor's own
	// cross-flow detectors are off) or both.
	Correlation string `yaml:"correlation"`
}

// Publishes says whether the sensor publishes observations.
func (c SensorConfig) Publishes() bool {
	return c.Observations || c.Correlation == "central" || c.Correlation == "both"
}

// CaptureConfig selects, in the kernel (eBPF pre-filter of `apitap run`),
// the traffic that reaches the sensor. Empty lists select everything. It is
// re-applied on SIGHUP without reattaching anything.
type CaptureConfig struct {
	// Live capture (apitap run); changing these needs a restart.
	Interfaces []string `yaml:"interfaces"` // interfaces to capture (-i, --iface)
	Source     string   `yaml:"source"`     // afpacket (default) or pcap (--source)
	RingMB     int      `yaml:"ring_mb"`    // AF_PACKET ring per worker, MiB; default 64 (--ring-mb)
	Promisc    *bool    `yaml:"promisc"`    // promiscuous mode; default true (--promisc)
	EBPF       *bool    `yaml:"ebpf"`       // the eBPF pre-filter; default true (--ebpf)
	BPF        string   `yaml:"bpf"`        // classic BPF filter instead of it (--bpf)
	// The selection, re-applied on SIGHUP:
	Ports          []uint16 `yaml:"ports"`            // TCP server ports to keep
	Allow          []string `yaml:"allow"`            // CIDRs (or addresses) to keep
	Deny           []string `yaml:"deny"`             // CIDRs (or addresses) to drop
	VLANs          []uint16 `yaml:"vlans"`            // VLAN ids to keep
	Tunnels        *bool    `yaml:"tunnels"`          // keep VXLAN/GENEVE/GRE whatever ports say; default true
	SamplePerMille int      `yaml:"sample_per_mille"` // flows kept per 1000; 0: all
}

// Prefixes parses a list of CIDRs or addresses.
func Prefixes(key string, list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range list {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("%s: bad CIDR %q", key, f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p)
	}
	return out, nil
}

// DecodeConfig sets the tunnel ports and nesting bound of the decoder.
type DecodeConfig struct {
	VXLANPort  uint16 `yaml:"vxlan_port"`  // default 4789
	GENEVEPort uint16 `yaml:"geneve_port"` // default 6081
	MaxDepth   int    `yaml:"max_depth"`   // nested encapsulations, default 4
}

// OutputConfig selects and shapes the events written.
type OutputConfig struct {
	// Emit lists the event types written. Default: every type but
	// transaction (see EventTypes).
	Emit []string `yaml:"emit"`
	// File receives the JSON lines; "" or "-" is standard output.
	File string `yaml:"file"`
	// BodyBytes > 0 puts up to that many raw body bytes into transaction
	// events. Raw bodies may hold sensitive data: for debugging only.
	BodyBytes int `yaml:"body_bytes"`
	// StatsInterval is how often `apitap run` writes a stats event (wall
	// clock; 0: only the final one). `apitap read` writes only the final
	// one. Default 60s.
	StatsInterval time.Duration `yaml:"stats_interval"`
	// Quiet leaves out the summary on standard error (--quiet).
	Quiet bool `yaml:"quiet"`
	// Progress is the progress bar of file reads: auto (when standard
	// error is a terminal), always, never (--progress).
	Progress string `yaml:"progress"`
}

// EventTypes are the event types of the contract, in documentation order.
var EventTypes = []string{"transaction", "message", "endpoint", "detection", "blocklist", "actor", "stats"}

// DefaultEmit is every event type except transaction and message.
var DefaultEmit = []string{"endpoint", "detection", "blocklist", "actor", "stats"}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.Sensor.ID == "" {
		c.Sensor.ID, _ = os.Hostname()
		if c.Sensor.ID == "" {
			c.Sensor.ID = "apitap"
		}
	}
	if c.Sensor.Workers == 0 {
		c.Sensor.Workers = runtime.GOMAXPROCS(0)
	}
	if c.Sensor.QueueBatches == 0 {
		c.Sensor.QueueBatches = 8
	}
	if c.Decode.VXLANPort == 0 {
		c.Decode.VXLANPort = 4789
	}
	if c.Decode.GENEVEPort == 0 {
		c.Decode.GENEVEPort = 6081
	}
	if c.Decode.MaxDepth == 0 {
		c.Decode.MaxDepth = 4
	}
	if c.Output.StatsInterval == 0 {
		c.Output.StatsInterval = time.Minute
	}
	if c.Output.Emit == nil {
		c.Output.Emit = DefaultEmit
	}
	c.Reassembly = c.Reassembly.WithDefaults()
	c.Blocklist = c.Blocklist.WithDefaults()
	return c
}

// Validate reports the first bad setting, naming its YAML key.
func (c Config) Validate() error {
	switch {
	case c.Capture.Source != "" && c.Capture.Source != "afpacket" && c.Capture.Source != "pcap":
		return fmt.Errorf("capture.source: want afpacket or pcap, got %q", c.Capture.Source)
	case c.Capture.RingMB != 0 && (c.Capture.RingMB < 2 || c.Capture.RingMB > 1<<16):
		return fmt.Errorf("capture.ring_mb must be between 2 and 65536, got %d", c.Capture.RingMB)
	case c.Log.Level != "" && c.Log.Level != "debug" && c.Log.Level != "info" && c.Log.Level != "warn" && c.Log.Level != "error":
		return fmt.Errorf("log.level: want debug, info, warn or error, got %q", c.Log.Level)
	case c.Sensor.Workers < 0 || c.Sensor.Workers > 1024:
		return fmt.Errorf("sensor.workers must be between 1 and 1024, got %d", c.Sensor.Workers)
	case c.Sensor.Correlation != "" && c.Sensor.Correlation != "local" && c.Sensor.Correlation != "central" && c.Sensor.Correlation != "both":
		return fmt.Errorf("sensor.correlation: want local, central or both, got %q", c.Sensor.Correlation)
	case c.Sensor.QueueBatches < 0:
		return fmt.Errorf("sensor.queue_batches must be positive, got %d", c.Sensor.QueueBatches)
	case c.Decode.MaxDepth < 0 || c.Decode.MaxDepth > 16:
		return fmt.Errorf("decode.max_depth must be between 1 and 16, got %d", c.Decode.MaxDepth)
	case c.Capture.SamplePerMille < 0 || c.Capture.SamplePerMille > 1000:
		return fmt.Errorf("capture.sample_per_mille must be between 0 and 1000, got %d", c.Capture.SamplePerMille)
	case c.Output.StatsInterval < 0:
		return fmt.Errorf("output.stats_interval must be positive, got %s", c.Output.StatsInterval)
	case c.Output.BodyBytes < 0:
		return fmt.Errorf("output.body_bytes must be positive, got %d", c.Output.BodyBytes)
	}
	for _, t := range c.Output.Emit {
		if !slices.Contains(EventTypes, t) {
			return fmt.Errorf("output.emit: unknown event type %q (known: %s)", t, strings.Join(EventTypes, ", "))
		}
	}
	for _, v := range c.Capture.VLANs {
		if v > 4095 {
			return fmt.Errorf("capture.vlans: bad VLAN id %d", v)
		}
	}
	for _, p := range c.Capture.Ports {
		if p == 0 {
			return fmt.Errorf("capture.ports: port 0")
		}
	}
	if _, err := Prefixes("capture.allow", c.Capture.Allow); err != nil {
		return err
	}
	if _, err := Prefixes("capture.deny", c.Capture.Deny); err != nil {
		return err
	}
	if err := c.Reassembly.Validate(); err != nil {
		return err
	}
	if err := c.TLS.validate(); err != nil {
		return err
	}
	if _, err := exporter.Configure(c.Exporters); err != nil {
		return err
	}
	if err := c.Blocklist.WithDefaults().Validate(); err != nil {
		return err
	}
	_, err := analyzer.Configure(c.Analyzers)
	return err
}

// DecodeOptions converts the decode settings.
func (c Config) DecodeOptions() decode.Options {
	return decode.Options{MaxDepth: c.Decode.MaxDepth, VXLANPort: c.Decode.VXLANPort, GENEVEPort: c.Decode.GENEVEPort}
}

// ParseEmit splits a comma list of event types ("all" means every type).
func ParseEmit(s string) ([]string, error) {
	if s == "all" {
		return EventTypes, nil
	}
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !slices.Contains(EventTypes, t) {
			return nil, fmt.Errorf("--emit: unknown event type %q (known: %s, or all)", t, strings.Join(EventTypes, ", "))
		}
		out = append(out, t)
	}
	return out, nil
}

var yamlTypeRE = regexp.MustCompile(`field (\S+) not found in type \S+`)

// movedKafkaRE finds the top-level kafka section of older files.
var movedKafkaRE = regexp.MustCompile(`unknown key kafka\b`)

// LoadConfig reads a YAML configuration strictly: unknown keys, wrong types
// and trailing documents are errors that name the file and line.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
		msg = yamlTypeRE.ReplaceAllString(msg, "unknown key $1")
		msg = movedKafkaRE.ReplaceAllString(msg, "unknown key kafka (the Kafka sink's section is now exporters.kafka)")
		msg = strings.ReplaceAll(msg, "\n  ", "; ")
		return c, fmt.Errorf("%s: %s", path, strings.TrimSpace(msg))
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("%s: only one YAML document is allowed", path)
	}
	return c, nil
}
