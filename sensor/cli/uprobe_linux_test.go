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
// in one line, where the kernel refuses them. No tracefs is needed (raw
// tracepoints).
func startUprobes(t *testing.T, r *tlsRig, extra ...string) *uprobeRun {
	dir := t.TempDir()
	bin := buildApitap(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &uprobeRun{stderr: &syncBuffer{}, events: filepath.Join(dir, "events.jsonl"), admin: l.Addr().String(), serverIP: r.n.PeerIP}
	l.Close()
	u.cmd = exec.Command(bin, append([]string{"run", "-i", r.n.Host, "--workers", "1", "--ring-mb", "8", "--emit", "transaction,stats",
		"--tls-uprobes", "--log-level", "debug", "-o", u.events, "--admin-addr", u.admin}, extra...)...)
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
	Protocol            string
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

// TestUprobes runs apitap run --tls-uprobes beside a network namespace
// with nginx (OpenSSL), openssl s_server -www and the Go HTTPS server, and
// checks that every HTTPS transaction is read in clear once, complete,
// between the right client and server addresses (both ends are traced on
// this machine: the other end's copy is counted as a duplicate):
//
//   - openssl: curl (OpenSSL) against nginx, TLS 1.3 and 1.2, and against
//     s_server (one request per connection, close-delimited); /api/tls
//     and the metrics list nginx and openssl as attached, with their
//     version;
//   - go: a Go HTTPS client built with its symbol table and stripped
//     (-s -w: crypto/tls found in the pclntab) against the Go server: read
//     from the client ((*Conn).Write at its entry, (*Conn).Read at each
//     RET).
//
// One namespace and one apitap run serve both (the package's tests run
// close to go test's default timeout on a busy machine).
func TestUprobes(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(goClientSrc), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module goclient\n\ngo 1.21\n"), 0o644)
	bins := map[string]string{"gocli-syms": "", "gocli-strip": "-s -w"}
	built := make(chan error, len(bins))
	for name, flags := range bins {
		go func() {
			cmd := exec.Command("go", "build", "-ldflags", flags, "-o", filepath.Join(dir, name), ".")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOFLAGS=", "CGO_ENABLED=0")
			out, err := cmd.CombinedOutput()
			if err != nil {
				err = fmt.Errorf("go build: %v\n%s", err, out)
			}
			built <- err
		}()
	}
	r := startTLSRig(t)
	for range bins {
		if err := <-built; err != nil {
			t.Fatal(err)
		}
	}
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

	var wantNginx, wantSS []string
	for _, args := range [][]string{{"--tlsv1.3"}, {"--tls-max", "1.2"}} {
		curlTLS(t, r.n.PeerIP, tlsPortNginx, "", args...)
		wantNginx = append(wantNginx, curlWant()...)
	}
	for i := 0; i < 3; i++ {
		out, err := exec.Command("curl", "-sk", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", fmt.Sprintf("https://%s:4433/s_server/%d", r.n.PeerIP, i)).CombinedOutput()
		if err != nil || string(out) != "200" {
			t.Fatalf("curl s_server: %v %s", err, out)
		}
		wantSS = append(wantSS, fmt.Sprintf("GET /s_server/%d", i))
	}
	cov := u.get(t, "/api/tls")
	base := fmt.Sprintf("https://%s:%d", r.n.PeerIP, tlsPortGo)
	wantGo := map[string][]string{}
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
		wantGo[name] = curlWant()
	}
	n := len(wantNginx) + len(wantSS) + 2*len(curlWant())
	waitFor(t, "the transactions", func() bool { return u.count() >= n })
	metrics := u.get(t, "/metrics")
	time.Sleep(time.Second) // nothing more comes
	txs, ctr := u.stop(t)

	var nginx, ssrv []uprobeTx
	byProc := map[string][]uprobeTx{}
	for _, tx := range txs {
		switch tx.Flow.Server.Port {
		case tlsPortNginx:
			nginx = append(nginx, tx)
		case 4433:
			ssrv = append(ssrv, tx)
		case tlsPortGo:
			byProc[tx.TLS.Process] = append(byProc[tx.TLS.Process], tx)
		default:
			t.Errorf("a transaction with server %s:%d", tx.Flow.Server.IP, tx.Flow.Server.Port)
		}
	}
	t.Run("openssl", func(t *testing.T) {
		checkUprobeTxs(t, nginx, wantNginx, r.n.HostIP, r.n.PeerIP, tlsPortNginx, "openssl")
		checkUprobeTxs(t, ssrv, wantSS, r.n.HostIP, r.n.PeerIP, 4433, "openssl")
		var c struct {
			Enabled   bool
			Processes []struct {
				Process  string `json:"process"`
				Library  string `json:"library"`
				Version  string `json:"version"`
				Attached bool   `json:"attached"`
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
		t.Logf("%d transactions read by the probes from curl, nginx and s_server (nginx %d, s_server %d)", len(nginx)+len(ssrv), len(nginx), len(ssrv))
	})
	t.Run("go", func(t *testing.T) {
		for name, w := range wantGo {
			checkUprobeTxs(t, byProc[name], w, r.n.HostIP, r.n.PeerIP, tlsPortGo, "go")
		}
		t.Logf("%d transactions read from Go clients (symbols %d, stripped %d)", len(byProc["gocli-syms"])+len(byProc["gocli-strip"]), len(byProc["gocli-syms"]), len(byProc["gocli-strip"]))
	})
	// (at least: other programs on the machine may use TLS meanwhile)
	conns := uint64(2*2 + 3 + 2)
	if ctr["uprobe_connections"] < conns || ctr["uprobe_queue_drops"] != 0 || ctr["uprobe_probe_lost"] != 0 {
		t.Errorf("tls counters %v: want %d connections, none lost", ctr, conns)
	}
	t.Logf("tls counters %v", ctr)
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
