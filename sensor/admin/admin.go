// Package admin is the running sensor's admin HTTP server: Prometheus
// metrics (/metrics), liveness and readiness (/healthz, /readyz), and a
// read-only API with the live catalog (JSON and OpenAPI), the active
// blocklist and the sensor's counters. It serves what the analyzers and
// the blocklist already redacted: no raw sensitive value is ever exposed.
//
// It sits beside the pipeline (sensor.Pipeline) and only reads from it,
// through goroutine-safe snapshots. Bound to localhost by default; with a
// token, every request must carry it as a bearer token.
package admin

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/apitap/apitap/analyzer/behavior"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/exporter"
	"github.com/apitap/apitap/exporter/blocklist"
	"github.com/apitap/apitap/sensor"
)

func contains(s []string, v string) bool { return slices.Contains(s, v) }

// Server serves one pipeline.
type Server struct {
	p       *sensor.Pipeline
	fan     atomic.Pointer[exporter.FanOut]
	sources []string
	sensor  string
	token   string
	ready   atomic.Bool
	live    liveReport // the /report snapshot (report.go)
}

// New returns the server for p; token "" means no authentication (keep
// the address on localhost then).
func New(p *sensor.Pipeline, sensorID, token string) *Server {
	return &Server{p: p, sensor: sensorID, token: token}
}

// SetSources names what the sensor captures from (for the report); call
// it before serving.
func (s *Server) SetSources(src []string) { s.sources = src }

// SetExport adds the export sinks' metrics (records, latency, and each
// sink's own: spool, retries, rotations).
func (s *Server) SetExport(f *exporter.FanOut) {
	if f != nil {
		s.fan.Store(f)
	}
}

// SetReady marks the sensor ready (capture and sinks are up) or not.
func (s *Server) SetReady(ok bool) { s.ready.Store(ok) }

// Handler routes the endpoints.
func (s *Server) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{p: s.p, s: s}, sinkCollector{s}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("/api/catalog", func(w http.ResponseWriter, r *http.Request) {
		cat, ok := s.p.Shared(discovery.Name).(*discovery.Catalog)
		if !ok {
			http.Error(w, "the discovery analyzer is off", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(cat.View().JSON(s.sensor))
	})
	mux.HandleFunc("/api/catalog/openapi", func(w http.ResponseWriter, r *http.Request) {
		cat, ok := s.p.Shared(discovery.Name).(*discovery.Catalog)
		if !ok {
			http.Error(w, "the discovery analyzer is off", http.StatusNotFound)
			return
		}
		doc, err := cat.View().OpenAPI(discovery.OpenAPIOptions{Host: r.URL.Query().Get("host"), JSON: r.URL.Query().Get("format") == "json"})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(doc)
	})
	mux.HandleFunc("/api/blocklist", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.blocklistJSON())
	})
	mux.HandleFunc("/api/actors", func(w http.ResponseWriter, r *http.Request) {
		t, ok := s.p.Shared(behavior.Name).(*behavior.Tracker)
		if !ok {
			http.Error(w, "the behavior analyzer is off", http.StatusNotFound)
			return
		}
		n := 50
		if v, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && v > 0 && v <= 10000 {
			n = v
		}
		at := s.p.Stats().Time
		out := []*behavior.ActorJSON{}
		for _, a := range t.Top(n, at) {
			out = append(out, a.JSON(s.sensor, at))
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"actors": out})
	})
	mux.HandleFunc("/report", func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		var b bytes.Buffer
		if err := s.reportSnapshot().Render(&b, page-1); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b.Bytes())
	})
	mux.HandleFunc("/api/detections", func(w http.ResponseWriter, r *http.Request) {
		n := 100
		if v, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && v > 0 && v <= sensor.MaxRecent {
			n = v
		}
		enc := event.Encoder{Sensor: s.sensor}
		w.Header().Set("Content-Type", "application/x-ndjson")
		var b []byte
		for _, d := range s.p.Detections.Recent(n) {
			b = enc.AppendDetection(b[:0], &d)
			w.Write(b)
		}
	})
	mux.HandleFunc("/api/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.p.StatsEvent())
	})
	if s.token == "" {
		return mux
	}
	want := []byte("Bearer " + s.token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			// an unauthenticated client does not keep its connection
			w.Header().Set("Connection", "close")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// Timeouts of the admin server's connections.
var (
	// ReadHeaderTimeout closes a connection whose request head is not in
	// by then (a client that connects and sends nothing, or slowly).
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds reading a whole request.
	ReadTimeout = 10 * time.Second
	// WriteTimeout bounds writing an answer (the live report included).
	WriteTimeout = 60 * time.Second
	// IdleTimeout closes keep-alive connections idle for this long.
	IdleTimeout = 60 * time.Second
)

// HTTPServer is the admin HTTP server: Handler behind the timeouts above
// and a 16 KiB bound on request heads. Serve it on a listener.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{Handler: s.Handler(), ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout,
		WriteTimeout: WriteTimeout, IdleTimeout: IdleTimeout, MaxHeaderBytes: 16 << 10}
}

// blocklistJSON is the /api/blocklist answer
// (docs/schema/api-blocklist.schema.json): the active entries as
// blocklist events carry them, and what the policy withheld.
func (s *Server) blocklistJSON() []byte {
	b := []byte(`{"schema":"` + event.SchemaVersion + `","sensor":`)
	b = event.AppendString(b, s.sensor)
	b = append(b, `,"time":"`...)
	b = s.p.Stats().Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","entries":[`...)
	for i, e := range s.p.Block.Active() {
		if i > 0 {
			b = append(b, ',')
		}
		b = blocklist.AppendEntry(append(b, '{'), &e, false)
		b = append(b, '}')
	}
	b = append(b, `],"withheld":{`...)
	for i, c := range s.p.Block.Withheld() {
		if i > 0 {
			b = append(b, ',')
		}
		b = event.AppendString(b, c.Name)
		b = append(b, ':')
		b = strconv.AppendUint(b, c.N, 10)
	}
	_, _, servers, _, _ := s.p.Block.Tracking()
	b = append(b, `},"servers_learned":`...)
	b = strconv.AppendInt(b, int64(servers), 10)
	return append(b, "}\n"...)
}

// collector turns the pipeline's snapshot into metrics at scrape time.
type collector struct {
	p *sensor.Pipeline
	s *Server
}

var (
	descPackets      = prometheus.NewDesc("apitap_packets_total", "Packets read from the sources.", nil, nil)
	descBytes        = prometheus.NewDesc("apitap_bytes_total", "Bytes of frames read from the sources.", nil, nil)
	descTransactions = prometheus.NewDesc("apitap_transactions_total", "HTTP transactions reassembled.", nil, nil)
	descFlows        = prometheus.NewDesc("apitap_flows_total", "TCP connections seen.", nil, nil)
	descFlowsOpen    = prometheus.NewDesc("apitap_flows_open", "TCP connections open now.", nil, nil)
	descDropped      = prometheus.NewDesc("apitap_dropped_total", "Data dropped, by pipeline stage.", []string{"stage"}, nil)
	descParseErrors  = prometheus.NewDesc("apitap_parse_errors_total", "HTTP parse errors, by reason.", []string{"reason"}, nil)
	descDecode       = prometheus.NewDesc("apitap_decode_failures_total", "Frames not decoded, by result.", []string{"result"}, nil)
	descHTTP2        = prometheus.NewDesc("apitap_http2_total", "HTTP/2 and gRPC counters, by name: connections by start, frames, streams, header fields resolved or not after a late join, decode quality of closed connections, gRPC calls and messages (docs/events.md, stats http2).", []string{"counter"}, nil)
	descDetections   = prometheus.NewDesc("apitap_detections_total", "Detections, by class and severity.", []string{"class", "severity"}, nil)
	descAnalyzerTime = prometheus.NewDesc("apitap_analyzer_sampled_seconds_total", "Time each analyzer spent on the sampled transactions (one in 64; divide by apitap_analyzer_sampled_transactions_total for the mean).", []string{"analyzer"}, nil)
	descAnalyzerTx   = prometheus.NewDesc("apitap_analyzer_sampled_transactions_total", "Transactions whose analysis was timed (one in 64).", nil, nil)
	descBlocklist    = prometheus.NewDesc("apitap_blocklist_entries", "Active blocklist entries, by action.", []string{"action"}, nil)
	descBlockDropped = prometheus.NewDesc("apitap_blocklist_dropped_total", "Blocklist entries not made because of the blocklist's own bounds, by reason (rate_limited, full; also in apitap_blocklist_withheld_total).", []string{"reason"}, nil)
	descWithheld     = prometheus.NewDesc("apitap_blocklist_withheld_total", "Blocklist entries not made, by reason (unconfirmed flow, low confidence, a never-block address and why, shared address, invalid actor, bounds).", []string{"reason"}, nil)
	descServers      = prometheus.NewDesc("apitap_blocklist_servers_learned", "Monitored servers the blocklist learned from traffic (never blocked).", nil, nil)
	descUntracked    = prometheus.NewDesc("apitap_blocklist_untracked_total", "Blocklist notes not kept because their table was full, by table (actors, servers, shared_addresses).", []string{"table"}, nil)
	descSrcPackets   = prometheus.NewDesc("apitap_source_packets_total", "Packets read, per live source (interface and fanout member).", []string{"source"}, nil)
	descSrcBytes     = prometheus.NewDesc("apitap_source_bytes_total", "Bytes of frames read, per live source.", []string{"source"}, nil)
	descActors       = prometheus.NewDesc("apitap_actors", "Threat actors held by the behavior analyzer.", nil, nil)
	descActorsEvict  = prometheus.NewDesc("apitap_actors_evicted_total", "Actors evicted from the full actor table.", nil, nil)
	descSinkRecords  = prometheus.NewDesc("apitap_sink_records_total", "Records per export sink, by outcome (sent, dropped: queue full, failed: given up).", []string{"sink", "outcome"}, nil)
	descSinkSend     = prometheus.NewDesc("apitap_sink_send_seconds", "Latency of a sink's Send calls (one batch each; Kafka produce with acks).", []string{"sink"}, nil)
	descSinkErrors   = prometheus.NewDesc("apitap_sink_send_errors_total", "Send calls that failed, per sink.", []string{"sink"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPackets, descBytes, descTransactions, descFlows, descFlowsOpen, descDropped, descParseErrors, descDecode, descHTTP2, descDetections, descBlocklist, descBlockDropped, descWithheld, descServers, descUntracked,
		descSrcPackets, descSrcBytes, descAnalyzerTime, descAnalyzerTx, descActors, descActorsEvict, descSinkRecords, descSinkSend, descSinkErrors} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.p.Stats()
	ch <- prometheus.MustNewConstMetric(descPackets, prometheus.CounterValue, float64(st.Packets))
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(descTransactions, prometheus.CounterValue, float64(st.Transactions))
	ch <- prometheus.MustNewConstMetric(descFlows, prometheus.CounterValue, float64(st.Flows))
	ch <- prometheus.MustNewConstMetric(descFlowsOpen, prometheus.GaugeValue, float64(st.FlowsOpen))
	for _, d := range st.Drops {
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(d.N), d.Name)
	}
	for _, d := range st.ParseErrors {
		ch <- prometheus.MustNewConstMetric(descParseErrors, prometheus.CounterValue, float64(d.N), d.Name)
	}
	for _, d := range st.Decode {
		ch <- prometheus.MustNewConstMetric(descDecode, prometheus.CounterValue, float64(d.N), d.Name)
	}
	for _, d := range st.HTTP2 {
		ch <- prometheus.MustNewConstMetric(descHTTP2, prometheus.CounterValue, float64(d.N), d.Name)
	}
	for _, c := range c.p.Detections.Classes() {
		for i, n := range c.N {
			if n > 0 {
				ch <- prometheus.MustNewConstMetric(descDetections, prometheus.CounterValue, float64(n), c.Class, event.Severities[i])
			}
		}
	}
	for _, s := range c.p.Sources() {
		ch <- prometheus.MustNewConstMetric(descSrcPackets, prometheus.CounterValue, float64(s.Packets), s.Source)
		ch <- prometheus.MustNewConstMetric(descSrcBytes, prometheus.CounterValue, float64(s.Bytes), s.Source)
	}
	var sampled uint64
	for _, a := range c.p.AnalyzerCosts() {
		ch <- prometheus.MustNewConstMetric(descAnalyzerTime, prometheus.CounterValue, float64(a.Nanos)/1e9, a.Analyzer)
		sampled = a.Sampled
	}
	ch <- prometheus.MustNewConstMetric(descAnalyzerTx, prometheus.CounterValue, float64(sampled))
	byAction := map[string]int{}
	for _, e := range c.p.Block.Active() {
		byAction[e.Shown()]++
	}
	for _, a := range []string{"rate_limit", "block", "deceive"} {
		ch <- prometheus.MustNewConstMetric(descBlocklist, prometheus.GaugeValue, float64(byAction[a]), a)
		if n := byAction["would_"+a]; n > 0 {
			ch <- prometheus.MustNewConstMetric(descBlocklist, prometheus.GaugeValue, float64(n), "would_"+a)
		}
	}
	limited, full := c.p.Block.Dropped()
	ch <- prometheus.MustNewConstMetric(descBlockDropped, prometheus.CounterValue, float64(limited), "rate_limited")
	ch <- prometheus.MustNewConstMetric(descBlockDropped, prometheus.CounterValue, float64(full), "full")
	for _, w := range c.p.Block.Withheld() {
		ch <- prometheus.MustNewConstMetric(descWithheld, prometheus.CounterValue, float64(w.N), w.Name)
	}
	_, untracked, servers, notLearned, sharedUntracked := c.p.Block.Tracking()
	ch <- prometheus.MustNewConstMetric(descServers, prometheus.GaugeValue, float64(servers))
	ch <- prometheus.MustNewConstMetric(descUntracked, prometheus.CounterValue, float64(untracked), "actors")
	ch <- prometheus.MustNewConstMetric(descUntracked, prometheus.CounterValue, float64(notLearned), "servers")
	ch <- prometheus.MustNewConstMetric(descUntracked, prometheus.CounterValue, float64(sharedUntracked), "shared_addresses")
	if t, ok := c.p.Shared(behavior.Name).(*behavior.Tracker); ok {
		ch <- prometheus.MustNewConstMetric(descActors, prometheus.GaugeValue, float64(t.Len()))
		ch <- prometheus.MustNewConstMetric(descActorsEvict, prometheus.CounterValue, float64(t.Evicted()))
	}
	fan := c.s.fan.Load()
	if fan == nil {
		return
	}
	for _, st := range fan.Stats() {
		for _, o := range [...]struct {
			name string
			n    uint64
		}{{"sent", st.Sent}, {"dropped", st.Dropped}, {"failed", st.Failed}} {
			ch <- prometheus.MustNewConstMetric(descSinkRecords, prometheus.CounterValue, float64(o.n), st.Sink, o.name)
		}
		buckets := map[float64]uint64{}
		for i, b := range exporter.LatencyBuckets {
			buckets[b] = st.Latency[i]
		}
		ch <- prometheus.MustNewConstHistogram(descSinkSend, st.Sends, st.SendSeconds, buckets, st.Sink)
		ch <- prometheus.MustNewConstMetric(descSinkErrors, prometheus.CounterValue, float64(st.SendErrors), st.Sink)
	}
}

// sinkCollector exports the sinks' own metrics (exporter.Metered: spools,
// retries, rotations...), each with the sink's name in a `sink` label. It
// is unchecked (describes nothing): which metrics exist depends on the
// sinks configured.
type sinkCollector struct{ s *Server }

func (sinkCollector) Describe(chan<- *prometheus.Desc) {}

func (c sinkCollector) Collect(ch chan<- prometheus.Metric) {
	fan := c.s.fan.Load()
	if fan == nil {
		return
	}
	for _, sk := range fan.Sinks() {
		m, ok := exporter.As[exporter.Metered](sk)
		if !ok {
			continue
		}
		for _, x := range m.Metrics() {
			kind := prometheus.CounterValue
			if x.Gauge {
				kind = prometheus.GaugeValue
			}
			d := prometheus.NewDesc(x.Name, x.Help, append([]string{"sink"}, x.Labels...), nil)
			ch <- prometheus.MustNewConstMetric(d, kind, x.Value, append([]string{sk.Name()}, x.Values...)...)
		}
	}
}
