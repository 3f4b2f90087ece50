//go:build linux

package cli

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testutil/eventtest"
	"github.com/apitap/apitap/internal/testutil/netnstest"
)

// TestHelperHTTPServer serves HTTP inside a namespace for TestRunCommand.
func TestHelperHTTPServer(t *testing.T) {
	addr := os.Getenv("APITAP_HELPER_ADDR")
	if addr == "" {
		t.Skip("helper process for TestRunCommand")
	}
	netnstest.ServeHTTP(addr)
}

// TestRunCommand builds apitap, runs `apitap run` on a veth, sends traffic,
// stops it with SIGTERM and checks it flushed every transaction and the
// final stats event, and exited 0.
func TestRunCommand(t *testing.T) {
	n := netnstest.New(t)
	addr := n.PeerIP + ":8080"
	n.StartServer(t, addr, "TestHelperHTTPServer")

	dir := t.TempDir()
	bin := buildApitap(t, dir)
	events := filepath.Join(dir, "events.jsonl")
	conf := filepath.Join(dir, "apitap.yaml")
	if err := os.WriteFile(conf, []byte("analyzers:\n  discovery:\n    report_interval: 1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminAddr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "run", "-i", n.Host, "--workers", "2", "--ring-mb", "8", "--emit", "transaction,stats,endpoint", "--config", conf,
		"--sensor-id", "live", "--stats-interval", "1s", "-o", events, "--admin-addr", adminAddr)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// wait until it says it is capturing
	for end := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "capturing"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			cmd.Process.Kill()
			t.Fatalf("apitap run did not start:\n%s", stderr.String())
		}
	}
	// it runs without any capability once capturing
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "CapEff:") || strings.HasPrefix(l, "CapPrm:") {
			if f := strings.Fields(l); len(f) != 2 || strings.Trim(f[1], "0") != "" {
				t.Errorf("capabilities left: %s", l)
			}
		}
		if strings.HasPrefix(l, "NoNewPrivs:") && !strings.HasSuffix(l, "1") {
			t.Errorf("no_new_privs not set: %s", l)
		}
	}
	client := &http.Client{}
	for i := 0; i < 12; i++ {
		resp, err := client.Get(fmt.Sprintf("http://%s/v1/orders/%d", addr, i))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// Events stream out while it runs (flushed every second), with a
	// periodic stats event and the catalog's new endpoint; the connection
	// is left open on purpose.
	var live []byte
	newEndpoint := `"change":"new","host":"` + addr + `","method":"GET","path":"/v1/orders/{orderId}"`
	ready := func() bool {
		return strings.Count(string(live), `"type":"transaction"`) == 12 && strings.Contains(string(live), `"final":false`) &&
			strings.Contains(string(live), newEndpoint)
	}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		live, _ = os.ReadFile(events)
		if ready() {
			break
		}
	}
	// the admin server: metrics, readiness and the live catalog
	adminGet := func(path string) string {
		resp, err := http.Get("http://" + adminAddr + path)
		if err != nil {
			t.Fatalf("admin %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("admin %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	if ready() {
		adminGet("/readyz")
		for _, want := range []string{"apitap_transactions_total 12", "apitap_packets_total ", "apitap_flows_open ", "apitap_source_packets_total{source="} {
			for end := time.Now().Add(5 * time.Second); !strings.Contains(adminGet("/metrics"), want) && time.Now().Before(end); {
				time.Sleep(100 * time.Millisecond)
			}
			if m := adminGet("/metrics"); !strings.Contains(m, want) {
				t.Errorf("/metrics lacks %q:\n%s", want, m)
			}
		}
		if c := adminGet("/api/catalog"); !strings.Contains(c, `"path": "/v1/orders/{orderId}"`) {
			t.Errorf("/api/catalog:\n%s", c)
		}
		if o := adminGet("/api/catalog/openapi"); !strings.Contains(o, "openapi: 3.1.0") {
			t.Errorf("/api/catalog/openapi:\n%s", o)
		}
	}
	if !ready() {
		cmd.Process.Kill()
		t.Fatalf("while running, the events file has:\n%s", live)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("apitap run: %v\n%s", err, stderr.String())
	}
	out, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	eventtest.ValidateStream(t, bytes.NewReader(out))
	if n := strings.Count(string(out), `"type":"transaction"`); n != 12 {
		t.Fatalf("%d transactions, want 12:\n%s\n%s", n, out, stderr.String())
	}
	if !strings.Contains(string(out), `"change":"final","host":"`+addr+`","method":"GET","path":"/v1/orders/{orderId}"`) {
		t.Errorf("no final endpoint event:\n%s", out)
	}
	if !strings.Contains(string(out), `"final":true`) || !strings.Contains(stderr.String(), "kernel") || !strings.Contains(stderr.String(), "kept by port   8080 ") {
		t.Fatalf("no final stats or summary:\n%s\n%s", out, stderr.String())
	}
}

// buildApitap builds the static binary into dir.
func buildApitap(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "apitap")
	build := exec.Command("go", "build", "-o", bin, "../cmd/apitap")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestRunSIGHUP starts `apitap run` with a configuration selecting another
// port (nothing is captured), rewrites it to select the server's port and
// sends SIGHUP: the next requests are captured, without a restart.
func TestRunSIGHUP(t *testing.T) {
	n := netnstest.New(t)
	addr := n.PeerIP + ":8080"
	n.StartServer(t, addr, "TestHelperHTTPServer")
	dir := t.TempDir()
	bin := buildApitap(t, dir)
	conf := filepath.Join(dir, "apitap.yaml")
	os.WriteFile(conf, []byte("capture:\n  ports: [9999]\noutput:\n  emit: [transaction]\n"), 0o644)
	events := filepath.Join(dir, "events.jsonl")
	cmd := exec.Command(bin, "run", "-i", n.Host, "--workers", "1", "--ring-mb", "8", "--config", conf, "-o", events)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, "capturing", func() bool { return strings.Contains(stderr.String(), "capturing") })
	get := func(prefix string) {
		client := &http.Client{}
		for i := 0; i < 3; i++ {
			resp, err := client.Get(fmt.Sprintf("http://%s/%s/%d", addr, prefix, i))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		client.CloseIdleConnections()
	}
	get("before")
	time.Sleep(1500 * time.Millisecond) // events are flushed every second
	os.WriteFile(conf, []byte("capture:\n  ports: [8080]\noutput:\n  emit: [transaction]\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "reload", func() bool { return strings.Contains(stderr.String(), "configuration reloaded") })
	get("after")
	count := func() int {
		b, _ := os.ReadFile(events)
		return strings.Count(string(b), `"type":"transaction"`)
	}
	waitFor(t, "3 transactions", func() bool { return count() >= 3 })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("apitap run: %v\n%s", err, stderr.String())
	}
	b, _ := os.ReadFile(events)
	if count() != 3 || strings.Contains(string(b), "/before/") || strings.Count(string(b), "/after/") != 3 {
		t.Fatalf("want the 3 requests after the reload only:\n%s\n%s", b, stderr.String())
	}
}

// syncBuffer is a bytes.Buffer safe to write from a child's copier while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunUsage(t *testing.T) {
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"run"}, "no interface given"},
		{[]string{"run", "-i", "nonexistent0"}, "-i nonexistent0"},
		{[]string{"run", "-i", "lo", "x.pcap"}, "apitap read"},
		{[]string{"run", "-i", "lo", "--ring-mb", "1"}, "--ring-mb"},
		{[]string{"run", "-i", "any", "-i", "lo"}, "already captures every interface"},
		{[]string{"run", "-i", "lo", "--source", "dpdk"}, "--source"},
		{[]string{"run", "-i", "lo", "--bpf", "tcp port 80", "--ports", "80"}, "either --bpf or"},
		{[]string{"run", "-i", "lo", "--sample", "2000"}, "--sample"},
		{[]string{"run", "-i", "lo", "--allow", "10.0.0.0/33"}, "bad CIDR"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(t, nil, c.args...)
		if code != ExitUsage || !strings.Contains(string(errOut), c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errOut, c.msg)
		}
	}
	if code, out, _ := runCLI(t, nil, "help", "run"); code != 0 || !strings.Contains(string(out), "PACKET_FANOUT_HASH") {
		t.Errorf("help run: %d %s", code, out)
	}
}

// TestRunEBPFFallback runs apitap without CAP_BPF and CAP_SYS_ADMIN, so the
// kernel refuses the eBPF pre-filter: it says so and captures everything;
// with a port selection, a build without libpcap refuses to start, and a
// build with it falls back to a classic BPF filter.
func TestRunEBPFFallback(t *testing.T) {
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_bpf_disabled"); err != nil || strings.TrimSpace(string(b)) == "0" {
		t.Skip("unprivileged eBPF is allowed here: the kernel can not be made to refuse the program")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux) to drop CAP_BPF")
	}
	n := netnstest.New(t)
	addr := n.PeerIP + ":8080"
	n.StartServer(t, addr, "TestHelperHTTPServer")
	dir := t.TempDir()
	plain := buildApitap(t, dir)

	run := func(bin string, extra ...string) (string, string, error) {
		events := filepath.Join(dir, "fallback.jsonl")
		os.Remove(events)
		args := append([]string{"--bounding-set", "-bpf,-sys_admin,-perfmon", bin, "run", "-i", n.Host, "--workers", "1", "--ring-mb", "8", "--emit", "transaction", "-o", events}, extra...)
		cmd := exec.Command("setpriv", args...)
		stderr := &syncBuffer{}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if strings.Contains(stderr.String(), "capturing") {
				break
			}
			select {
			case err := <-exited:
				return "", stderr.String(), err
			default:
			}
			if time.Now().After(end) {
				cmd.Process.Kill()
				t.Fatalf("no start:\n%s", stderr.String())
			}
		}
		// under load the first packets after "capturing" were sometimes
		// missed (the connection was then joined mid-stream): give the
		// sockets a moment
		time.Sleep(300 * time.Millisecond)
		client := &http.Client{}
		for i := 0; i < 4; i++ {
			resp, err := client.Get(fmt.Sprintf("http://%s/fallback/%d", addr, i))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		client.CloseIdleConnections()
		time.Sleep(1500 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGTERM)
		err := <-exited
		b, _ := os.ReadFile(events)
		return string(b), stderr.String(), err
	}

	out, errOut, err := run(plain)
	if err == nil && strings.Count(out, "/fallback/") == 0 {
		// Seen once in CI, under load: the run captured the veth's own
		// neighbour traffic but none of the requests. Cause unknown (see the
		// closing note); one retry tells a flake from a broken fallback.
		t.Logf("no transactions on the first try, retrying:\n%s", errOut)
		out, errOut, err = run(plain)
	}
	if err != nil || !strings.Contains(errOut, "eBPF pre-filter unavailable; capturing everything") || strings.Count(out, "/fallback/") != 4 {
		t.Fatalf("no selection: err %v, %d transactions\n%s", err, strings.Count(out, "/fallback/"), errOut)
	}
	_, errOut, err = run(plain, "--ports", "8080")
	if err == nil || !strings.Contains(errOut, "classic fallback is not possible") {
		t.Fatalf("selection without libpcap: err %v\n%s", err, errOut)
	}
	if _, err := os.Stat("/usr/include/pcap.h"); err != nil {
		t.Skip("libpcap-dev missing: the classic fallback is not tested")
	}
	withPcap := filepath.Join(dir, "apitap-pcap")
	if b, err := exec.Command("go", "build", "-tags", "pcap", "-o", withPcap, "../cmd/apitap").CombinedOutput(); err != nil {
		t.Fatalf("build -tags pcap: %v\n%s", err, b)
	}
	out, errOut, err = run(withPcap, "--ports", "8080")
	if err != nil || !strings.Contains(errOut, "falling back to a classic BPF filter") || strings.Count(out, "/fallback/") != 4 {
		t.Fatalf("classic fallback: err %v, %d transactions\n%s", err, strings.Count(out, "/fallback/"), errOut)
	}
	out, _, _ = run(withPcap, "--ports", "9999")
	if strings.Count(out, "/fallback/") != 0 {
		t.Fatalf("the classic filter let port 8080 through:\n%s", out)
	}
}
