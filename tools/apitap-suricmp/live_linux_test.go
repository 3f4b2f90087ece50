package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testutil/netnstest"
)

// TestHelperServe is the Go net/http server that TestRealTraffic runs in its
// namespace (it skips unless started that way).
func TestHelperServe(t *testing.T) {
	addr := os.Getenv("APITAP_HELPER_ADDR")
	if addr == "" {
		t.Skip("helper: started by TestRealTraffic")
	}
	netnstest.ServeHTTP(addr)
}

// TestRealTraffic records real clients and servers (Go net/http, nginx,
// python's http.server; curl and Go's client) with tcpdump on a veth and
// checks that apitap reports every exchange, and that it agrees with
// Suricata on all of them where Suricata is installed. It needs root,
// tcpdump, and for their parts nginx, python3 and curl (each skipped with a
// line when missing).
func TestRealTraffic(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not installed: real traffic not recorded")
	}
	n := netnstest.New(t)
	dir := t.TempDir()
	goAddr := n.PeerIP + ":8080"
	n.StartServer(t, goAddr, "TestHelperServe")
	servers := map[string]string{"go": goAddr}
	if nginx, err := exec.LookPath("nginx"); err == nil || fileExists("/usr/sbin/nginx") {
		if err != nil {
			nginx = "/usr/sbin/nginx"
		}
		conf := filepath.Join(dir, "nginx.conf")
		os.WriteFile(conf, []byte(fmt.Sprintf(`daemon off; user root; pid %[1]s/nginx.pid; error_log %[1]s/error.log;
events {}
http { access_log off; client_body_temp_path %[1]s/body;
  server { listen %[2]s:8081; keepalive_requests 1000;
    location /missing { return 404 '{"error":"missing"}'; }
    location / { default_type application/json; return 200 '{"server":"nginx","uri":"$uri"}'; } } }
`, dir, n.PeerIP)), 0o644)
		netnstest.Start(t, n.Exec(nginx, "-c", conf, "-p", dir)) // nginx's workers too
		netnstest.WaitTCP(t, n.PeerIP+":8081", 10*time.Second)
		servers["nginx"] = n.PeerIP + ":8081"
	} else {
		t.Log("nginx not installed: its part skipped")
	}
	if py, err := exec.LookPath("python3"); err == nil {
		os.WriteFile(filepath.Join(dir, "index.json"), []byte(`{"server":"python"}`), 0o644)
		cmd := n.Exec(py, "-m", "http.server", "8000", "--bind", n.PeerIP, "--directory", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		netnstest.WaitTCP(t, n.PeerIP+":8000", 10*time.Second)
		servers["python"] = n.PeerIP + ":8000"
	} else {
		t.Log("python3 not installed: its part skipped")
	}

	pcap := filepath.Join(dir, "real.pcap")
	dump := exec.Command("tcpdump", "--immediate-mode", "-i", n.Host, "-U", "-s", "0", "-w", pcap, "tcp") // immediate: packets still in the ring at SIGINT are lost otherwise
	stderr, _ := dump.StderrPipe()
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				close(ready)
				io.Copy(io.Discard, stderr)
				return
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("tcpdump did not start")
	}

	want := 0 // exchanges made
	client := &http.Client{Timeout: 5 * time.Second}
	for _, name := range []string{"go", "nginx", "python"} {
		addr, ok := servers[name]
		if !ok {
			continue
		}
		base := "http://" + addr
		paths := []string{"/v1/users/1", "/v1/users/2?expand=orders", "/missing/x", "/index.json"}
		for _, p := range paths {
			resp, err := client.Get(base + p)
			if err != nil {
				t.Fatalf("%s GET %s: %v", name, p, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			want++
		}
		if name != "python" { // http.server answers POST with 501, fine too, but keep it simple
			resp, err := client.Post(base+"/v1/orders", "application/json", strings.NewReader(`{"sku":"a-1","qty":2}`))
			if err != nil {
				t.Fatalf("%s POST: %v", name, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// a chunked upload (unknown length)
			resp, err = client.Post(base+"/v1/upload", "application/octet-stream", io.MultiReader(strings.NewReader("part1"), strings.NewReader("part2")))
			if err != nil {
				t.Fatalf("%s chunked POST: %v", name, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			want += 2
		}
		if curl, err := exec.LookPath("curl"); err == nil {
			// keep-alive: three URLs on one connection; HTTP/1.0; HEAD
			out, err := exec.Command(curl, "-s", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", base+"/c/1", base+"/c/2", base+"/c/3").CombinedOutput()
			if err != nil {
				t.Fatalf("curl: %v %s", err, out)
			}
			exec.Command(curl, "-s", "-o", "/dev/null", "--http1.0", base+"/c/old").Run()
			exec.Command(curl, "-s", "-o", "/dev/null", "-I", base+"/c/head").Run()
			want += 5
		} else if name == "go" {
			t.Log("curl not installed: its part skipped")
		}
	}
	client.CloseIdleConnections()
	time.Sleep(300 * time.Millisecond)
	dump.Process.Signal(syscall.SIGINT)
	dump.Wait()

	a, err := ApitapTransactions(pcap)
	if err != nil {
		t.Fatal(err)
	}
	complete := 0
	for _, k := range a {
		if k.Status != 0 {
			complete++
		}
	}
	if complete != want || len(a) != want {
		t.Errorf("apitap reported %d transactions (%d with a response), the clients made %d", len(a), complete, want)
	}
	suri, err := exec.LookPath("suricata")
	if err != nil {
		t.Logf("real traffic: %d exchanges, apitap %d; suricata not installed: not compared", want, len(a))
		return
	}
	s, err := SuricataTransactions(suri, pcap)
	if err != nil {
		t.Fatal(err)
	}
	r := diff(s, a)
	t.Logf("real traffic: %d exchanges; suricata=%d apitap=%d agree=%d", want, r.Suricata, r.Apitap, r.Agree)
	if r.Agree != len(s) || r.Agree != len(a) {
		var b bytes.Buffer
		for _, k := range r.OnlySuricata {
			fmt.Fprintf(&b, "only suricata: %s\n", k)
		}
		for _, k := range r.OnlyApitap {
			fmt.Fprintf(&b, "only apitap: %s\n", k)
		}
		t.Errorf("apitap and suricata disagree:\n%s", b.String())
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
