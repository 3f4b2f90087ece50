package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"text/template"
	"time"

	"github.com/apitap/apitap/exporter"
	"github.com/apitap/apitap/exporter/ocsf"
	"github.com/apitap/apitap/exporter/spool"
)

// Name is the sink's name: its section under `exporters:`.
const Name = "webhook"

// Config is the `exporters.webhook` section.
type Config struct {
	URL string `yaml:"url"` // http:// or https:// (required)
	// Headers are added to every request (Authorization, X-API-Key...).
	Headers map[string]string `yaml:"headers"`
	// BearerTokenFile holds a token sent as Authorization: Bearer (first
	// line of the file), kept out of the configuration.
	BearerTokenFile string `yaml:"bearer_token_file"`
	// Preset is a built-in body template: slack or teams ("" for none).
	Preset string `yaml:"preset"`
	// Template is a Go text/template rendering the body of one event
	// (README.md lists its data and functions); without one (and without a
	// preset) the body is the event's JSON, or a JSON array with batch > 1.
	Template string `yaml:"template"`
	// Batch is how many events one request carries without a template;
	// default 1 (the body is then the event object itself).
	Batch       int           `yaml:"batch"`
	Timeout     time.Duration `yaml:"timeout"`      // per request; default 10s
	MaxAttempts int           `yaml:"max_attempts"` // per request (network errors, 408, 429, 5xx); default 5
	BackoffMin  time.Duration `yaml:"backoff_min"`  // first wait between attempts, doubling; default 500ms
	BackoffMax  time.Duration `yaml:"backoff_max"`  // longest wait (also caps Retry-After); default 30s
	// Queue bounds the events waiting for this sink in memory; when full,
	// new ones are dropped and counted. Default 10000.
	Queue int          `yaml:"queue"`
	TLS   exporter.TLS `yaml:"tls"`
	// Spool keeps events on disk while the receiver is down (package
	// spool), delivered in order when it is back, also by the next run.
	Spool spool.Config `yaml:"spool"`
}

func defaults() *Config {
	return &Config{Batch: 1, Timeout: 10 * time.Second, MaxAttempts: 5, BackoffMin: 500 * time.Millisecond, BackoffMax: 30 * time.Second, Queue: 10000,
		Spool: spool.Config{MaxBytes: 1 << 30, Fsync: "segment"}}
}

// Validate checks the section.
func (c *Config) Validate() error {
	u, err := url.Parse(c.URL)
	if c.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url: want an http:// or https:// URL, got %q", c.URL)
	}
	if c.Preset != "" && c.Template != "" {
		return fmt.Errorf("preset and template: give one of them")
	}
	if _, ok := presets[c.Preset]; c.Preset != "" && !ok {
		return fmt.Errorf("preset: want slack or teams, got %q", c.Preset)
	}
	if _, err := c.template(); err != nil {
		return err
	}
	if c.Batch < 1 || c.Batch > 10000 {
		return fmt.Errorf("batch must be between 1 and 10000, got %d", c.Batch)
	}
	if c.Timeout <= 0 || c.MaxAttempts <= 0 || c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin {
		return fmt.Errorf("timeout, max_attempts and backoff_min must be positive, backoff_max at least backoff_min")
	}
	if c.Queue < 1 {
		return fmt.Errorf("queue must be positive, got %d", c.Queue)
	}
	if err := c.TLS.Validate(); err != nil {
		return err
	}
	return c.Spool.Validate()
}

// Mask implements exporter.Secrets.
func (c *Config) Mask() {
	for k := range c.Headers {
		c.Headers[k] = "[REDACTED]"
	}
}

func (c *Config) template() (*template.Template, error) {
	text := c.Template
	if c.Preset != "" {
		text = presets[c.Preset]
	}
	if text == "" {
		return nil, nil
	}
	t, err := template.New("webhook").Funcs(funcs).Option("missingkey=zero").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return t, nil
}

func init() {
	exporter.Register(exporter.Descriptor{
		Name:      Name,
		NewConfig: func() any { return defaults() },
		Types:     []string{"detection"},
		New: func(cfg any, _ exporter.Output, env exporter.Env) (exporter.Sink, error) {
			c := *cfg.(*Config)
			w, err := New(c, env)
			if err != nil {
				return nil, err
			}
			s, err := spool.Wrap(w, c.Spool, env.Log)
			if err != nil {
				return nil, err
			}
			return &queued{Sink: s, n: c.Queue}, nil
		},
	})
}

// queued gives the sink its own queue length.
type queued struct {
	exporter.Sink
	n int
}

func (q *queued) QueueLen() int         { return q.n }
func (q *queued) Unwrap() exporter.Sink { return q.Sink }

// Sink posts events to an HTTP endpoint.
type Sink struct {
	c      Config
	env    exporter.Env
	tmpl   *template.Template
	client *http.Client
	token  string
	body   bytes.Buffer
	// counters
	requests, retries, rejected, delivered atomic.Uint64
	status                                 [6]atomic.Uint64 // by status class: 0 network error, 1xx..5xx
}

// New builds the sink.
func New(c Config, env exporter.Env) (*Sink, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := &Sink{c: c, env: env}
	s.tmpl, _ = c.template()
	if c.BearerTokenFile != "" {
		b, err := os.ReadFile(c.BearerTokenFile)
		if err != nil {
			return nil, fmt.Errorf("bearer_token_file: %w", err)
		}
		s.token = strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	u, _ := url.Parse(c.URL)
	if u.Scheme == "https" {
		t, err := c.TLS.Config(u.Hostname())
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = t
	}
	s.client = &http.Client{Transport: tr, Timeout: c.Timeout,
		// a webhook that redirects is misconfigured: do not follow with the headers
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return s, nil
}

// Name implements exporter.Sink.
func (s *Sink) Name() string { return Name }

// errPermanent: the receiver refused the request for good (4xx but 408
// and 429); retrying would not help.
var errPermanent = errors.New("rejected")

// Send implements exporter.Sink: each request is tried max_attempts times
// with backoff; requests the receiver rejects for good (4xx) are counted
// and left out; an error means the rest of the batch could not be
// delivered (the spool, when configured, keeps it; delivery is then
// at-least-once).
func (s *Sink) Send(ctx context.Context, recs []exporter.Record) error {
	for len(recs) > 0 {
		n := 1
		if s.tmpl == nil {
			n = min(s.c.Batch, len(recs))
		}
		if err := s.render(recs[:n]); err != nil {
			s.env.Log.Warn().Err(err).Msg("webhook: event not rendered, left out")
			s.rejected.Add(uint64(n))
			recs = recs[n:]
			continue
		}
		err := s.post(ctx)
		switch {
		case errors.Is(err, errPermanent):
			s.rejected.Add(uint64(n))
			s.env.Log.Warn().Err(err).Int("events", n).Msg("webhook: receiver rejected events, left out")
		case err != nil:
			return err
		default:
			s.delivered.Add(uint64(n))
		}
		recs = recs[n:]
	}
	return nil
}

// render writes the body of recs into s.body.
func (s *Sink) render(recs []exporter.Record) error {
	s.body.Reset()
	if s.tmpl != nil {
		var data map[string]any
		if err := json.Unmarshal(recs[0].Value, &data); err != nil {
			return err
		}
		return s.tmpl.Execute(&s.body, data)
	}
	if s.c.Batch == 1 {
		s.body.Write(recs[0].Value)
		return nil
	}
	s.body.WriteByte('[')
	for i, r := range recs {
		if i > 0 {
			s.body.WriteByte(',')
		}
		s.body.Write(r.Value)
	}
	s.body.WriteByte(']')
	return nil
}

func (s *Sink) post(ctx context.Context) error {
	wait := s.c.BackoffMin
	var err error
	for attempt := 1; ; attempt++ {
		var retryAfter time.Duration
		retryAfter, err = s.once(ctx)
		if err == nil || errors.Is(err, errPermanent) || attempt >= s.c.MaxAttempts {
			return err
		}
		s.retries.Add(1)
		d := max(wait, min(retryAfter, s.c.BackoffMax))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		wait = min(2*wait, s.c.BackoffMax)
	}
}

// once makes one request; it returns the receiver's Retry-After.
func (s *Sink) once(ctx context.Context) (time.Duration, error) {
	s.requests.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.c.URL, bytes.NewReader(s.body.Bytes()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "apitap/"+s.env.Version)
	for k, v := range s.c.Headers {
		req.Header.Set(k, v)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.status[0].Add(1)
		return 0, fmt.Errorf("webhook: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if c := resp.StatusCode / 100; c >= 1 && c <= 5 {
		s.status[c].Add(1)
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return 0, nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("webhook: %s", resp.Status)
	default:
		return 0, fmt.Errorf("webhook: %s: %w", resp.Status, errPermanent)
	}
}

// retryAfter reads a Retry-After header given in seconds (dates are not
// honoured: a clock-skewed receiver could stall the sink).
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// Close implements exporter.Sink.
func (s *Sink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// Metrics implements exporter.Metered.
func (s *Sink) Metrics() []exporter.Metric {
	out := []exporter.Metric{
		{Name: "apitap_webhook_events_total", Help: "Events the webhook sink handled, by outcome (delivered; rejected: a 4xx answer or a template error).", Labels: []string{"outcome"}, Values: []string{"delivered"}, Value: float64(s.delivered.Load())},
		{Name: "apitap_webhook_events_total", Help: "Events the webhook sink handled, by outcome (delivered; rejected: a 4xx answer or a template error).", Labels: []string{"outcome"}, Values: []string{"rejected"}, Value: float64(s.rejected.Load())},
		{Name: "apitap_webhook_retries_total", Help: "Requests the webhook sink tried again (network error, 408, 429, 5xx).", Value: float64(s.retries.Load())},
	}
	for i, class := range []string{"error", "1xx", "2xx", "3xx", "4xx", "5xx"} {
		out = append(out, exporter.Metric{Name: "apitap_webhook_requests_total", Help: "Requests the webhook sink made, by answer (error: no answer).",
			Labels: []string{"code"}, Values: []string{class}, Value: float64(s.status[i].Load())})
	}
	return out
}

// funcs are the template functions (README.md).
var funcs = template.FuncMap{
	// json writes a value as JSON (a string becomes a quoted, escaped
	// JSON string): the way to put event fields into a JSON body
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	// str is a value as text, "" for a missing one
	"str": func(v any) string {
		if v == nil {
			return ""
		}
		return fmt.Sprint(v)
	},
	// title is a detection class's human name
	"title": func(v any) string {
		s, _ := v.(string)
		return ocsf.Title(s)
	},
	"upper": func(v any) string { return strings.ToUpper(fmt.Sprint(v)) },
}

// presets are the built-in templates: a message for Slack's incoming
// webhooks, and a MessageCard for Microsoft Teams' incoming webhooks.
var presets = map[string]string{
	"slack": `{{- $t := "" -}}
{{- if eq (str .type) "detection" -}}
{{- $t = printf ":rotating_light: *%s* (%s, confidence %s) on %s %s%s from %s (%s) — %s" (title .class) (str .severity) (str .confidence) (str .endpoint.method) (str .endpoint.host) (str .endpoint.path) (str .actor.ip) (str .sensor) (str .id) -}}
{{- else if eq (str .type) "blocklist" -}}
{{- $t = printf ":no_entry: blocklist %s %s:%s for %ss (%s) — %s" (str .action) (str .actor.type) (str .actor.value) (str .ttl_seconds) (str .reason) (str .sensor) -}}
{{- else -}}
{{- $t = printf "apitap %s event from %s" (str .type) (str .sensor) -}}
{{- end -}}
{"text":{{json $t}}}`,
	"teams": `{{- $title := printf "apitap %s" (str .type) -}}{{- $text := "" -}}{{- $color := "808080" -}}
{{- if eq (str .type) "detection" -}}
{{- $title = printf "%s (%s)" (title .class) (str .severity) -}}
{{- $text = printf "%s %s%s from %s, confidence %s, sensor %s, id %s" (str .endpoint.method) (str .endpoint.host) (str .endpoint.path) (str .actor.ip) (str .confidence) (str .sensor) (str .id) -}}
{{- if or (eq (str .severity) "high") (eq (str .severity) "critical") }}{{ $color = "D7263D" }}{{ else }}{{ $color = "F4A259" }}{{ end -}}
{{- else if eq (str .type) "blocklist" -}}
{{- $title = printf "Blocklist: %s %s:%s" (str .action) (str .actor.type) (str .actor.value) -}}
{{- $text = printf "%s, for %ss, sensor %s" (str .reason) (str .ttl_seconds) (str .sensor) -}}
{{- end -}}
{"@type":"MessageCard","@context":"https://schema.org/extensions","summary":{{json $title}},"themeColor":{{json $color}},"title":{{json $title}},"text":{{json $text}}}`,
}
