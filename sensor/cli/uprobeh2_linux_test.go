package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// goH2ClientSrc is a Go HTTPS client speaking HTTP/2 (ALPN h2): it makes
// a first GET to the URL base of its first argument, then the other paths
// of its second argument (comma-separated) and a POST with a body at once,
// concurrent streams of the same connection; it prints "METHOD path
// status proto" per request, then "done". With a third argument "wait" it
// starts once a line arrives on its standard input; with START_AFTER (a
// duration) in its environment it waits that long first; with HTTP1 set
// it speaks HTTP/1.1.
const goH2ClientSrc = `package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) > 3 && os.Args[3] == "wait" {
		bufio.NewReader(os.Stdin).ReadString('\n')
	}
	if d, err := time.ParseDuration(os.Getenv("START_AFTER")); err == nil {
		time.Sleep(d)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	if os.Getenv("HTTP1") != "" {
		tr.ForceAttemptHTTP2, tr.TLSNextProto = false, map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var mu sync.Mutex
	do := func(method, p, body string) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, os.Args[1]+p, rd)
		if err != nil {
			panic(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			panic(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		u, _ := url.Parse(p)
		mu.Lock()
		fmt.Printf("%s %s %d %s\n", method, u.Path, resp.StatusCode, resp.Proto)
		mu.Unlock()
	}
	paths := strings.Split(os.Args[2], ",")
	do("GET", paths[0], "")
	var wg sync.WaitGroup
	for _, p := range paths[1:] {
		wg.Add(1)
		go func() { defer wg.Done(); do("GET", p, "") }()
	}
	if len(paths) > 1 {
		wg.Add(1)
		go func() { defer wg.Done(); do("POST", "/v1/orders", ` + "`" + `{"sku":"SKU-1","qty":2,"note":"` + "`" + `+strings.Repeat("n", 2000)+` + "`" + `"}` + "`" + `) }()
	}
	wg.Wait()
	tr.CloseIdleConnections()
	fmt.Println("done")
}
`

// buildGoClient builds src (a main package) into dir/name.
func buildGoClient(t *testing.T, dir, name, src, ldflags string) string {
	t.Helper()
	sub := filepath.Join(dir, name+"-src")
	os.MkdirAll(sub, 0o755)
	os.WriteFile(filepath.Join(sub, "main.go"), []byte(src), 0o644)
	os.WriteFile(filepath.Join(sub, "go.mod"), []byte("module "+name+"\n\ngo 1.22\n"), 0o644)
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, ".")
	cmd.Dir = sub
	cmd.Env = append(os.Environ(), "GOFLAGS=", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, out)
	}
	return bin
}

// h2Answers reads the "METHOD path status proto" lines of goH2ClientSrc:
// the requests as "METHOD path status", sorted; each must be HTTP/2.
func h2Answers(t *testing.T, out string) []string {
	return protoAnswers(t, out, "HTTP/2.0")
}

// protoAnswers is h2Answers for protocol proto.
func protoAnswers(t *testing.T, out, proto string) []string {
	t.Helper()
	var reqs []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 4 {
			if f[3] != proto {
				t.Fatalf("not %s: %q", proto, l)
			}
			reqs = append(reqs, strings.Join(f[:3], " "))
		}
	}
	sort.Strings(reqs)
	return reqs
}

// checkUprobeH2 checks that txs are exactly the requests want ("METHOD
// path status"), as HTTP/2, between the right addresses, read from lib.
func checkUprobeH2(t *testing.T, txs []uprobeTx, want []string, clientIP, serverIP string, serverPort int, lib string) {
	t.Helper()
	checkUprobeProto(t, txs, want, clientIP, serverIP, serverPort, lib, "h2")
}

// checkUprobeProto is checkUprobeH2 for protocol proto ("h2", "http/1.x").
func checkUprobeProto(t *testing.T, txs []uprobeTx, want []string, clientIP, serverIP string, serverPort int, lib, proto string) {
	t.Helper()
	var got []string
	for _, tx := range txs {
		r := fmt.Sprintf("%s %s %d", tx.Method, tx.Path, tx.Status)
		got = append(got, r)
		c, s := tx.Flow.Client, tx.Flow.Server
		if c.IP != clientIP || s.IP != serverIP || s.Port != serverPort || c.Port == 0 || c.Port == serverPort {
			t.Errorf("%s: client %s:%d, server %s:%d; want client %s, server %s:%d", r, c.IP, c.Port, s.IP, s.Port, clientIP, serverIP, serverPort)
		}
		if tx.Protocol != proto {
			t.Errorf("%s: protocol %q, want %s", r, tx.Protocol, proto)
		}
		if tx.TLS.Library != lib || tx.TLS.PID == 0 || tx.TLS.Process == "" {
			t.Errorf("%s: tls %+v, want library %s with its process", r, tx.TLS, lib)
		}
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transactions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestUprobesH2 runs apitap run --tls-uprobes beside the namespace and
// checks that HTTP/2 inside TLS read by the probes gives every
// transaction, as HTTP/2, between the right addresses:
//
//   - openssl: curl --http2 -Z (six streams at once on one connection,
//     then a POST) against nginx's h2 listener, TLS 1.3 and 1.2;
//   - go: a Go client (crypto/tls Read and Write carry HTTP/2 frames) with
//     concurrent streams and a request body, against the Go server (both
//     ends probed: one is kept, the other counted duplicate).
func TestUprobesH2(t *testing.T) {
	dir := t.TempDir()
	built := make(chan string, 1)
	go func() { built <- buildGoClient(t, dir, "goh2cli", goH2ClientSrc, "") }()
	r := startTLSRig(t)
	gocli := <-built
	if !r.hasNginx {
		t.Skip("needs nginx (apt-get install nginx-light; .ci/run installs it)")
	}
	u := startUprobes(t, r)

	var wantNginx []string
	for _, args := range [][]string{{"--tlsv1.3"}, {"--tls-max", "1.2"}} {
		reqs, _ := curlH2(t, r.n.PeerIP, tlsPortH2, "", args...)
		wantNginx = append(wantNginx, reqs...)
	}
	sort.Strings(wantNginx)

	cmd := exec.Command(gocli, fmt.Sprintf("https://%s:%d", r.n.PeerIP, tlsPortGo), strings.Join(tlsPaths, ","), "wait")
	in, _ := cmd.StdinPipe()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := fmt.Sprintf(`"pid":%d,`, cmd.Process.Pid)
	waitFor(t, "the Go client to be probed", func() bool {
		b := string(u.get(t, "/api/tls"))
		i := strings.Index(b, pid)
		return i >= 0 && strings.Contains(b[i:min(len(b), i+400)], `"attached":true`)
	})
	in.Write([]byte("go\n"))
	if err := cmd.Wait(); err != nil || !strings.Contains(out.String(), "done") {
		t.Fatalf("Go client: %v\n%s", err, out.String())
	}
	wantGo := h2Answers(t, out.String())

	n := len(wantNginx) + len(wantGo)
	waitFor(t, "the transactions", func() bool { return u.count() >= n })
	time.Sleep(time.Second) // nothing more comes
	txs, ctr := u.stop(t)
	var nginx, goTxs []uprobeTx
	for _, tx := range txs {
		switch tx.Flow.Server.Port {
		case tlsPortH2:
			nginx = append(nginx, tx)
		case tlsPortGo:
			goTxs = append(goTxs, tx)
		default:
			t.Errorf("a transaction with server %s:%d", tx.Flow.Server.IP, tx.Flow.Server.Port)
		}
	}
	t.Run("openssl", func(t *testing.T) {
		checkUprobeH2(t, nginx, wantNginx, r.n.HostIP, r.n.PeerIP, tlsPortH2, "openssl")
		t.Logf("%d HTTP/2 transactions read by the probes from curl and nginx (want %d)", len(nginx), len(wantNginx))
	})
	t.Run("go", func(t *testing.T) {
		checkUprobeH2(t, goTxs, wantGo, r.n.HostIP, r.n.PeerIP, tlsPortGo, "go")
		t.Logf("%d HTTP/2 transactions read by the probes from Go's client and server (want %d)", len(goTxs), len(wantGo))
	})
	if ctr["uprobe_queue_drops"] != 0 || ctr["uprobe_probe_lost"] != 0 {
		t.Errorf("tls counters %v: want none lost", ctr)
	}
	t.Logf("tls counters %v", ctr)
}

// TestUprobesShortLived: Go programs never seen before, each making one
// HTTPS request and exiting within about 300 ms, are probed as they start
// (the sched_process_exec tracepoint tells apitap their pid) and their
// request is read from them, although the scan of /proc would find them
// only an hour later (tls.uprobes.scan_interval: 1h). They speak
// HTTP/1.1, whose client writes first: the server (also traced here) is
// then never the first end seen, and a transaction read from the server's
// end means the client was not probed in time. Their request comes 150 ms
// after their start: a program is probed some milliseconds after its exec
// (logged: after_exec), and TLS it does before that is not read from it.
// Clients that request at once are run too and only counted (read from
// the client, or from the server's end).
func TestUprobesShortLived(t *testing.T) {
	dir := t.TempDir()
	built := make(chan string, 1)
	go func() { built <- buildGoClient(t, dir, "goshort", goH2ClientSrc, "") }()
	r := startTLSRig(t)
	bin := <-built
	conf := filepath.Join(dir, "apitap.yaml")
	os.WriteFile(conf, []byte("tls:\n  uprobes:\n    scan_interval: 1h\n"), 0o644)
	u := startUprobes(t, r, "--config", conf)
	if s := u.stderr.String(); strings.Contains(s, "new programs are found by the scan") {
		t.Skipf("the kernel does not tell new programs here: %s", s)
	}
	const runs = 4
	var want []string
	var lives []time.Duration
	pids := map[int]string{} // pid: path, of the clients that wait 150 ms
	atOnce := map[int]bool{} // of those that do not
	for i := range 2 * runs {
		// a copy is another file: probed anew, as a program never seen
		name := fmt.Sprintf("short%d", i)
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		exe := filepath.Join(dir, name)
		if err := os.WriteFile(exe, b, 0o755); err != nil {
			t.Fatal(err)
		}
		path := fmt.Sprintf("/v1/short/%d", i)
		if i >= runs {
			path = fmt.Sprintf("/v1/now/%d", i)
		}
		start := time.Now()
		cmd := exec.Command(exe, fmt.Sprintf("https://%s:%d", r.n.PeerIP, tlsPortGo), path)
		cmd.Env = append(os.Environ(), "HTTP1=1")
		if i < runs {
			cmd.Env = append(cmd.Env, "START_AFTER=150ms")
		}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "done") {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		if i < runs {
			lives = append(lives, time.Since(start))
			pids[cmd.Process.Pid] = path
		} else {
			atOnce[cmd.Process.Pid] = true
		}
		want = append(want, protoAnswers(t, string(out), "HTTP/1.1")...)
	}
	sort.Strings(want)
	waitFor(t, "the transactions", func() bool { return u.count() >= 2*runs })
	time.Sleep(time.Second) // nothing more comes
	txs, ctr := u.stop(t)
	checkUprobeProto(t, txs, want, r.n.HostIP, r.n.PeerIP, tlsPortGo, "go", "http/1.x")
	fromClient, nowFromClient := 0, 0
	for _, tx := range txs {
		switch {
		case pids[tx.TLS.PID] == tx.Path:
			fromClient++
		case atOnce[tx.TLS.PID]:
			nowFromClient++
		case strings.HasPrefix(tx.Path, "/v1/short/"):
			t.Errorf("%s %s read from pid %d (%s), not from its short-lived client", tx.Method, tx.Path, tx.TLS.PID, tx.TLS.Process)
		}
	}
	var after []string
	for _, l := range strings.Split(u.stderr.String(), "\n") {
		if i := strings.Index(l, `"after_exec":`); i >= 0 && strings.Contains(l, "new program covered") {
			after = append(after, strings.SplitN(l[i+13:], ",", 2)[0]+"ms")
		}
	}
	t.Logf("%d short-lived Go clients (HTTP/1.1) waiting 150 ms (lived %v): %d of %d requests read from the client; %d clients requesting at once: %d read from the client (the others from the server's end); probed after exec: %v; tls counters %v",
		runs, lives, fromClient, runs, runs, nowFromClient, after, ctr)
}
