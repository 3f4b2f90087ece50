package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apitap/apitap/exporter"
)

// Name is the sink's name: its section under `exporters:`.
const Name = "syslog"

// Config is the `exporters.syslog` section.
type Config struct {
	Address   string        `yaml:"address"`   // host:port of the receiver (required)
	Transport string        `yaml:"transport"` // tcp (default) or tls (RFC 5425)
	TLS       exporter.TLS  `yaml:"tls"`       // with transport tls
	Payload   string        `yaml:"payload"`   // json (default: the event, apitap or OCSF) or cef
	Facility  string        `yaml:"facility"`  // default local0
	AppName   string        `yaml:"app_name"`  // APP-NAME; default apitap
	Hostname  string        `yaml:"hostname"`  // HOSTNAME; default the sensor id
	Timeout   time.Duration `yaml:"timeout"`   // connect and write timeout; default 10s
	// MaxAttempts is how often a batch is tried (reconnecting between
	// tries, with backoff from 100 ms to 2 s) before it is given up and
	// counted failed; default 3.
	MaxAttempts int `yaml:"max_attempts"`
}

func defaults() *Config {
	return &Config{Transport: "tcp", Payload: "json", Facility: "local0", AppName: "apitap", Timeout: 10 * time.Second, MaxAttempts: 3}
}

// facilities are RFC 5424's facility codes by name.
var facilities = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp", "audit", "alert", "clock",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

// Validate checks the section.
func (c *Config) Validate() error {
	if c.Address == "" {
		return fmt.Errorf("address: none given (host:port)")
	}
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return fmt.Errorf("address: %q is not host:port", c.Address)
	}
	switch c.Transport {
	case "tcp", "tls":
	default:
		return fmt.Errorf("transport: want tcp or tls, got %q", c.Transport)
	}
	switch c.Payload {
	case "json", "cef":
	default:
		return fmt.Errorf("payload: want json or cef, got %q", c.Payload)
	}
	if !slices.Contains(facilities, c.Facility) {
		return fmt.Errorf("facility: want one of %s, got %q", strings.Join(facilities, ", "), c.Facility)
	}
	if c.AppName == "" || len(c.AppName) > 48 || strings.ContainsAny(c.AppName, " \t") {
		return fmt.Errorf("app_name: 1 to 48 printable characters, got %q", c.AppName)
	}
	if c.Timeout <= 0 || c.MaxAttempts <= 0 {
		return fmt.Errorf("timeout and max_attempts must be positive")
	}
	return c.TLS.Validate()
}

func init() {
	exporter.Register(exporter.Descriptor{
		Name:      Name,
		NewConfig: func() any { return defaults() },
		Types:     []string{"detection", "blocklist"},
		New: func(cfg any, out exporter.Output, env exporter.Env) (exporter.Sink, error) {
			c := *cfg.(*Config)
			if c.Payload == "cef" {
				if out.Format != exporter.FormatApitap {
					return nil, fmt.Errorf("payload cef has its own field mapping: leave format at apitap")
				}
				for _, t := range out.Types {
					if t != "detection" && t != "blocklist" {
						return nil, fmt.Errorf("payload cef maps detection and blocklist events, not %s", t)
					}
				}
			}
			return New(c, env)
		},
	})
}

// Sink sends events to a syslog receiver over one TCP or TLS connection,
// RFC 5424 messages with octet-counting framing (RFC 6587 3.4.1, RFC 5425).
type Sink struct {
	c        Config
	env      exporter.Env
	host     string // HOSTNAME
	facility int
	tls      *tls.Config
	conn     net.Conn
	w        *bufio.Writer
	msg      []byte
	frame    []byte
	// counters
	sent, dials, dialErrors, writeErrors, skipped atomic.Uint64
}

// New builds the sink; it connects on the first Send.
func New(c Config, env exporter.Env) (*Sink, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := &Sink{c: c, env: env, facility: slices.Index(facilities, c.Facility)}
	s.host = c.Hostname
	if s.host == "" {
		s.host = env.Sensor
	}
	s.host = printable(s.host, 255)
	if c.Transport == "tls" {
		h, _, _ := net.SplitHostPort(c.Address)
		t, err := c.TLS.Config(h)
		if err != nil {
			return nil, err
		}
		s.tls = t
	}
	return s, nil
}

// Name implements exporter.Sink.
func (s *Sink) Name() string { return Name }

func (s *Sink) dial(ctx context.Context) error {
	s.dials.Add(1)
	d := &net.Dialer{Timeout: s.c.Timeout, KeepAlive: 30 * time.Second}
	var conn net.Conn
	var err error
	if s.tls != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(ctx, "tcp", s.c.Address)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.c.Address)
	}
	if err != nil {
		s.dialErrors.Add(1)
		return fmt.Errorf("syslog %s: %w", s.c.Address, err)
	}
	s.conn = conn
	if s.w == nil {
		s.w = bufio.NewWriterSize(conn, 64<<10)
	} else {
		s.w.Reset(conn)
	}
	return nil
}

func (s *Sink) drop() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// Send implements exporter.Sink: the batch is written and flushed; on an
// error the connection is made again and the whole batch resent (a
// receiver may then see some messages twice), up to max_attempts.
func (s *Sink) Send(ctx context.Context, recs []exporter.Record) error {
	var err error
	backoff := 100 * time.Millisecond
	for attempt := 1; attempt <= s.c.MaxAttempts; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
		}
		if err = s.write(ctx, recs); err == nil {
			return nil
		}
		s.drop()
	}
	return err
}

func (s *Sink) write(ctx context.Context, recs []exporter.Record) error {
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.c.Timeout))
	n := 0
	for _, r := range recs {
		if !s.format(&r) {
			s.skipped.Add(1)
			continue
		}
		s.frame = strconv.AppendInt(s.frame[:0], int64(len(s.msg)), 10)
		s.frame = append(s.frame, ' ')
		s.w.Write(s.frame)
		if _, err := s.w.Write(s.msg); err != nil {
			s.writeErrors.Add(1)
			return fmt.Errorf("syslog %s: %w", s.c.Address, err)
		}
		n++
	}
	if err := s.w.Flush(); err != nil {
		s.writeErrors.Add(1)
		return fmt.Errorf("syslog %s: %w", s.c.Address, err)
	}
	s.sent.Add(uint64(n))
	return nil
}

// head is what a message needs from its event, apitap's or OCSF's.
type head struct {
	Type       string          `json:"type"`
	Time       json.RawMessage `json:"time"` // RFC 3339 (apitap) or milliseconds (OCSF)
	Severity   string          `json:"severity"`
	SeverityID int             `json:"severity_id"` // OCSF
}

// format builds the RFC 5424 message of r in s.msg; false for a record
// that can not be formatted (counted, never sent half-made).
func (s *Sink) format(r *exporter.Record) bool {
	var h head
	if err := json.Unmarshal(r.Value, &h); err != nil {
		return false
	}
	at := eventTime(h.Time)
	sev := 6 // informational
	if r.Type == "detection" {
		sev = syslogSeverity(h.Severity, h.SeverityID)
	}
	m := s.msg[:0]
	m = append(m, '<')
	m = strconv.AppendInt(m, int64(s.facility*8+sev), 10)
	m = append(m, ">1 "...)
	if at.IsZero() {
		m = append(m, '-')
	} else {
		// RFC 5424 TIME-SECFRAC: at most six digits
		m = at.UTC().Truncate(time.Microsecond).AppendFormat(m, "2006-01-02T15:04:05.999999Z07:00")
	}
	m = append(m, ' ')
	m = append(m, s.host...)
	m = append(m, ' ')
	m = append(m, s.c.AppName...)
	m = append(m, " - "...)
	m = append(m, printable(r.Type, 32)...)
	m = append(m, ` [origin software="apitap" swVersion="`...)
	m = appendSDValue(m, s.env.Version)
	m = append(m, `"] `...)
	if s.c.Payload == "cef" {
		var err error
		if m, err = appendCEF(m, r.Type, r.Value, s.env.Version); err != nil {
			return false
		}
	} else {
		m = append(m, r.Value...)
	}
	s.msg = m
	return true
}

func eventTime(raw json.RawMessage) time.Time {
	if len(raw) == 0 {
		return time.Time{}
	}
	if raw[0] == '"' {
		var t time.Time
		if json.Unmarshal(raw, &t) == nil {
			return t
		}
		return time.Time{}
	}
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return time.UnixMilli(n)
	}
	return time.Time{}
}

// syslogSeverity maps a detection's severity (apitap's name or OCSF's id)
// to RFC 5424's: critical 2, high 3 (error), medium 4 (warning), low 5
// (notice), info 6.
func syslogSeverity(name string, id int) int {
	switch {
	case name == "critical" || id == 5 || id == 6:
		return 2
	case name == "high" || id == 4:
		return 3
	case name == "medium" || id == 3:
		return 4
	case name == "low" || id == 2:
		return 5
	}
	return 6
}

// printable keeps a header field within PRINTUSASCII and its length, "-"
// for an empty one.
func printable(v string, n int) string {
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v) && len(b) < n; i++ {
		if c := v[i]; c > 32 && c < 127 {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}

// appendSDValue escapes a structured-data parameter value (RFC 5424 6.3.3).
func appendSDValue(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '"', '\\', ']':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// Close implements exporter.Sink.
func (s *Sink) Close() error {
	if s.conn == nil {
		return nil
	}
	err := s.w.Flush()
	s.drop()
	return err
}

// Metrics implements exporter.Metered.
func (s *Sink) Metrics() []exporter.Metric {
	return []exporter.Metric{
		{Name: "apitap_syslog_messages_total", Help: "Messages the syslog sink wrote.", Value: float64(s.sent.Load())},
		{Name: "apitap_syslog_connects_total", Help: "Connections the syslog sink made, by result.", Labels: []string{"result"}, Values: []string{"ok"}, Value: float64(s.dials.Load() - s.dialErrors.Load())},
		{Name: "apitap_syslog_connects_total", Help: "Connections the syslog sink made, by result.", Labels: []string{"result"}, Values: []string{"error"}, Value: float64(s.dialErrors.Load())},
		{Name: "apitap_syslog_write_errors_total", Help: "Writes that failed (the connection is made again and the batch resent).", Value: float64(s.writeErrors.Load())},
		{Name: "apitap_syslog_skipped_total", Help: "Events the syslog sink could not format (malformed), left out.", Value: float64(s.skipped.Load())},
	}
}
