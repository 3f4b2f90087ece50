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
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/sensor"
)

// Server serves one pipeline.
type Server struct {
	p      *sensor.Pipeline
	sensor string
	token  string
	ready  atomic.Bool
}

// New returns the server for p; token "" means no authentication (keep
// the address on localhost then).
func New(p *sensor.Pipeline, sensorID, token string) *Server {
	return &Server{p: p, sensor: sensorID, token: token}
}

// SetReady marks the sensor ready (capture and sinks are up) or not.
func (s *Server) SetReady(ok bool) { s.ready.Store(ok) }

// Handler routes the endpoints.
func (s *Server) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{p: s.p}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
		json.NewEncoder(w).Encode(map[string]any{"entries": s.p.Block.Active()})
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
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// collector turns the pipeline's snapshot into metrics at scrape time.
type collector struct{ p *sensor.Pipeline }

var (
	descPackets      = prometheus.NewDesc("apitap_packets_total", "Packets read from the sources.", nil, nil)
	descBytes        = prometheus.NewDesc("apitap_bytes_total", "Bytes of frames read from the sources.", nil, nil)
	descTransactions = prometheus.NewDesc("apitap_transactions_total", "HTTP transactions reassembled.", nil, nil)
	descFlows        = prometheus.NewDesc("apitap_flows_total", "TCP connections seen.", nil, nil)
	descFlowsOpen    = prometheus.NewDesc("apitap_flows_open", "TCP connections open now.", nil, nil)
	descDropped      = prometheus.NewDesc("apitap_dropped_total", "Data dropped, by pipeline stage.", []string{"stage"}, nil)
	descParseErrors  = prometheus.NewDesc("apitap_parse_errors_total", "HTTP parse errors, by reason.", []string{"reason"}, nil)
	descDecode       = prometheus.NewDesc("apitap_decode_failures_total", "Frames not decoded, by result.", []string{"result"}, nil)
	descDetections   = prometheus.NewDesc("apitap_detections_total", "Detections, by class.", []string{"class"}, nil)
	descBlocklist    = prometheus.NewDesc("apitap_blocklist_entries", "Active blocklist entries, by action.", []string{"action"}, nil)
	descBlockDropped = prometheus.NewDesc("apitap_blocklist_dropped_total", "Blocklist entries not made, by reason.", []string{"reason"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPackets, descBytes, descTransactions, descFlows, descFlowsOpen, descDropped, descParseErrors, descDecode, descDetections, descBlocklist, descBlockDropped} {
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
	for _, d := range st.Detections {
		ch <- prometheus.MustNewConstMetric(descDetections, prometheus.CounterValue, float64(d.N), d.Name)
	}
	byAction := map[string]int{}
	for _, e := range c.p.Block.Active() {
		byAction[e.Action]++
	}
	for _, a := range []string{"rate_limit", "block", "deceive"} {
		ch <- prometheus.MustNewConstMetric(descBlocklist, prometheus.GaugeValue, float64(byAction[a]), a)
	}
	limited, full := c.p.Block.Dropped()
	ch <- prometheus.MustNewConstMetric(descBlockDropped, prometheus.CounterValue, float64(limited), "rate_limited")
	ch <- prometheus.MustNewConstMetric(descBlockDropped, prometheus.CounterValue, float64(full), "full")
}
