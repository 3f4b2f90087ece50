package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// HTTP/2 inside TLS (ALPN h2): curl --http2 and Go's net/http client
// against nginx (tlsPortH2) and the Go server, several streams at once on
// one connection, with request and response bodies. The clients report
// every request they made and its status; the captures' checks
// (checkTLSCapture) want exactly those, as HTTP/2.

// tlsH2Host is the name the HTTP/2 clients ask for (:authority and SNI).
const tlsH2Host = "shop.example"

// curlH2 makes the tlsPaths requests in parallel on one connection
// (curl -Z waits to multiplex them on one HTTP/2 connection), then a POST
// with a body on a second connection; it returns "METHOD path status" of
// each, as curl saw them.
func curlH2(t *testing.T, ip string, port int, keys string, tlsArgs ...string) (reqs []string, connections int) {
	base := fmt.Sprintf("https://%s:%d", tlsH2Host, port)
	run := func(args ...string) {
		common := []string{"-sk", "--http2", "--max-time", "10", "--resolve", fmt.Sprintf("%s:%d:%s", tlsH2Host, port, ip),
			"-w", `%{method} %{url_effective} %{response_code} %{http_version}\n`}
		cmd := exec.Command("curl", append(append(common, tlsArgs...), args...)...)
		cmd.Env = os.Environ()
		if keys != "" {
			cmd.Env = append(cmd.Env, "SSLKEYLOGFILE="+keys)
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", cmd.Args, err, out)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(l)
			if len(f) != 4 || f[3] != "2" {
				t.Fatalf("curl %v: %q is not an HTTP/2 answer", cmd.Args, l)
			}
			u, err := url.Parse(f[1])
			if err != nil {
				t.Fatal(err)
			}
			reqs = append(reqs, f[0]+" "+u.Path+" "+f[2])
		}
	}
	args := []string{"-Z", "--parallel-max", "10"}
	for _, p := range tlsPaths {
		args = append(args, "-o", "/dev/null", base+p)
	}
	run(args...)
	run("-o", "/dev/null", "-H", "Content-Type: application/json", "--data", `{"sku":"SKU-1","qty":2,"email":"ada@example.com"}`, base+"/v1/orders")
	return reqs, 2
}

// goH2 makes, with Go's client over one HTTP/2 connection, a first GET,
// then the other tlsPaths requests and two POSTs with bodies all at once
// (concurrent streams); it returns "METHOD path status" of each.
func goH2(t *testing.T, ip string, port int, keys string, cfg *tls.Config) (reqs []string, connections int) {
	if keys != "" {
		f, err := os.OpenFile(keys, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cfg.KeyLogWriter = f
	}
	return goH2Keys(t, ip, port, cfg)
}

// goH2Keys is goH2 with the secrets going to cfg.KeyLogWriter.
func goH2Keys(t *testing.T, ip string, port int, cfg *tls.Config) (reqs []string, connections int) {
	cfg.InsecureSkipVerify, cfg.ServerName = true, tlsH2Host
	addr := fmt.Sprintf("%s:%d", ip, port)
	var d net.Dialer
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	base := fmt.Sprintf("https://%s:%d", tlsH2Host, port)
	var mu sync.Mutex
	do := func(method, path, body string) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Errorf("%s %s: %s, not HTTP/2", method, path, resp.Proto)
		}
		u, _ := url.Parse(path)
		mu.Lock()
		reqs = append(reqs, fmt.Sprintf("%s %s %d", method, u.Path, resp.StatusCode))
		mu.Unlock()
	}
	do("GET", tlsPaths[0], "") // the connection, then streams at once on it
	var wg sync.WaitGroup
	for _, p := range tlsPaths[1:] {
		wg.Add(1)
		go func() { defer wg.Done(); do("GET", p, "") }()
	}
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do("POST", "/v1/orders", fmt.Sprintf(`{"sku":"SKU-%d","qty":1,"email":"ada@example.com","note":"%s"}`, i, strings.Repeat("n", 2000)))
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return reqs, 1
}

// addH2Cases adds the HTTP/2 captures to recordTLS's.
func addH2Cases(t *testing.T, r *tlsRig, add func(name, keysFrom string, port int, version, cipher string, keyUpd int, work func(keys string) (int, int)) bool, out map[string]tlsCase) {
	ip := r.n.PeerIP
	addH2 := func(name, keysFrom string, port int, version, cipher string, work func(keys string) ([]string, int)) {
		var reqs []string
		if !add(name, keysFrom, port, version, cipher, 0, func(k string) (int, int) {
			var conns int
			reqs, conns = work(k)
			return len(reqs), conns
		}) {
			return
		}
		sort.Strings(reqs)
		c := out[name+".pcap"]
		c.Protocol, c.Host, c.Requests = "h2", fmt.Sprintf("%s:%d", tlsH2Host, port), reqs
		out[name+".pcap"] = c
	}
	if r.hasNginx {
		addH2("h2_curl_nginx_tls12_aes128", "client", tlsPortH2, "1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", func(k string) ([]string, int) {
			return curlH2(t, ip, tlsPortH2, k, "--tls-max", "1.2", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256")
		})
		addH2("h2_curl_nginx_tls12_chacha", "nginx", tlsPortH2, "1.2", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", func(k string) ([]string, int) {
			return curlH2(t, ip, tlsPortH2, k, "--tls-max", "1.2", "--ciphers", "ECDHE-RSA-CHACHA20-POLY1305")
		})
		addH2("h2_curl_nginx_tls13_aes256", "client", tlsPortH2, "1.3", "TLS_AES_256_GCM_SHA384", func(k string) ([]string, int) {
			return curlH2(t, ip, tlsPortH2, k, "--tlsv1.3", "--tls13-ciphers", "TLS_AES_256_GCM_SHA384")
		})
		addH2("h2_go_nginx_tls13", "client", tlsPortH2, "1.3", "TLS_AES_128_GCM_SHA256", func(k string) ([]string, int) {
			return goH2(t, ip, tlsPortH2, k, &tls.Config{})
		})
	}
	addH2("h2_go_go_tls13", "client", tlsPortGo, "1.3", "TLS_AES_128_GCM_SHA256", func(k string) ([]string, int) {
		return goH2(t, ip, tlsPortGo, k, &tls.Config{})
	})
	addH2("h2_go_go_tls12_chacha", "go-server", tlsPortGo12, "1.2", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", func(k string) ([]string, int) {
		return goH2(t, ip, tlsPortGo12, k, &tls.Config{CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}})
	})
	addH2("h2_curl_go_tls13_chacha", "go-server", tlsPortGo, "1.3", "TLS_CHACHA20_POLY1305_SHA256", func(k string) ([]string, int) {
		return curlH2(t, ip, tlsPortGo, k, "--tlsv1.3", "--tls13-ciphers", "TLS_CHACHA20_POLY1305_SHA256")
	})
}
