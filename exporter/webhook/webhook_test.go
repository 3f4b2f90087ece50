package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
	"github.com/apitap/apitap/sensor/cli"
)

// receiver is a local webhook endpoint that fails on purpose: by request
// number it answers 503, drops the connection without answering, answers
// 429 with Retry-After, or takes the body.
type receiver struct {
	mu     sync.Mutex
	n      int
	bodies []string
	faults map[string]int
	plan   func(n int) string // "ok", "503", "drop", "429", "400"
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	b.ReadFrom(r.Body)
	rc.mu.Lock()
	rc.n++
	what := rc.plan(rc.n)
	if rc.faults == nil {
		rc.faults = map[string]int{}
	}
	rc.faults[what]++
	if what == "ok" {
		rc.bodies = append(rc.bodies, b.String())
	}
	rc.mu.Unlock()
	if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "Bearer t0ken" {
		http.Error(w, "bad headers", http.StatusBadRequest)
		return
	}
	switch what {
	case "ok":
		w.WriteHeader(http.StatusNoContent)
	case "503":
		http.Error(w, "busy", http.StatusServiceUnavailable)
	case "429":
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	case "400":
		http.Error(w, "no", http.StatusBadRequest)
	case "drop":
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}
}

// read runs apitap read on a capture with a webhook section and returns
// the detections it wrote and its standard error.
func read(t *testing.T, capture, section string) ([]string, string) {
	t.Helper()
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("t0ken\n"), 0o600)
	cf := filepath.Join(dir, "config.yaml")
	cfg := "exporters:\n  webhook:\n    bearer_token_file: " + tok + "\n    backoff_min: 10ms\n    backoff_max: 50ms\n" + section
	if err := os.WriteFile(cf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := cli.Main([]string{"read", "--config", cf, "--workers", "1", "--sensor-id", "wh", capture},
		&cli.IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
	if code != 0 {
		t.Fatalf("apitap read: exit %d\n%s", code, stderr.String())
	}
	var dets []string
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.Contains(line, `"type":"detection"`) {
			dets = append(dets, line)
		}
	}
	return dets, stderr.String()
}

const demo = "../../testdata/demo/demo.pcap"

// TestWebhookRetries posts the demo's detections to a receiver that fails
// one request in two (503, dropped connections, 429 with Retry-After):
// every detection arrives, each once, in the order the sink got them.
func TestWebhookRetries(t *testing.T) {
	rc := &receiver{plan: func(n int) string {
		switch n % 6 {
		case 1:
			return "503"
		case 3:
			return "drop"
		case 5:
			return "429"
		}
		return "ok"
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	want, stderr := read(t, demo, "    url: "+srv.URL+"/hook\n")
	rc.mu.Lock()
	defer rc.mu.Unlock()
	seen := map[string]bool{}
	for _, b := range rc.bodies {
		var ev struct{ Type, ID string }
		if err := json.Unmarshal([]byte(b), &ev); err != nil || ev.Type != "detection" {
			t.Fatalf("body is not a detection event: %v %q", err, b)
		}
		if seen[ev.ID+b] {
			t.Fatalf("detection %s delivered twice", ev.ID)
		}
		seen[ev.ID+b] = true
	}
	for _, w := range want {
		var ev struct{ ID string }
		json.Unmarshal([]byte(w), &ev)
		if !seen[ev.ID+w] {
			t.Fatalf("detection %s never delivered:\n%s", ev.ID, stderr)
		}
	}
	if len(rc.bodies) != len(want) {
		t.Fatalf("%d bodies delivered, want %d", len(rc.bodies), len(want))
	}
	if !strings.Contains(stderr, fmt.Sprintf("sink webhook   %d events handed over, 0 dropped (queue full), 0 failed", len(want))) {
		t.Fatalf("summary:\n%s", stderr)
	}
	t.Logf("webhook: %d detections delivered exactly once through %d requests (faults injected: %v)", len(rc.bodies), rc.n, rc.faults)
}

// TestWebhookSlackTemplate renders the Slack preset for high and critical
// detections only: each body is {"text": ...} naming the class and
// endpoint, and carries no raw sensitive value of the capture.
func TestWebhookSlackTemplate(t *testing.T) {
	rc := &receiver{plan: func(int) string { return "ok" }}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	capture := "../../testdata/pcaps/sensitive.pcap"
	want, _ := read(t, capture, "    url: "+srv.URL+"\n    preset: slack\n    min_severity: high\n")
	high := 0
	for _, w := range want {
		if strings.Contains(w, `"severity":"high"`) || strings.Contains(w, `"severity":"critical"`) {
			high++
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if high == 0 || len(rc.bodies) != high {
		t.Fatalf("%d messages, want the %d high and critical detections (of %d)", len(rc.bodies), high, len(want))
	}
	for _, b := range rc.bodies {
		var m map[string]string
		if err := json.Unmarshal([]byte(b), &m); err != nil || len(m) != 1 || !strings.HasPrefix(m["text"], ":rotating_light: *") {
			t.Fatalf("not a Slack message: %v %q", err, b)
		}
		for _, raw := range pcapgen.SensitiveValues {
			if strings.Contains(b, raw) {
				t.Fatalf("raw value %q in a webhook message: %s", raw, b)
			}
		}
	}
	t.Logf("webhook slack preset: %d messages for the %d high/critical detections (of %d), e.g. %s", len(rc.bodies), high, len(want), rc.bodies[0])
}

// TestWebhookSpool: the receiver is down during a first run, whose
// detections wait in the spool; a second run with the receiver up delivers
// them first, then its own. A receiver that rejects (400) is not retried.
func TestWebhookSpool(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	spool := filepath.Join(t.TempDir(), "spool")
	section := "    url: http://" + addr + "/hook\n    max_attempts: 2\n    spool: {dir: " + spool + "}\n"
	first, stderr := read(t, demo, section)
	if !strings.Contains(stderr, fmt.Sprintf("spool webhook  %d events", len(first))) {
		t.Fatalf("first run did not spool its %d detections:\n%s", len(first), stderr)
	}
	rc := &receiver{plan: func(int) string { return "ok" }}
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: rc}}
	srv.Start()
	defer srv.Close()
	second, stderr := read(t, "../../testdata/pcaps/sensitive.pcap", section)
	if !strings.Contains(stderr, "spool webhook  0 events") {
		t.Fatalf("second run left events in the spool:\n%s", stderr)
	}
	rc.mu.Lock()
	got := append([]string(nil), rc.bodies...)
	rc.mu.Unlock()
	if len(got) != len(first)+len(second) {
		t.Fatalf("%d delivered, want %d spooled + %d new", len(got), len(first), len(second))
	}
	ids := func(evs []string) map[string]bool {
		m := map[string]bool{}
		for _, e := range evs {
			m[e] = true
		}
		return m
	}
	spooled, fresh := ids(first), ids(second)
	for i, b := range got {
		if (i < len(first) && !spooled[b]) || (i >= len(first) && !fresh[b]) {
			t.Fatalf("delivery %d out of order: the spooled run's %d detections must come first", i, len(first))
		}
	}
	t.Logf("webhook spool: %d detections spooled while the receiver was down, delivered before the next run's %d", len(first), len(second))

	rej := &receiver{plan: func(int) string { return "400" }}
	srv2 := httptest.NewServer(rej)
	defer srv2.Close()
	dets, _ := read(t, demo, "    url: "+srv2.URL+"\n")
	rej.mu.Lock()
	defer rej.mu.Unlock()
	if rej.n != len(dets) {
		t.Fatalf("a receiver answering 400 got %d requests for %d detections: rejected requests must not be retried", rej.n, len(dets))
	}
}
