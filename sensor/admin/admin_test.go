package admin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	_ "github.com/apitap/apitap/analyzer/all"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/exporter"
	"github.com/apitap/apitap/exporter/spool"
	"github.com/apitap/apitap/internal/testgen/pcapgen"
	"github.com/apitap/apitap/internal/testutil/eventtest"
	"github.com/apitap/apitap/sensor"
	"github.com/apitap/apitap/sensor/capture"
)

// pipeline runs the whole default analyzer chain over a capture and
// returns the pipeline, still open, as a running sensor would hold it.
func pipeline(t *testing.T, file string) *sensor.Pipeline {
	t.Helper()
	return pipelineWith(t, file, nil)
}

// pipelineWith is pipeline with a hook that sets the pipeline up as
// apitap run does before it runs.
func pipelineWith(t *testing.T, file string, setup func(*sensor.Pipeline)) *sensor.Pipeline {
	t.Helper()
	var cfg sensor.Config
	cfg.Sensor.ID, cfg.Sensor.Workers = "admin-test", 2
	cfg.Output.Emit = []string{"stats"}
	p, err := sensor.NewPipeline(cfg.WithDefaults(), io.Discard, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(p)
	}
	src, err := capture.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := p.Run(src); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Close(); err != nil { // the counters as a stopped sensor last published them
		t.Fatal(err)
	}
	return p
}

func get(t *testing.T, h http.Handler, path, auth string) (int, string) {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

func TestEndpoints(t *testing.T) {
	s := New(pipeline(t, "../../testdata/demo/demo.pcap"), "admin-test", "")
	h := s.Handler()
	if code, _ := get(t, h, "/readyz", ""); code != 503 {
		t.Errorf("/readyz before SetReady: %d, want 503", code)
	}
	s.SetReady(true)
	cases := []struct{ path, want string }{
		{"/healthz", "ok"},
		{"/readyz", "ready"},
		{"/metrics", "apitap_transactions_total "},
		{"/metrics", `apitap_detections_total{class="sqli",severity=`},
		{"/metrics", `apitap_analyzer_sampled_seconds_total{analyzer="discovery"}`},
		{"/metrics", `apitap_analyzer_sampled_transactions_total `},
		{"/metrics", "go_goroutines"},
		{"/metrics", `apitap_http2_total{counter="grpc_calls"} 69`},
		{"/metrics", `apitap_http2_total{counter="connections_mid_stream"} 1`},
		{"/api/catalog", `"path": "/shop.v1.Payments/Charge"`},
		{"/api/catalog", `"path": "/v2/accounts/{accountId}"`},
		{"/api/catalog/openapi", "openapi: 3.1.0"},
		{"/api/catalog/openapi?format=json", `"openapi": "3.1.0"`},
		{"/api/blocklist", `"entries"`},
		{"/api/actors", `"stage":"abuse"`},
		{"/api/detections?limit=5", `"type":"detection"`},
		{"/report", `<svg id="timeline"`},
		{"/api/stats", `"type":"stats"`},
	}
	for _, c := range cases {
		code, body := get(t, h, c.path, "")
		if code != 200 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d, lacks %q:\n%.2000s", c.path, code, c.want, body)
		}
	}
}

func TestToken(t *testing.T) {
	s := New(pipeline(t, "../../testdata/demo/demo.pcap"), "admin-test", "0123456789abcdef")
	s.SetReady(true)
	h := s.Handler()
	cases := []struct {
		path, auth string
		code       int
	}{
		{"/metrics", "", 401},
		{"/api/catalog", "Bearer wrong", 401},
		{"/api/catalog", "0123456789abcdef", 401},
		{"/api/catalog", "Bearer 0123456789abcdef", 200},
		{"/metrics", "Bearer 0123456789abcdef", 200},
		{"/healthz", "", 200}, // probes need no token
		{"/readyz", "", 200},
	}
	for _, c := range cases {
		if code, _ := get(t, h, c.path, c.auth); code != c.code {
			t.Errorf("%s with %q: %d, want %d", c.path, c.auth, code, c.code)
		}
	}
}

// TestNoRawValues serves everything after the capture full of planted
// sensitive values: none of them may appear in any answer.
func TestNoRawValues(t *testing.T) {
	s := New(pipeline(t, "../../testdata/pcaps/sensitive.pcap"), "admin-test", "")
	s.SetReady(true)
	h := s.Handler()
	for _, path := range []string{"/metrics", "/api/catalog", "/api/catalog/openapi", "/api/catalog/openapi?format=json", "/api/blocklist", "/api/actors", "/api/detections?limit=1000", "/report", "/api/stats"} {
		code, body := get(t, h, path, "")
		if code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
		for _, v := range pcapgen.SensitiveValues {
			if strings.Contains(body, v) {
				t.Errorf("%s exposes the raw value %q", path, v)
			}
		}
	}
}

// memSink accepts every batch.
type memSink struct{ n int }

func (m *memSink) Name() string { return "mem" }
func (m *memSink) Send(_ context.Context, recs []exporter.Record) error {
	m.n += len(recs)
	return nil
}
func (m *memSink) Close() error { return nil }

// TestExportMetrics: the sinks' record counts, Send latency histogram and
// spool depth are on /metrics.
func TestExportMetrics(t *testing.T) {
	sp, err := spool.Open(t.TempDir(), spool.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	fan := exporter.New(exporter.Options{Block: true}, spool.NewSink(&memSink{}, sp, zerolog.Nop()))
	for i := 0; i < 10; i++ {
		fan.Add(exporter.Record{Type: "detection", Key: "k", Value: []byte(`{}`)})
	}
	defer fan.Close()
	s := New(pipeline(t, "../../testdata/demo/demo.pcap"), "admin-test", "")
	s.SetExport(fan)
	h := s.Handler()
	want := []string{`apitap_sink_records_total{outcome="sent",sink="mem"} 10`, `apitap_sink_send_seconds_bucket{sink="mem",le="0.005"}`,
		`apitap_sink_send_seconds_count{sink="mem"}`, `apitap_spool_records{sink="mem"} 0`, `apitap_spool_lost_total{reason="evicted",sink="mem"} 0`, "apitap_actors "}
	var body string
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		_, body = get(t, h, "/metrics", "")
		if strings.Contains(body, want[0]) {
			break
		}
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}
}

// TestBlocklistAPI: /api/blocklist answers the documented schema, with
// entries (a dry-run one too) and the withheld counters.
func TestBlocklistAPI(t *testing.T) {
	p := pipeline(t, "../../testdata/demo/demo.pcap")
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	for i, ip := range []string{"45.0.0.1", "2a01::1", "127.0.0.1", "fe80::1%x;allow all"} {
		p.Block.Detection(&event.Detection{ID: "d" + strconv.Itoa(i), Class: "sqli", Severity: "critical", Confidence: 0.95, Confirmed: true,
			Actor: event.Actor{IP: ip}, LastSeen: at, Count: 1, Evidence: []event.Evidence{{Rule: "r"}}})
	}
	p.Block.Detection(&event.Detection{ID: "u", Class: "sqli", Severity: "critical", Confidence: 0.95, Actor: event.Actor{IP: "45.0.0.2"}, LastSeen: at})
	code, body := get(t, New(p, "admin-test", "").Handler(), "/api/blocklist", "")
	if code != 200 {
		t.Fatal(code)
	}
	if err := eventtest.CheckAs("api-blocklist", []byte(body)); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	for _, want := range []string{`"key":"ip:2a01::1"`, `"key":"ip:45.0.0.1"`, `"action":"block"`, `"confidence":"high"`, `"loopback":1`, `"link_local":1`, `"unconfirmed":1`} {
		if !strings.Contains(body, want) {
			t.Errorf("lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "127.0.0.1") || strings.Contains(body, "fe80") || strings.Contains(body, "45.0.0.2") {
		t.Errorf("a withheld actor is listed:\n%s", body)
	}
	_, metrics := get(t, New(p, "admin-test", "").Handler(), "/metrics", "")
	for _, want := range []string{`apitap_blocklist_withheld_total{reason="unconfirmed"} 1`, `apitap_blocklist_withheld_total{reason="loopback"} 1`,
		`apitap_blocklist_entries{action="block"} 2`, "apitap_blocklist_servers_learned "} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestConnections: the admin server closes the connection of an
// unauthenticated request, of a client that sends no request, and of an
// idle keep-alive client.
func TestConnections(t *testing.T) {
	s := New(pipeline(t, "../../testdata/demo/demo.pcap"), "admin-test", "0123456789abcdef")
	if hs := s.HTTPServer(); hs.ReadHeaderTimeout == 0 || hs.IdleTimeout == 0 || hs.ReadTimeout == 0 || hs.WriteTimeout == 0 || hs.MaxHeaderBytes == 0 {
		t.Fatalf("timeouts not set: %+v", hs)
	}
	// serve with the given header and idle timeouts; returns the address
	serve := func(header, idle time.Duration) string {
		hs := s.HTTPServer()
		hs.ReadHeaderTimeout, hs.IdleTimeout = header, idle
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go hs.Serve(ln)
		t.Cleanup(func() { hs.Close() })
		return ln.Addr().String()
	}
	// closed reports whether the server closes c (reads hit EOF) within 5 s.
	closed := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return errors.Is(err, io.EOF)
			}
		}
	}
	dial := func(addr string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// timeouts far beyond the test: only the 401 can close it
	c := dial(serve(time.Hour, time.Hour))
	fmt.Fprint(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
	if !closed(c) {
		t.Error("an unauthenticated keep-alive connection stays open")
	}
	short := serve(300*time.Millisecond, 300*time.Millisecond)
	if !closed(dial(short)) {
		t.Error("a connection without a request stays open")
	}
	c = dial(short)
	fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer 0123456789abcdef\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("authenticated request: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	if !closed(c) {
		t.Error("an idle keep-alive connection stays open")
	}
}
