package kafka_test

import (
	"bytes"
	"io"
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

// TestNoRawSensitiveValueReachesAnySink replays sensitive.pcap (cards,
// SSNs, IBANs, e-mails, phones, dates of birth, an IMEI, JWTs, cloud keys,
// a private key, passwords, Basic credentials, API keys and session
// cookies in every part of the traffic) through every sink apitap has:
// standard output, the events file, debug logs and the summary on
// standard error, every Kafka topic of a real broker, the disk spool, and
// the catalog in each format, an OCSF file and a webhook. No raw value may
// appear in any of them.
func TestNoRawSensitiveValueReachesAnySink(t *testing.T) {
	capture := "../../testdata/pcaps/sensitive.pcap"
	broker := startBroker(t)
	dir := t.TempDir()
	outputs := map[string][]byte{}
	run := func(name string, args ...string) {
		var stdout, stderr bytes.Buffer
		code := cli.Main(args, &cli.IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", name, code, stderr.String())
		}
		outputs[name+" stdout"] = stdout.Bytes()
		outputs[name+" stderr"] = stderr.Bytes()
	}

	events := filepath.Join(dir, "events.jsonl")
	run("read", "read", "--emit", "all", "--log-level", "debug", "--kafka-brokers", broker, "--workers", "2", "--sensor-id", "leak", "-o", events, capture)
	b, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	outputs["events file"] = b
	run("read to stdout", "read", "--emit", "all", "--workers", "1", "--progress", "always", capture)
	for _, topic := range []string{"apitap.detections", "apitap.blocklist", "apitap.inventory", "apitap.actors", "apitap.transactions", "apitap.stats"} {
		var all []byte
		for _, m := range readTopic(t, broker, topic, 3) {
			all = append(append(append(all, m.Key...), ' '), m.Value...)
			for _, h := range m.Headers {
				all = append(append(all, h.Value...), ' ')
			}
			all = append(all, '\n')
		}
		outputs["kafka "+topic] = all
	}
	if len(outputs["kafka apitap.detections"]) == 0 || len(outputs["kafka apitap.inventory"]) == 0 {
		t.Fatal("no detections or endpoints reached Kafka: the test would prove nothing")
	}

	// Kafka down: events wait in the spool on disk
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	spool := filepath.Join(dir, "spool")
	run("spool", "read", "--emit", "all", "--kafka-brokers", dead, "--spool-dir", spool, "--workers", "1", capture)
	segs, _ := filepath.Glob(filepath.Join(spool, "*"))
	if len(segs) == 0 {
		t.Fatal("nothing spooled")
	}
	for _, f := range segs {
		b, _ := os.ReadFile(f)
		outputs["spool "+filepath.Base(f)] = b
	}

	// the other sinks: an OCSF file, a webhook receiving every type
	var mu sync.Mutex
	var posted []byte
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posted = append(append(posted, b...), '\n')
		mu.Unlock()
	}))
	defer hook.Close()
	ocsfFile := filepath.Join(dir, "ocsf.jsonl")
	cfg := filepath.Join(dir, "sinks.yaml")
	os.WriteFile(cfg, []byte("exporters:\n  file:\n    path: "+ocsfFile+"\n    format: ocsf\n  webhook:\n    url: "+hook.URL+"\n    types: [transaction, endpoint, detection, blocklist, actor, stats]\n    batch: 100\n"), 0o600)
	run("sinks", "read", "--emit", "all", "--config", cfg, "--workers", "1", capture)
	if b, err = os.ReadFile(ocsfFile); err != nil || len(b) == 0 {
		t.Fatalf("OCSF file: %v", err)
	}
	outputs["ocsf file"] = b
	mu.Lock()
	outputs["webhook"] = posted
	mu.Unlock()
	if len(outputs["webhook"]) == 0 {
		t.Fatal("nothing posted to the webhook")
	}

	for _, format := range []string{"table", "json", "openapi", "openapi-json"} {
		run("catalog "+format, "catalog", "--format", format, capture)
	}

	// the detections the capture must cause, so the greps are not vacuous
	det := string(outputs["events file"])
	for _, class := range []string{"pii_in_url", "plaintext_credentials", "sensitive_data", "info_leak", "jwt_weakness"} {
		if !strings.Contains(det, `"class":"`+class+`"`) {
			t.Errorf("no %s detection", class)
		}
	}
	checked := 0
	for name, out := range outputs {
		for _, raw := range pcapgen.SensitiveValues {
			if bytes.Contains(out, []byte(raw)) {
				i := bytes.Index(out, []byte(raw))
				t.Errorf("%s: raw value %q found: ...%s...", name, raw, out[max(0, i-120):min(len(out), i+len(raw)+40)])
			}
			checked++
		}
	}
	t.Logf("%d outputs, %d values: %d checks; %d bytes of events, %d Kafka messages of detections",
		len(outputs), len(pcapgen.SensitiveValues), checked, len(outputs["events file"]), bytes.Count(outputs["kafka apitap.detections"], []byte("\n")))
}
