package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// uprobeRun is apitap run --tls-uprobes on the rig's veth.
type uprobeRun struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	events string
	admin  string
	// serverIP is the namespace's address: transactions with others are
	// other programs' on this machine
	serverIP string
}

// startUprobes starts apitap run with the TLS uprobes; it skips the test,
// in one line, where the kernel refuses them.
func startUprobes(t *testing.T, r *tlsRig) *uprobeRun {
	dir := t.TempDir()
	bin := buildApitap(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &uprobeRun{stderr: &syncBuffer{}, events: filepath.Join(dir, "events.jsonl"), admin: l.Addr().String(), serverIP: r.n.PeerIP}
	l.Close()
	u.cmd = exec.Command(bin, "run", "-i", r.n.Host, "--workers", "1", "--ring-mb", "8", "--emit", "transaction,stats",
		"--tls-uprobes", "--log-level", "debug", "-o", u.events, "--admin-addr", u.admin)
	u.cmd.Stderr = u.stderr
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		u.cmd.Process.Kill()
		u.cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(u.events)
			t.Logf("apitap run:\n%s\nevents:\n%s", u.stderr.String(), b)
		}
	})
	waitFor(t, "apitap run to capture", func() bool { return strings.Contains(u.stderr.String(), "capturing") })
	if s := u.stderr.String(); strings.Contains(s, "TLS uprobes") && strings.Contains(s, "going on without them") {
		i := strings.Index(s, "TLS uprobes")
		t.Skipf("the kernel refuses uprobes here: %s", strings.SplitN(s[i:], "\n", 2)[0])
	}
	return u
}

// stop ends apitap run and returns its transactions read from processes
// and the final stats event's tls counters.
func (u *uprobeRun) stop(t *testing.T) (txs []uprobeTx, tlsCounters map[string]uint64) {
	u.cmd.Process.Signal(syscall.SIGTERM)
	if err := u.cmd.Wait(); err != nil {
		t.Fatalf("apitap run: %v\n%s", err, u.stderr.String())
	}
	b, _ := os.ReadFile(u.events)
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.Contains(l, `"final":true`):
			var st struct {
				TLS map[string]uint64 `json:"tls"`
			}
			json.Unmarshal([]byte(l), &st)
			tlsCounters = st.TLS
		case strings.Contains(l, `"source":"uprobe"`):
			var tx uprobeTx
			if err := json.Unmarshal([]byte(l), &tx); err != nil {
				t.Fatalf("%v: %s", err, l)
			}
			// the probes read every process of the machine: other tests'
			// HTTPS is not this test's
			if tx.Flow.Server.IP == u.serverIP || tx.Flow.Client.IP == u.serverIP {
				txs = append(txs, tx)
			}
		case strings.Contains(l, `"type":"transaction"`):
			t.Errorf("a transaction not read by the probes: %s", l)
		}
	}
	return txs, tlsCounters
}

// uprobeTx is what the test reads of a transaction event.
type uprobeTx struct {
	Flow struct {
		Client, Server struct {
			IP   string `json:"ip"`
			Port int    `json:"port"`
		}
	} `json:"flow"`
	Method, Path, Query string
	Status              int
	TLS                 struct {
		Library string `json:"library"`
		PID     int    `json:"pid"`
		Process string `json:"process"`
	} `json:"tls"`
}

// count counts the transactions with the namespace read by the probes.
func (u *uprobeRun) count() int {
	b, _ := os.ReadFile(u.events)
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, `"source":"uprobe"`) && strings.Contains(l, `"ip":"`+u.serverIP+`"`) {
			n++
		}
	}
	return n
}

func (u *uprobeRun) get(t *testing.T, path string) []byte {
	resp, err := http.Get("http://" + u.admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// checkUprobeTxs checks that the transactions are exactly the requests
// made (paths, in any order), each complete and between the right client
// and server addresses.
func checkUprobeTxs(t *testing.T, txs []uprobeTx, want []string, clientIP, serverIP string, serverPort int, lib string) {
	t.Helper()
	var got []string
	for _, tx := range txs {
		r := tx.Method + " " + tx.Path
		if tx.Query != "" {
			r += "?" + tx.Query
		}
		got = append(got, r)
		c, s := tx.Flow.Client, tx.Flow.Server
		if c.IP != clientIP || s.IP != serverIP || s.Port != serverPort || c.Port == 0 || c.Port == serverPort {
			t.Errorf("%s: client %s:%d, server %s:%d; want client %s, server %s:%d", r, c.IP, c.Port, s.IP, s.Port, clientIP, serverIP, serverPort)
		}
		if tx.Status == 0 {
			t.Errorf("%s: no response", r)
		}
		if tx.TLS.Library != lib || tx.TLS.PID == 0 || tx.TLS.Process == "" {
			t.Errorf("%s: tls %+v, want library %s with its process", r, tx.TLS, lib)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transactions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// curlWant is what curlTLS requests.
func curlWant() []string {
	var w []string
	for _, p := range tlsPaths {
		w = append(w, "GET "+p)
	}
	return append(w, "POST /v1/orders")
}

// TestUprobesOpenSSL: curl (OpenSSL) against nginx (OpenSSL) and against
// openssl s_server -www in a network namespace, TLS 1.3 and 1.2, with
// apitap run --tls-uprobes: every HTTPS transaction is read in clear once
// (both ends are traced: the other end's copy is counted as a duplicate),
// with the right client and server addresses; /api/tls and the metrics
// list the processes.
func TestUprobesOpenSSL(t *testing.T) {
	r := startTLSRig(t)
	if !r.hasNginx {
		t.Skip("needs nginx (apt-get install nginx; .ci/run installs it)")
	}
	// openssl s_server -www: one request per connection, answered with a
	// page of its state (HTTP/1.0, close-delimited)
	ss := r.n.Exec("openssl", "s_server", "-www", "-accept", "4433", "-cert", filepath.Join(r.dir, "cert.pem"), "-key", filepath.Join(r.dir, "key.pem"), "-quiet")
	if err := ss.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Process.Kill(); ss.Wait() })
	u := startUprobes(t, r)
	var want []string
	for _, v := range []string{"--tlsv1.3", "--tls-max"} {
		args := []string{v}
		if v == "--tls-max" {
			args = []string{"--tls-max", "1.2"}
		}
		curlTLS(t, r.n.PeerIP, tlsPortNginx, "", args...)
		want = append(want, curlWant()...)
	}
	for i := 0; i < 3; i++ {
		out, err := exec.Command("curl", "-sk", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", fmt.Sprintf("https://%s:4433/s_server/%d", r.n.PeerIP, i)).CombinedOutput()
		if err != nil || string(out) != "200" {
			t.Fatalf("curl s_server: %v %s", err, out)
		}
		want = append(want, fmt.Sprintf("GET /s_server/%d", i))
	}
	waitFor(t, "the transactions", func() bool { return u.count() >= len(want) })
	cov := u.get(t, "/api/tls")
	metrics := u.get(t, "/metrics")
	time.Sleep(time.Second) // nothing more comes
	txs, ctr := u.stop(t)
	var nginx, ssrv []uprobeTx
	for _, tx := range txs {
		if tx.Flow.Server.Port == 4433 {
			ssrv = append(ssrv, tx)
		} else {
			nginx = append(nginx, tx)
		}
	}
	checkUprobeTxs(t, nginx, want[:len(want)-3], r.n.HostIP, r.n.PeerIP, tlsPortNginx, "openssl")
	checkUprobeTxs(t, ssrv, want[len(want)-3:], r.n.HostIP, r.n.PeerIP, 4433, "openssl")
	var c struct {
		Enabled   bool
		Processes []struct {
			PID      int    `json:"pid"`
			Process  string `json:"process"`
			Library  string `json:"library"`
			Version  string `json:"version"`
			Attached bool   `json:"attached"`
			Bytes    uint64 `json:"bytes"`
		}
	}
	if err := json.Unmarshal(cov, &c); err != nil || !c.Enabled {
		t.Fatalf("/api/tls: %v %s", err, cov)
	}
	seen := map[string]bool{}
	for _, p := range c.Processes {
		if p.Attached && p.Library == "openssl" && strings.HasPrefix(p.Version, "OpenSSL ") {
			seen[p.Process] = true
		}
	}
	if !seen["nginx"] || !seen["openssl"] {
		t.Errorf("/api/tls does not list nginx and openssl as attached: %s", cov)
	}
	if !strings.Contains(string(metrics), `apitap_tls_uprobe_process_attached{library="openssl"`) || !strings.Contains(string(metrics), `apitap_tls_total{counter="uprobe_connections"}`) {
		t.Errorf("metrics lack the TLS uprobes:\n%s", metrics)
	}
	// (at least: other programs on the machine may use TLS meanwhile)
	conns := uint64(2*2 + 3)
	if ctr["uprobe_connections"] < conns || ctr["uprobe_queue_drops"] != 0 || ctr["uprobe_probe_lost"] != 0 {
		t.Errorf("tls counters %v: want %d connections, none lost", ctr, conns)
	}
	t.Logf("%d transactions read by the probes (nginx %d, s_server %d); tls counters %v", len(txs), len(nginx), len(ssrv), ctr)
}

// goClientSrc is a Go HTTPS client: once a line arrives on its standard
// input it makes the tlsPaths requests and a POST on one connection
// (HTTP/1.1) to the URL base in its argument.
const goClientSrc = `package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

func main() {
	bufio.NewReader(os.Stdin).ReadString('\n')
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}, MaxConnsPerHost: 1}
	c := &http.Client{Transport: tr}
	do := func(req *http.Request, err error) {
		if err != nil {
			panic(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			panic(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for _, p := range strings.Split(os.Args[2], ",") {
		do(http.NewRequest("GET", os.Args[1]+p, nil))
	}
	do(http.NewRequest("POST", os.Args[1]+"/v1/orders", strings.NewReader(` + "`" + `{"sku":"SKU-1","qty":2}` + "`" + `)))
	fmt.Println("done")
}
`

// TestUprobesGo: a Go HTTPS client, built with its symbol table and
// stripped (-s -w: crypto/tls found in the pclntab), against the Go HTTPS
// server in a network namespace, with apitap run --tls-uprobes: every
// transaction is read in clear from the client ((*Conn).Write at its
// entry, (*Conn).Read at each RET), between the right addresses; the
// server (also Go, also traced) is its duplicate.
func TestUprobesGo(t *testing.T) {
	r := startTLSRig(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(goClientSrc), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module goclient\n\ngo 1.21\n"), 0o644)
	bins := map[string]string{"gocli-syms": "", "gocli-strip": "-s -w"}
	for name, flags := range bins {
		cmd := exec.Command("go", "build", "-ldflags", flags, "-o", filepath.Join(dir, name), ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	u := startUprobes(t, r)
	base := fmt.Sprintf("https://%s:%d", r.n.PeerIP, tlsPortGo)
	want := map[string][]string{}
	for name := range bins {
		cmd := exec.Command(filepath.Join(dir, name), base, strings.Join(tlsPaths, ","))
		in, _ := cmd.StdinPipe()
		out := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := fmt.Sprintf(`"pid":%d,`, cmd.Process.Pid)
		waitFor(t, name+" to be probed", func() bool {
			b := string(u.get(t, "/api/tls"))
			i := strings.Index(b, pid)
			return i >= 0 && strings.Contains(b[i:min(len(b), i+400)], `"attached":true`)
		})
		in.Write([]byte("go\n"))
		if err := cmd.Wait(); err != nil || !strings.Contains(out.String(), "done") {
			t.Fatalf("%s: %v\n%s", name, err, out.String())
		}
		want[name] = curlWant()
	}
	n := 0
	for _, w := range want {
		n += len(w)
	}
	waitFor(t, "the transactions", func() bool { return u.count() >= n })
	time.Sleep(time.Second)
	txs, ctr := u.stop(t)
	by := map[string][]uprobeTx{}
	for _, tx := range txs {
		by[tx.TLS.Process] = append(by[tx.TLS.Process], tx)
	}
	for name, w := range want {
		checkUprobeTxs(t, by[name], w, r.n.HostIP, r.n.PeerIP, tlsPortGo, "go")
	}
	if len(txs) != n || ctr["uprobe_connections"] < 2 || ctr["uprobe_probe_lost"] != 0 {
		t.Errorf("%d transactions, want %d; tls counters %v", len(txs), n, ctr)
	}
	t.Logf("%d transactions read from Go clients (symbols and stripped); tls counters %v", len(txs), ctr)
}

var uprobeOverheadFlag = flag.Int("uprobe-overhead", 0, "measure the CPU time the TLS uprobes add to curl and a Go client making this many requests (root, nginx, curl)")

// TestUprobesOverhead measures what the probes cost the traced process:
// the CPU time (user + system, from its rusage) of curl (OpenSSL) and of
// the Go client making N keep-alive requests to nginx, without apitap and
// with apitap run --tls-uprobes, three times each, alternately; the
// medians are logged (docs/tls.md has the numbers).
func TestUprobesOverhead(t *testing.T) {
	n := *uprobeOverheadFlag
	if n == 0 {
		t.Skip("measures the uprobes' overhead with -uprobe-overhead N")
	}
	r := startTLSRig(t)
	if !r.hasNginx {
		t.Skip("needs nginx")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(goClientSrc), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module goclient\n\ngo 1.21\n"), 0o644)
	gocli := filepath.Join(dir, "gocli")
	build := exec.Command("go", "build", "-o", gocli, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	base := fmt.Sprintf("https://%s:%d", r.n.PeerIP, tlsPortNginx)
	var cfg strings.Builder
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("/v1/users/%d", i)
		fmt.Fprintf(&cfg, "url = %q\noutput = \"/dev/null\"\n", base+paths[i])
	}
	curlCfg := filepath.Join(dir, "curl.cfg")
	os.WriteFile(curlCfg, []byte(cfg.String()), 0o644)
	var u *uprobeRun
	cpu := func(cmd *exec.Cmd, stdin bool) time.Duration {
		var in io.WriteCloser
		if stdin {
			in, _ = cmd.StdinPipe()
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if stdin {
			if u != nil {
				pid := fmt.Sprintf(`"pid":%d,`, cmd.Process.Pid)
				waitFor(t, "the Go client to be probed", func() bool {
					b := string(u.get(t, "/api/tls"))
					i := strings.Index(b, pid)
					return i >= 0 && strings.Contains(b[i:min(len(b), i+400)], `"attached":true`)
				})
			}
			in.Write([]byte("go\n"))
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%v: %v", cmd.Args[0], err)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	runs := map[string][]time.Duration{}
	measure := func(probed string) {
		for k := 0; k < 3; k++ {
			runs["curl "+probed] = append(runs["curl "+probed], cpu(exec.Command("curl", "-sk", "--http1.1", "-K", curlCfg), false))
			runs["go "+probed] = append(runs["go "+probed], cpu(exec.Command(gocli, base, strings.Join(paths, ",")), true))
		}
	}
	measure("without")
	u = startUprobes(t, r)
	measure("with")
	waitFor(t, "the transactions", func() bool { return u.count() >= 3*(2*n+1) })
	u.stop(t)
	med := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	for _, c := range []string{"curl", "go"} {
		a, b := med(runs[c+" without"]), med(runs[c+" with"])
		t.Logf("overhead: %s, %d requests: CPU %v without probes, %v with (+%.1f%%, %.1f µs per request); runs %v / %v",
			c, n, a, b, 100*float64(b-a)/float64(a), float64(b-a)/float64(n)/1e3, runs[c+" without"], runs[c+" with"])
	}
}
