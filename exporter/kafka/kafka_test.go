package kafka_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/apitap/apitap/exporter"
	"github.com/apitap/apitap/exporter/kafka"
	"github.com/apitap/apitap/internal/testutil/eventtest"
	"github.com/apitap/apitap/sensor/cli"
)

// startBroker builds and starts kfakebroker (franz-go's kfake) as its own
// process on a free loopback port and returns its address.
func startBroker(t testing.TB) string {
	t.Helper()
	return startBrokerOn(t, 0)
}

// startBrokerOn starts the broker on a given port (0: a free one).
func startBrokerOn(t testing.TB, port int) string {
	t.Helper()
	return startBrokerArgs(t, "-port", strconv.Itoa(port))
}

// startBrokerArgs starts the broker with extra flags.
func startBrokerArgs(t testing.TB, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kfakebroker")
	if out, err := exec.Command("go", "build", "-o", bin, "../../tools/kfakebroker").CombinedOutput(); err != nil {
		t.Fatalf("build kfakebroker: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, append([]string{"-partitions", "3"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening ") {
		t.Fatalf("kfakebroker: %q %v", line, err)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "listening "))
}

// readTopic reads every message of a topic's partitions until none
// arrives for a while.
func readTopic(t *testing.T, broker, topic string, partitions int) []kafkago.Message {
	t.Helper()
	var out []kafkago.Message
	for p := 0; p < partitions; p++ {
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			m, err := r.ReadMessage(ctx)
			cancel()
			if err != nil {
				break
			}
			out = append(out, m)
		}
		r.Close()
	}
	return out
}

func header(m kafkago.Message, k string) string {
	for _, h := range m.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

// TestReadToKafka reads the demo capture with --kafka-brokers against a
// real Kafka-protocol broker and reads the events back with a kafka-go
// consumer: topics, keys, headers, schema and order per key.
func TestReadToKafka(t *testing.T) {
	broker := startBroker(t)
	var stdout, stderr bytes.Buffer
	code := cli.Main([]string{"read", "--kafka-brokers", broker, "--emit", "transaction,stats", "--workers", "1", "--sensor-id", "kt", "../../testdata/demo/demo.pcap"},
		&cli.IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "sink kafka") || !strings.Contains(stderr.String(), "0 dropped") {
		t.Fatalf("summary lacks the sink line:\n%s", stderr.String())
	}
	txs := readTopic(t, broker, "apitap.transactions", 3)
	if len(txs) != 464 {
		t.Fatalf("%d transaction messages, want 464", len(txs))
	}
	lastSeq := map[string]int{}
	for _, m := range txs {
		eventtest.Validate(t, m.Value)
		var ev struct {
			Seq  int `json:"seq"`
			Flow struct {
				ID string `json:"id"`
			} `json:"flow"`
		}
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			t.Fatal(err)
		}
		if string(m.Key) != ev.Flow.ID {
			t.Fatalf("key %q, flow %q", m.Key, ev.Flow.ID)
		}
		if header(m, "schema") != "apitap/v1" || header(m, "sensor") != "kt" || header(m, "type") != "transaction" {
			t.Fatalf("headers %v", m.Headers)
		}
		if prev, ok := lastSeq[ev.Flow.ID]; ok && ev.Seq != prev+1 {
			t.Fatalf("flow %s: seq %d after %d: out of order", ev.Flow.ID, ev.Seq, prev)
		}
		lastSeq[ev.Flow.ID] = ev.Seq
	}
	stats := readTopic(t, broker, "apitap.stats", 3)
	if len(stats) != 1 || !bytes.Contains(stats[0].Value, []byte(`"final":true`)) || string(stats[0].Key) != "kt" {
		t.Fatalf("stats messages: %d", len(stats))
	}
	// the same events went to stdout
	if n := strings.Count(stdout.String(), `"type":"transaction"`); n != 464 {
		t.Fatalf("stdout has %d transactions", n)
	}
}

// TestAttackEventsToKafka reads the demo capture, which holds attacks,
// with every event type: detections are keyed by actor, blocklist entries
// by <type>:<value>, endpoints by their id and sensor, and every message validates
// against its schema and carries the schema, sensor and type headers.
func TestAttackEventsToKafka(t *testing.T) {
	broker := startBroker(t)
	// the demo's attackers use documentation addresses, which are never
	// blocked; its abusive user is on a private network: opt in to those
	cfg := filepath.Join(t.TempDir(), "apitap.yaml")
	os.WriteFile(cfg, []byte("blocklist:\n  never_block: {private: false}\n"), 0o644)
	var stdout, stderr bytes.Buffer
	code := cli.Main([]string{"read", "--kafka-brokers", broker, "--config", cfg, "--emit", "all", "--workers", "1", "--sensor-id", "ka", "../../testdata/demo/demo.pcap"},
		&cli.IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	counts := map[string]int{}
	for topic, typ := range map[string]string{"apitap.detections": "detection", "apitap.blocklist": "blocklist", "apitap.inventory": "endpoint"} {
		for _, m := range readTopic(t, broker, topic, 3) {
			eventtest.Validate(t, m.Value)
			if header(m, "schema") != "apitap/v1" || header(m, "sensor") != "ka" || header(m, "type") != typ {
				t.Fatalf("%s: headers %v", topic, m.Headers)
			}
			var ev struct {
				ID    string `json:"id"`
				Key   string `json:"key"`
				Actor struct {
					IP      string `json:"ip"`
					User    string `json:"user"`
					APIKey  string `json:"api_key"`
					Session string `json:"session"`
					Type    string `json:"type"`
					Value   string `json:"value"`
				} `json:"actor"`
			}
			json.Unmarshal(m.Value, &ev)
			want := ""
			switch typ {
			case "detection": // the most specific identity
				switch a := ev.Actor; {
				case a.User != "":
					want = "user:" + a.User
				case a.APIKey != "":
					want = "api_key:" + a.APIKey
				case a.Session != "":
					want = "session:" + a.Session
				case a.IP != "":
					want = "ip:" + a.IP
				default:
					want = "unknown"
				}
			case "blocklist":
				want = ev.Actor.Type + ":" + ev.Actor.Value
			case "endpoint": // every sensor's latest event survives compaction
				want = ev.ID + "@ka"
			}
			if string(m.Key) != want {
				t.Fatalf("%s: key %q, want %q", topic, m.Key, want)
			}
			counts[typ]++
		}
	}
	t.Logf("messages: %v", counts)
	// 20 endpoints: the demo's GET /v1/files is only ever a path traversal
	// probe; 5 gRPC methods and one of them again under the server's
	// address (a connection joined mid-stream); 3 GraphQL and WebSocket
	// endpoints on graph.shop.example
	if counts["detection"] == 0 || counts["blocklist"] == 0 || counts["endpoint"] != 20 {
		t.Fatalf("messages by type: %v", counts)
	}
	if !strings.Contains(stdout.String(), `"class":"sqli"`) {
		t.Error("the demo's SQL injections were not detected")
	}
}

// BenchmarkSinkZstd measures export throughput to a real (kfake) broker:
// transaction-sized events, zstd, acks=all, through the exporter's queue.
func BenchmarkSinkZstd(b *testing.B) {
	broker := startBroker(b)
	sink, err := kafka.New(kafka.Config{Brokers: []string{broker}, Compression: "zstd"}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	line, err := os.ReadFile("../../testdata/golden/basic.pcap.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	value := bytes.SplitN(line, []byte("\n"), 2)[0]
	fan := exporter.New(exporter.Options{Block: true, Batch: 1000}, sink)
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fan.Add(exporter.Record{Type: "transaction", Key: strconv.Itoa(i % 512), Value: value})
	}
	if err := fan.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if _, failed := fan.Drops(); failed > 0 {
		b.Fatalf("%d failed", failed)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestSpoolOutageAndRestart: the broker is down while a first sensor run
// reads a capture, so its events go to the spool; then the broker comes up
// and a second run, on the same spool, delivers the first run's events
// before its own: none lost, in order per key.
func TestSpoolOutageAndRestart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dir := filepath.Join(t.TempDir(), "spool")
	run := func(capture string) string {
		var stdout, stderr bytes.Buffer
		code := cli.Main([]string{"read", "--kafka-brokers", addr, "--spool-dir", dir, "--emit", "transaction,stats", "--workers", "1", "--sensor-id", "sp", "../../testdata/pcaps/" + capture},
			&cli.IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", capture, code, stderr.String())
		}
		return stderr.String()
	}
	out := run("basic.pcap") // broker down: 3 transactions + stats spooled
	if !strings.Contains(out, "spool kafka    4 events") {
		t.Fatalf("first run did not spool its 4 events:\n%s", out)
	}
	broker := startBrokerOn(t, port)
	out = run("pipelining.pcap") // replays the spool, then its own 4 + stats
	if !strings.Contains(out, "spool kafka    0 events") {
		t.Fatalf("second run left events in the spool:\n%s", out)
	}
	txs := readTopic(t, broker, "apitap.transactions", 3)
	if len(txs) != 7 {
		t.Fatalf("%d transactions in Kafka, want 3 + 4", len(txs))
	}
	// both captures have the same flow (the generator's fixed addresses and
	// time), hence one key: its order shows the spooled run came first
	var seqs []int
	for _, m := range txs {
		var ev struct {
			Seq int `json:"seq"`
		}
		json.Unmarshal(m.Value, &ev)
		seqs = append(seqs, ev.Seq)
	}
	if fmt.Sprint(seqs) != "[0 1 2 0 1 2 3]" {
		t.Fatalf("order in the partition: %v, want the 3 spooled then the 4 new", seqs)
	}
	if stats := readTopic(t, broker, "apitap.stats", 3); len(stats) != 2 {
		t.Fatalf("%d stats events, want 2", len(stats))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(left) != 0 {
		t.Fatalf("spool files left: %v", left)
	}
}

// writeCerts makes a CA, a server certificate for 127.0.0.1 and a client
// certificate, as PEM files in dir.
func writeCerts(t *testing.T, dir string) (ca, srvCert, srvKey, cliCert, cliKey string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "apitap test CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
		return p
	}
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(k)
		return write(name+".crt", "CERTIFICATE", der), write(name+".key", "EC PRIVATE KEY", kb)
	}
	ca = write("ca.crt", "CERTIFICATE", caDER)
	srvCert, srvKey = leaf("broker", 2, x509.ExtKeyUsageServerAuth)
	cliCert, cliKey = leaf("apitap", 3, x509.ExtKeyUsageClientAuth)
	return
}

// TestMTLSAndSCRAM exports to a broker that requires a client certificate
// and SCRAM-SHA-512; a wrong password delivers nothing and says so.
func TestMTLSAndSCRAM(t *testing.T) {
	dir := t.TempDir()
	ca, sc, sk, cc, ck := writeCerts(t, dir)
	broker := startBrokerArgs(t, "-sasl-mechanism", "SCRAM-SHA-512", "-sasl-user", "sensor", "-sasl-password", "s3cret",
		"-tls-cert", sc, "-tls-key", sk, "-tls-client-ca", ca)
	os.WriteFile(filepath.Join(dir, "pw"), []byte("s3cret\n"), 0o600)
	conf := func(pwfile string) string {
		p := filepath.Join(dir, "apitap.yaml")
		os.WriteFile(p, []byte(fmt.Sprintf("exporters:\n  kafka:\n    brokers: [%q]\n    max_attempts: 2\n    tls:\n      enabled: true\n      ca_file: %s\n      cert_file: %s\n      key_file: %s\n    sasl:\n      mechanism: SCRAM-SHA-512\n      username: sensor\n      password_file: %s\n",
			broker, ca, cc, ck, pwfile)), 0o600)
		return p
	}
	var stdout, stderr bytes.Buffer
	code := cli.Main([]string{"read", "--config", conf(filepath.Join(dir, "pw")), "--emit", "transaction", "--workers", "1", "--sensor-id", "tls", "../../testdata/pcaps/basic.pcap"},
		&cli.IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	tlsCfg, err := kafka.TLSConfig{Enabled: true, CAFile: ca, CertFile: cc, KeyFile: ck}.Config()
	if err != nil {
		t.Fatal(err)
	}
	mech, err := kafka.SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "sensor", Password: "s3cret"}.Build()
	if err != nil {
		t.Fatal(err)
	}
	dialer := &kafkago.Dialer{Timeout: 5 * time.Second, TLS: tlsCfg, SASLMechanism: mech}
	var got int
	for p := 0; p < 3; p++ {
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{broker}, Topic: "apitap.transactions", Partition: p, MaxWait: 100 * time.Millisecond, Dialer: dialer})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := r.ReadMessage(ctx)
			cancel()
			if err != nil {
				break
			}
			got++
		}
		r.Close()
	}
	if got != 3 {
		t.Fatalf("%d transactions read over mTLS+SCRAM, want 3", got)
	}
	os.WriteFile(filepath.Join(dir, "bad"), []byte("wrong\n"), 0o600)
	stderr.Reset()
	code = cli.Main([]string{"read", "--config", conf(filepath.Join(dir, "bad")), "--emit", "transaction", "--workers", "1", "../../testdata/pcaps/basic.pcap"},
		&cli.IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
	if code != 1 || !strings.Contains(stderr.String(), "could not be delivered") {
		t.Fatalf("wrong password: exit %d\n%s", code, stderr.String())
	}
}

// lockedBuffer is a bytes.Buffer safe for a child's writes and our reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startBrokerCmd starts the broker on a port and returns its process.
func startBrokerCmd(t *testing.T, port int) (*exec.Cmd, string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kfakebroker")
	if out, err := exec.Command("go", "build", "-o", bin, "../../tools/kfakebroker").CombinedOutput(); err != nil {
		t.Fatalf("build kfakebroker: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-partitions", "3", "-port", strconv.Itoa(port))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening ") {
		t.Fatalf("kfakebroker: %q %v", line, err)
	}
	return cmd, strings.TrimSpace(strings.TrimPrefix(line, "listening "))
}

// TestOutageMidStream stops the broker in the middle of a capture read
// from a pipe, keeps feeding, and brings a broker back on the same port
// before the input ends: every transaction arrives (those before the
// outage in the first broker, the rest, spooled on disk meanwhile, in the
// second), in order per flow.
func TestOutageMidStream(t *testing.T) {
	demo, err := os.ReadFile("../../testdata/demo/demo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	// cut the capture at a record boundary about half way
	cut := 24
	for cut < len(demo)/2 {
		cut += 16 + int(binary.LittleEndian.Uint32(demo[cut+8:]))
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	broker1, addr := startBrokerCmd(t, port)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("exporters:\n  kafka:\n    max_attempts: 2\n"), 0o644)
	bin := filepath.Join(dir, "apitap")
	if out, err := exec.Command("go", "build", "-o", bin, "../../sensor/cmd/apitap").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "read", "--config", cfg, "--kafka-brokers", addr, "--spool-dir", filepath.Join(dir, "spool"), "--emit", "transaction",
		"--workers", "1", "--sensor-id", "mid", "--log-level", "debug", "-")
	stdin, _ := cmd.StdinPipe()
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdin.Write(demo[:cut])
	// the first half's transactions reach the first broker
	var first []kafkago.Message
	for end := time.Now().Add(20 * time.Second); len(first) < 100 && time.Now().Before(end); {
		first = readTopic(t, addr, "apitap.transactions", 3)
	}
	// and all of them: the topic stops growing (what reaches the first
	// broker after the last read would be lost to the count)
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); {
		time.Sleep(500 * time.Millisecond)
		more := readTopic(t, addr, "apitap.transactions", 3)
		if len(more) == len(first) {
			break
		}
		first = more
	}
	if len(first) < 100 {
		t.Fatalf("only %d transactions before the outage\n%s", len(first), stderr.String())
	}
	broker1.Process.Kill()
	broker1.Wait()
	stdin.Write(demo[cut:]) // events now go to the spool
	time.Sleep(2 * time.Second)
	_, addr2 := startBrokerCmd(t, port)
	// the running sensor notices the broker is back and drains its spool
	for end := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), "spool drained") && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("apitap: %v\n%s", err, stderr.String())
	}
	second := readTopic(t, addr2, "apitap.transactions", 3)
	ids := map[string]int{}
	type ev struct {
		ID   string `json:"id"`
		Seq  int    `json:"seq"`
		Flow struct {
			ID string `json:"id"`
		} `json:"flow"`
	}
	lastSeq := map[string]int{}
	dups := 0
	for i, batch := range [][]kafkago.Message{first, second} {
		for _, m := range batch {
			var e ev
			json.Unmarshal(m.Value, &e)
			if ids[e.ID] > 0 {
				dups++ // at-least-once: a redelivery, deduplicated by id
				continue
			}
			ids[e.ID]++
			if prev, ok := lastSeq[e.Flow.ID]; ok && e.Seq <= prev {
				t.Fatalf("broker %d: flow %s seq %d after %d", i+1, e.Flow.ID, e.Seq, prev)
			}
			lastSeq[e.Flow.ID] = e.Seq
		}
	}
	t.Logf("before the outage %d transactions, after %d, duplicates %d, distinct %d", len(first), len(second), dups, len(ids))
	if len(ids) != 464 {
		t.Fatalf("%d distinct transactions delivered, want 464\n%s", len(ids), stderr.String())
	}
	if !strings.Contains(stderr.String(), "spool") {
		t.Errorf("the outage did not go through the spool:\n%s", stderr.String())
	}
}

// TestKilledSensorSpool kills (SIGKILL) a sensor whose broker is down
// after it spooled its events, then restarts it with the broker up: every
// transaction it had written reaches Kafka. A killed process loses only
// what it had not handed to the spool yet; what the spool wrote is in the
// page cache whatever the fsync policy (fsync matters for power loss).
func TestKilledSensorSpool(t *testing.T) {
	demo, err := os.ReadFile("../../testdata/demo/demo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("exporters:\n  kafka:\n    max_attempts: 1\n    spool:\n      fsync: never\n"), 0o644)
	bin := filepath.Join(dir, "apitap")
	if out, err := exec.Command("go", "build", "-o", bin, "../../sensor/cmd/apitap").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	events := filepath.Join(dir, "events.jsonl")
	cmd := exec.Command(bin, "read", "--config", cfg, "--kafka-brokers", addr, "--spool-dir", spoolDir, "--emit", "transaction",
		"--workers", "1", "--sensor-id", "killed", "-o", events, "-")
	stdin, _ := cmd.StdinPipe()
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdin.Write(demo) // and keep the pipe open: the sensor is still running
	// wait until the events file and the spool stop growing
	size := func() (n int64) {
		for _, p := range append([]string{events}, must(filepath.Glob(filepath.Join(spoolDir, "*")))...) {
			if st, err := os.Stat(p); err == nil {
				n += st.Size()
			}
		}
		return n
	}
	last, stable := int64(-1), 0
	for end := time.Now().Add(60 * time.Second); stable < 20 && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if n := size(); n == last && n > 0 {
			stable++
		} else {
			last, stable = n, 0
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	written, _ := os.ReadFile(events)
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(string(written)), "\n") {
		var e struct {
			ID string `json:"id"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.ID != "" {
			want = append(want, e.ID)
		}
	}
	if len(want) < 100 {
		t.Fatalf("only %d transactions written before the kill\n%s", len(want), stderr.String())
	}
	// restart with the broker up: the spool goes first
	broker := startBrokerOn(t, port)
	var out bytes.Buffer
	code := cli.Main([]string{"read", "--kafka-brokers", addr, "--spool-dir", spoolDir, "--emit", "transaction", "--workers", "1", "--sensor-id", "restarted",
		"--progress", "never", "../../testdata/pcaps/basic.pcap"}, &cli.IO{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &out})
	if code != 0 {
		t.Fatalf("restart: exit %d\n%s", code, out.String())
	}
	ids := map[string]bool{}
	for _, m := range readTopic(t, broker, "apitap.transactions", 3) {
		var e struct {
			ID     string `json:"id"`
			Sensor string `json:"sensor"`
		}
		json.Unmarshal(m.Value, &e)
		if e.Sensor == "killed" {
			ids[e.ID] = true
			if h := header(m, "sensor"); h != "killed" {
				t.Fatalf("a replayed event of sensor killed has the sensor header %q", h)
			}
		}
	}
	missing := 0
	for _, id := range want {
		if !ids[id] {
			missing++
		}
	}
	t.Logf("killed after writing %d transactions to its events file; %d distinct transactions of it delivered after the restart, %d of the written ones missing",
		len(want), len(ids), missing)
	if missing > 0 {
		t.Fatalf("%d of the %d transactions the killed sensor had written never reached Kafka", missing, len(want))
	}
}

func must[T any](v T, _ error) T { return v }
