package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/exporter"
	"github.com/apitap/apitap/exporter/ocsf"
	"github.com/apitap/apitap/exporter/spool"
)

// Config is the `exporters.kafka` section of the configuration.
type Config struct {
	Brokers []string `yaml:"brokers"` // host:port list (--kafka-brokers)
	// Topics maps event types to topic names; missing types take
	// DefaultTopics, and an empty name turns a type off for Kafka.
	Topics       map[string]string `yaml:"topics"`
	Compression  string            `yaml:"compression"`   // zstd (default), lz4, snappy, gzip, none
	BatchTimeout time.Duration     `yaml:"batch_timeout"` // default 5ms
	MaxAttempts  int               `yaml:"max_attempts"`  // per batch, with backoff; default 10
	TLS          TLSConfig         `yaml:"tls"`
	SASL         SASLConfig        `yaml:"sasl"`
	// Spool keeps events on disk while Kafka is unreachable (see package
	// spool); empty Dir: no spool, undeliverable events are counted failed.
	Spool SpoolConfig `yaml:"spool"`
}

// TLSConfig is the `kafka.tls` section: TLS, and mTLS with a client
// certificate.
type TLSConfig struct {
	Enabled    bool   `yaml:"enabled"`
	CAFile     string `yaml:"ca_file"`     // PEM roots; default: the system's
	CertFile   string `yaml:"cert_file"`   // client certificate (mTLS)
	KeyFile    string `yaml:"key_file"`    // its key
	ServerName string `yaml:"server_name"` // default: the broker's host
}

// SASLConfig is the `kafka.sasl` section.
type SASLConfig struct {
	Mechanism    string `yaml:"mechanism"` // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; "": none
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`      // prefer password_file
	PasswordFile string `yaml:"password_file"` // first line is the password
}

// SpoolConfig is the `exporters.kafka.spool` section (--spool-dir).
type SpoolConfig = spool.Config

// DefaultTopics are the topics of CONTRACT.md (plus apitap.stats).
var DefaultTopics = map[string]string{
	"detection":   "apitap.detections",
	"blocklist":   "apitap.blocklist",
	"endpoint":    "apitap.inventory",
	"actor":       "apitap.actors",
	"transaction": "apitap.transactions",
	"message":     "apitap.messages",
	"stats":       "apitap.stats",
	// binary analyzer/observation records for apitap correlate (sent only
	// when the sensor runs with --observations)
	"observation": "apitap.observations",
}

// Validate checks the section.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("brokers: none given (a host:port list, or --kafka-brokers)")
	}
	if err := c.Spool.Validate(); err != nil {
		return err
	}
	switch c.Compression {
	case "", "zstd", "lz4", "snappy", "gzip", "none":
	default:
		return fmt.Errorf("compression: want zstd, lz4, snappy, gzip or none, got %q", c.Compression)
	}
	for t := range c.Topics {
		if _, ok := DefaultTopics[t]; !ok {
			return fmt.Errorf("topics: unknown event type %q", t)
		}
	}
	switch strings.ToUpper(c.SASL.Mechanism) {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return fmt.Errorf("sasl.mechanism: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got %q", c.SASL.Mechanism)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return fmt.Errorf("tls: cert_file and key_file go together")
	}
	for _, b := range c.Brokers {
		if !strings.Contains(b, ":") {
			return fmt.Errorf("brokers: %q is not host:port", b)
		}
	}
	return nil
}

// Name is the sink's name: its section under `exporters:`.
const Name = "kafka"

func init() {
	exporter.Register(exporter.Descriptor{
		Name: Name,
		NewConfig: func() any {
			return &Config{Compression: "zstd", BatchTimeout: 5 * time.Millisecond, MaxAttempts: 10,
				Spool: SpoolConfig{MaxBytes: 1 << 30, Fsync: "segment"}}
		},
		Tombstones: true,                    // blocklist revocations on the compacted topic
		Streams:    []string{"observation"}, // apitap correlate's input
		New: func(cfg any, out exporter.Output, env exporter.Env) (exporter.Sink, error) {
			c := cfg.(*Config)
			ks, err := New(*c, env.Sensor)
			if err != nil {
				return nil, err
			}
			if out.Format == exporter.FormatOCSF {
				ks.schema = []byte("ocsf/" + ocsf.Version)
			}
			s, err := spool.Wrap(ks, c.Spool, env.Log)
			if err != nil {
				ks.Close()
				return nil, err
			}
			return s, nil
		},
	})
}

// Mask implements exporter.Secrets.
func (c *Config) Mask() {
	if c.SASL.Password != "" {
		c.SASL.Password = "[REDACTED]"
	}
}

// FromSettings decodes the Kafka section of a configuration's exporters
// (its TLS and SASL settings serve the commands that consume Kafka too);
// the zero Config when there is none.
func FromSettings(s exporter.Settings) (Config, error) {
	en, err := exporter.Configure(s)
	if err != nil {
		return Config{}, err
	}
	for _, e := range en {
		if e.Desc.Name == Name {
			return *e.Config.(*Config), nil
		}
	}
	return Config{}, nil
}

// Sink writes records to Kafka.
type Sink struct {
	w      *kafkago.Writer
	cfg    Config
	topics map[string]string
	sensor string
	schema []byte // the schema header: apitap/v1, or ocsf/1.3.0
	msgs   []kafkago.Message
}

// New builds a sink for sensor (the value of the `sensor` header).
func New(c Config, sensor string) (*Sink, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if len(c.Brokers) == 0 {
		return nil, fmt.Errorf("kafka: no brokers")
	}
	topics := map[string]string{}
	for k, v := range DefaultTopics {
		topics[k] = v
	}
	for k, v := range c.Topics {
		topics[k] = v
	}
	if c.BatchTimeout <= 0 {
		c.BatchTimeout = 5 * time.Millisecond
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	w, err := newWriter(c)
	if err != nil {
		return nil, err
	}
	return &Sink{w: w, cfg: c, topics: topics, sensor: sensor, schema: []byte(event.SchemaVersion)}, nil
}

// newWriter builds the producer, with a transport of its own: kafka-go's
// shared default keeps the state of failed connections, which would
// outlive a broker's return.
func newWriter(c Config) (*kafkago.Writer, error) {
	w := &kafkago.Writer{
		Addr:                   kafkago.TCP(c.Brokers...),
		Balancer:               &kafkago.Hash{},
		RequiredAcks:           kafkago.RequireAll,
		BatchTimeout:           c.BatchTimeout,
		BatchSize:              10000,
		MaxAttempts:            c.MaxAttempts,
		WriteBackoffMin:        100 * time.Millisecond,
		WriteBackoffMax:        2 * time.Second,
		AllowAutoTopicCreation: true,
	}
	switch c.Compression {
	case "", "zstd":
		w.Compression = compress.Zstd
	case "lz4":
		w.Compression = compress.Lz4
	case "snappy":
		w.Compression = compress.Snappy
	case "gzip":
		w.Compression = compress.Gzip
	}
	tr := &kafkago.Transport{}
	var err error
	if tr.TLS, err = c.TLS.Config(); err != nil {
		return nil, err
	}
	if tr.SASL, err = c.SASL.Build(); err != nil {
		return nil, err
	}
	w.Transport = tr
	return w, nil
}

// Name implements exporter.Sink.
func (s *Sink) Name() string { return "kafka" }

// Send implements exporter.Sink: one produce call for the batch, retried by
// the writer (MaxAttempts, with backoff).
func (s *Sink) Send(ctx context.Context, recs []exporter.Record) error {
	s.msgs = s.msgs[:0]
	for _, r := range recs {
		topic := s.topics[r.Type]
		if topic == "" {
			continue
		}
		value := r.Value
		if len(value) == 0 {
			value = nil // a tombstone (blocklist revocations on a compacted topic)
		}
		sensor := sensorOf(value, s.sensor)
		key := []byte(r.Key)
		if r.Type == "endpoint" {
			key = []byte(InventoryKey(r.Key, string(sensor)))
		}
		s.msgs = append(s.msgs, kafkago.Message{
			Topic: topic,
			Key:   key,
			Value: value,
			Headers: []kafkago.Header{
				{Key: "schema", Value: s.schema},
				{Key: "sensor", Value: sensor},
				{Key: "type", Value: []byte(r.Type)},
			},
		})
	}
	if len(s.msgs) == 0 {
		return nil
	}
	err := s.w.WriteMessages(ctx, s.msgs...)
	if unknownTopic(err) {
		// a broker that came back without our topics (or a topic that was
		// deleted): the writer's cached metadata stops it from creating
		// them; a fresh writer asks again, auto-creates them, and retries
		if w, werr := newWriter(s.cfg); werr == nil {
			s.w.Close()
			s.w = w
			err = s.w.WriteMessages(ctx, s.msgs...)
		}
	}
	return err
}

// InventoryKey is the key of an endpoint event on apitap.inventory: the
// endpoint id (a hash of host, version, method and template), "@" and
// the sensor, so that the compacted topic keeps every sensor's latest
// event of an endpoint (keyed by the id alone, compaction would keep only
// the last sensor to write it).
func InventoryKey(id, sensor string) string { return id + "@" + sensor }

// unknownTopic says whether a write failed on a missing topic.
func unknownTopic(err error) bool {
	if err == nil {
		return false
	}
	var we kafkago.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if errors.Is(e, kafkago.UnknownTopicOrPartition) {
				return true
			}
		}
		return false
	}
	return errors.Is(err, kafkago.UnknownTopicOrPartition)
}

// Close implements exporter.Sink.
func (s *Sink) Close() error {
	err := s.w.Close()
	if tr, ok := s.w.Transport.(*kafkago.Transport); ok {
		tr.CloseIdleConnections()
	}
	return err
}

// Config builds the tls.Config (nil when TLS is off).
func (c TLSConfig) Config() (*tls.Config, error) {
	if !c.Enabled {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka.tls.ca_file %s: no PEM certificate", c.CAFile)
		}
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// Build makes the SASL mechanism (nil when SASL is off).
func (c SASLConfig) Build() (sasl.Mechanism, error) {
	pass := c.Password
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.sasl.password_file: %w", err)
		}
		pass = strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r")
	}
	switch strings.ToUpper(c.Mechanism) {
	case "":
		return nil, nil
	case "PLAIN":
		return plain.Mechanism{Username: c.Username, Password: pass}, nil
	case "SCRAM-SHA-256":
		return scram.Mechanism(scram.SHA256, c.Username, pass)
	default:
		return scram.Mechanism(scram.SHA512, c.Username, pass)
	}
}

// sensorOf is the "sensor" field of an event's envelope (the events a
// restarted sensor replays from its spool keep the id that made them), or
// def when the value has none (tombstones).
func sensorOf(value []byte, def string) []byte {
	if len(value) > 0 && value[0] != '{' {
		return []byte(def) // a binary record (observation)
	}
	head := value[:min(len(value), 256)]
	i := bytes.Index(head, []byte(`"sensor":"`))
	if i < 0 {
		return []byte(def)
	}
	v := head[i+10:]
	if j := bytes.IndexByte(v, '"'); j > 0 && bytes.IndexByte(v[:j], '\\') < 0 {
		return v[:j:j]
	}
	return []byte(def)
}
