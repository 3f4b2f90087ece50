package cli

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
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

// Captures of real TLS clients and servers, recorded in a network
// namespace with tcpdump, with the key log of each: curl (OpenSSL 3) and
// Go's net/http client against nginx (OpenSSL 3, with a key log from an
// LD_PRELOAD keylog callback, testdata/tls/sslkeylog.c) and a Go net/http
// server, over TLS 1.2 and 1.3 with AES-GCM and ChaCha20-Poly1305, a TLS
// 1.2 session resumed, and openssl s_client asking for key updates.
//
// go test ./sensor/cli -run TestRecordTLS -record-tls (as root) rewrites
// testdata/tls; TestLiveTLS records fresh ones in CI and checks the exact
// transaction counts on them (tls_test.go checks the committed ones).

var (
	recordTLSFlag = flag.Bool("record-tls", false, "record testdata/tls captures (root, tcpdump, curl, nginx, gcc, openssl)")
	recordTLSOnly = flag.String("record-tls-only", "", "record (-record-tls) or check live (TestLiveTLS) only the TLS captures whose name has this prefix")
)

// Servers in the namespace.
const (
	tlsPortNginx = 443  // nginx: TLS 1.2 and 1.3
	tlsPortGo    = 8443 // Go net/http: TLS 1.2 and 1.3
	tlsPortGo12  = 8444 // Go net/http: TLS 1.2 only
	tlsPortH2    = 4443 // nginx: TLS 1.2 and 1.3, HTTP/2 (ALPN h2) and HTTP/1.1
)

// tlsCase is one recorded capture: what made it and what it holds.
type tlsCase struct {
	Keylog       string `json:"keylog"`       // the key log file (next to the capture)
	KeysFrom     string `json:"keys_from"`    // who wrote it: client or server
	Port         int    `json:"port"`         // the server's port
	Transactions int    `json:"transactions"` // requests made
	Connections  int    `json:"connections"`  // TLS connections
	Version      string `json:"version"`      // "1.2" or "1.3"
	Cipher       string `json:"cipher"`
	KeyUpdates   int    `json:"key_updates,omitempty"` // key updates at least followed
	// HTTP/2 captures: the protocol of every transaction, the host the
	// clients asked for, and the requests made ("METHOD path status",
	// sorted), checked exactly
	Protocol string   `json:"protocol,omitempty"`
	Host     string   `json:"host,omitempty"`
	Requests []string `json:"requests,omitempty"`
}

// TestHelperTLSServers runs the Go HTTPS servers when re-executed in the
// namespace: TLS 1.2 and 1.3 on tlsPortGo, TLS 1.2 only on tlsPortGo12,
// both writing their secrets to $APITAP_TLS_SERVER_KEYLOG.
func TestHelperTLSServers(t *testing.T) {
	dir := os.Getenv("APITAP_TLS_SERVERS")
	if dir == "" {
		t.Skip("helper process only")
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	kl, err := os.OpenFile(os.Getenv("APITAP_TLS_SERVER_KEYLOG"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/missing") {
			w.WriteHeader(404)
		}
		fmt.Fprintf(w, `{"path":%q,"method":%q,"got":%d,"pad":"%s"}`, r.URL.Path, r.Method, len(body), strings.Repeat("x", 3000))
	})
	for port, max := range map[int]uint16{tlsPortGo: tls.VersionTLS13, tlsPortGo12: tls.VersionTLS12} {
		s := &http.Server{Addr: fmt.Sprintf(":%d", port), Handler: mux,
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: max, KeyLogWriter: kl}}
		go s.ListenAndServeTLS("", "")
	}
	fmt.Println("serving")
	select {}
}

// writeCert writes a self-signed certificate for shop.example (RSA, so
// that the ECDHE_RSA suites apply) to dir/cert.pem and dir/key.pem.
func writeCert(t *testing.T, dir string) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shop.example"},
		DNSNames: []string{"shop.example"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600)
}

// tlsRig is the namespace with its servers.
type tlsRig struct {
	n         *netnstest.Netns
	dir       string // certificates, server key logs, the nginx prefix
	nginxKeys string // nginx's key log
	goKeys    string // the Go servers' key log
	hasNginx  bool
}

func startTLSRig(t *testing.T) *tlsRig {
	for _, tool := range []string{"tcpdump", "curl", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (apt-get install %s; .ci/run installs it)", tool, tool)
		}
	}
	n := netnstest.New(t)
	r := &tlsRig{n: n, dir: t.TempDir()}
	writeCert(t, r.dir)
	r.goKeys = filepath.Join(r.dir, "go-server.keylog")
	srv := n.Exec(os.Args[0], "-test.run=^TestHelperTLSServers$")
	srv.Env = append(os.Environ(), "APITAP_TLS_SERVERS="+r.dir, "APITAP_TLS_SERVER_KEYLOG="+r.goKeys)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	netnstest.WaitTCP(t, fmt.Sprintf("%s:%d", n.PeerIP, tlsPortGo), 10*time.Second)
	netnstest.WaitTCP(t, fmt.Sprintf("%s:%d", n.PeerIP, tlsPortGo12), 10*time.Second)

	nginx, err := exec.LookPath("nginx")
	if err != nil && fileExists("/usr/sbin/nginx") {
		nginx, err = "/usr/sbin/nginx", nil
	}
	cc, ccErr := exec.LookPath("cc")
	switch {
	case err != nil:
		t.Log("nginx not installed: its captures are skipped")
	case ccErr != nil:
		t.Log("no C compiler for nginx's keylog callback (testdata/tls/sslkeylog.c): nginx's captures are skipped")
	default:
		so := filepath.Join(r.dir, "sslkeylog.so")
		if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", so, filepath.Join(repoRoot, "testdata", "tls", "sslkeylog.c"), "-ldl").CombinedOutput(); err != nil {
			t.Fatalf("building the keylog callback: %v\n%s", err, out)
		}
		r.nginxKeys = filepath.Join(r.dir, "nginx.keylog")
		conf := filepath.Join(r.dir, "nginx.conf")
		os.WriteFile(conf, []byte(fmt.Sprintf(`daemon off; user root; pid %[1]s/nginx.pid; error_log %[1]s/error.log; worker_processes 1;
env SSLKEYLOGFILE;
events {}
http { access_log off; client_body_temp_path %[1]s/body;
  server { listen %[2]s:%[3]d ssl; keepalive_requests 1000;
    ssl_certificate %[1]s/cert.pem; ssl_certificate_key %[1]s/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_session_tickets off;
    location /missing { default_type application/json; return 404 '{"error":"missing"}'; }
    location / { default_type application/json; return 200 '{"server":"nginx","uri":"$uri","pad":"%[4]s"}'; } }
  server { listen %[2]s:%[5]d ssl http2; keepalive_requests 1000;
    ssl_certificate %[1]s/cert.pem; ssl_certificate_key %[1]s/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_session_tickets off;
    location /missing { default_type application/json; return 404 '{"error":"missing"}'; }
    location / { default_type application/json; return 200 '{"server":"nginx","uri":"$uri","pad":"%[4]s"}'; } } }
`, r.dir, n.PeerIP, tlsPortNginx, strings.Repeat("y", 3000), tlsPortH2)), 0o644)
		cmd := n.Exec(nginx, "-c", conf, "-p", r.dir)
		cmd.Env = append(os.Environ(), "LD_PRELOAD="+so, "SSLKEYLOGFILE="+r.nginxKeys)
		netnstest.Start(t, cmd) // nginx's worker too
		netnstest.WaitTCP(t, fmt.Sprintf("%s:%d", n.PeerIP, tlsPortNginx), 10*time.Second)
		netnstest.WaitTCP(t, fmt.Sprintf("%s:%d", n.PeerIP, tlsPortH2), 10*time.Second)
		r.hasNginx = true
	}
	return r
}

// tlsPaths are the requests of every client: repeated and new paths,
// a 404, query strings.
var tlsPaths = []string{"/v1/users/1", "/v1/products?page=2", "/v1/users/1", "/v1/orders/77", "/missing/1", "/v1/users/2?expand=orders"}

// curlTLS makes the tlsPaths requests on one connection and a POST on a
// second, with curl's secrets in keys when it is set.
func curlTLS(t *testing.T, ip string, port int, keys string, tlsArgs ...string) (transactions, connections int) {
	base := fmt.Sprintf("https://%s:%d", ip, port)
	run := func(args ...string) {
		cmd := exec.Command("curl", append(append([]string{"-sk", "--http1.1", "--max-time", "10"}, tlsArgs...), args...)...)
		cmd.Env = os.Environ()
		if keys != "" {
			cmd.Env = append(cmd.Env, "SSLKEYLOGFILE="+keys)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("curl %v: %v\n%s", cmd.Args, err, out)
		}
	}
	var args []string
	for _, p := range tlsPaths {
		args = append(args, "-o", "/dev/null", base+p)
	}
	run(args...)
	run("-o", "/dev/null", "-H", "Content-Type: application/json", "--data", `{"sku":"SKU-1","qty":2,"email":"ada@example.com"}`, base+"/v1/orders")
	return len(tlsPaths) + 1, 2
}

// goTLS makes the tlsPaths requests and a POST with Go's client, on one
// connection, or on conns connections one after the other (a TLS 1.2
// client then resumes its session on the later ones).
func goTLS(t *testing.T, ip string, port int, keys string, cfg *tls.Config, conns int) (transactions, connections int) {
	if keys != "" {
		f, err := os.OpenFile(keys, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cfg.KeyLogWriter = f
	}
	return goTLSKeys(t, ip, port, cfg, conns)
}

// goTLSKeys is goTLS with the secrets going to cfg.KeyLogWriter.
func goTLSKeys(t *testing.T, ip string, port int, cfg *tls.Config, conns int) (transactions, connections int) {
	cfg.InsecureSkipVerify, cfg.ServerName = true, "shop.example"
	base := fmt.Sprintf("https://%s:%d", ip, port)
	n := 0
	for c := 0; c < conns; c++ {
		tr := &http.Transport{TLSClientConfig: cfg, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
		cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		for _, p := range tlsPaths {
			resp, err := cl.Get(base + p)
			if err != nil {
				t.Fatalf("GET %s: %v", p, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			n++
		}
		resp, err := cl.Post(base+"/v1/orders", "application/json", strings.NewReader(`{"sku":"SKU-2","qty":1,"email":"ada@example.com"}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		n++
		tr.CloseIdleConnections()
	}
	return n, conns
}

// keyUpdates talks HTTP/1.1 through openssl s_client, which sends a
// KeyUpdate asking for the peer's ("K") between requests: both sides
// update their keys (Go's server answers with its own update).
func keyUpdates(t *testing.T, ip string, port int, keys string) (transactions, connections int) {
	cmd := exec.Command("openssl", "s_client", "-connect", fmt.Sprintf("%s:%d", ip, port), "-tls1_3", "-crlf", "-keylogfile", keys, "-servername", "shop.example")
	in, _ := cmd.StdinPipe()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := 0; i < 3; i++ {
		time.Sleep(300 * time.Millisecond)
		fmt.Fprintf(in, "GET /v1/keyupdate/%d HTTP/1.1\nHost: shop.example\n\n", i)
		n++
		// the answer before the next line (a busy machine is slow)
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && strings.Count(out.String(), "HTTP/1.1 200") < n; {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		if i < 2 {
			io.WriteString(in, "K\n") // a line of its own: a KeyUpdate, update_requested
		}
	}
	time.Sleep(300 * time.Millisecond)
	in.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	if got := strings.Count(out.String(), "HTTP/1.1 200"); got != n {
		t.Fatalf("openssl s_client: %d of %d answers:\n%s", got, n, out.String())
	}
	if !strings.Contains(out.String(), "KEYUPDATE") {
		t.Fatalf("openssl s_client sent no key update:\n%s", out.String())
	}
	return n, 1
}

// recordTLS records every capture into dir, with its key log.
func recordTLS(t *testing.T, dir string) map[string]tlsCase {
	r := startTLSRig(t)
	ip := r.n.PeerIP
	out := map[string]tlsCase{}
	add := func(name, keysFrom string, port int, version, cipher string, keyUpd int, work func(keys string) (int, int)) bool {
		if !strings.HasPrefix(name, *recordTLSOnly) {
			return false
		}
		keys := filepath.Join(dir, name+".keylog")
		os.Remove(keys)
		var tx, conns int
		var serverKeys string
		var before int64
		switch keysFrom {
		case "nginx":
			serverKeys = r.nginxKeys
		case "go-server":
			serverKeys = r.goKeys
		}
		if serverKeys != "" {
			if st, err := os.Stat(serverKeys); err == nil {
				before = st.Size()
			}
		}
		clientKeys := keys
		if serverKeys != "" {
			clientKeys = ""
		}
		// (a capture recorded again leaves the first try's keys in the
		// key log too: keys of sessions it does not hold are not used)
		tcpdumpRecord(t, r.n.Host, filepath.Join(dir, name+".pcap"), port, func() { tx, conns = work(clientKeys) })
		if serverKeys != "" { // the server's secrets of this capture's sessions
			b, err := os.ReadFile(serverKeys)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(keys, b[before:], 0o600)
		}
		kf := "client"
		if serverKeys != "" {
			kf = "server"
		}
		out[name+".pcap"] = tlsCase{Keylog: name + ".keylog", KeysFrom: kf, Port: port, Transactions: tx, Connections: conns, Version: version, Cipher: cipher, KeyUpdates: keyUpd}
		return true
	}
	if r.hasNginx {
		add("curl_nginx_tls13_aes256", "client", tlsPortNginx, "1.3", "TLS_AES_256_GCM_SHA384", 0, func(k string) (int, int) {
			return curlTLS(t, ip, tlsPortNginx, k, "--tlsv1.3", "--tls13-ciphers", "TLS_AES_256_GCM_SHA384")
		})
		add("curl_nginx_tls13_chacha", "nginx", tlsPortNginx, "1.3", "TLS_CHACHA20_POLY1305_SHA256", 0, func(k string) (int, int) {
			return curlTLS(t, ip, tlsPortNginx, k, "--tlsv1.3", "--tls13-ciphers", "TLS_CHACHA20_POLY1305_SHA256")
		})
		add("curl_nginx_tls12_aes128", "client", tlsPortNginx, "1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0, func(k string) (int, int) {
			return curlTLS(t, ip, tlsPortNginx, k, "--tls-max", "1.2", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256")
		})
		add("curl_nginx_tls12_chacha", "nginx", tlsPortNginx, "1.2", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0, func(k string) (int, int) {
			return curlTLS(t, ip, tlsPortNginx, k, "--tls-max", "1.2", "--ciphers", "ECDHE-RSA-CHACHA20-POLY1305")
		})
		add("go_nginx_tls12_aes256", "nginx", tlsPortNginx, "1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0, func(k string) (int, int) {
			return goTLS(t, ip, tlsPortNginx, k, &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}}, 1)
		})
		add("go_nginx_tls13", "client", tlsPortNginx, "1.3", "TLS_AES_128_GCM_SHA256", 0, func(k string) (int, int) {
			return goTLS(t, ip, tlsPortNginx, k, &tls.Config{}, 1)
		})
	}
	add("go_go_tls13", "client", tlsPortGo, "1.3", "TLS_AES_128_GCM_SHA256", 0, func(k string) (int, int) {
		return goTLS(t, ip, tlsPortGo, k, &tls.Config{}, 1)
	})
	add("go_go_tls12_chacha", "go-server", tlsPortGo12, "1.2", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0, func(k string) (int, int) {
		return goTLS(t, ip, tlsPortGo12, k, &tls.Config{CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}}, 1)
	})
	add("go_go_tls12_resumed", "client", tlsPortGo12, "1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0, func(k string) (int, int) {
		return goTLS(t, ip, tlsPortGo12, k, &tls.Config{CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, ClientSessionCache: tls.NewLRUClientSessionCache(4)}, 3)
	})
	add("curl_go_tls13_chacha", "go-server", tlsPortGo, "1.3", "TLS_CHACHA20_POLY1305_SHA256", 0, func(k string) (int, int) {
		return curlTLS(t, ip, tlsPortGo, k, "--tlsv1.3", "--tls13-ciphers", "TLS_CHACHA20_POLY1305_SHA256")
	})
	add("openssl_go_keyupdate", "client", tlsPortGo, "1.3", "TLS_AES_128_GCM_SHA256", 4, func(k string) (int, int) {
		return keyUpdates(t, ip, tlsPortGo, k)
	})
	addH2Cases(t, r, add, out)
	return out
}

// TestRecordTLS rewrites testdata/tls (with -record-tls).
func TestRecordTLS(t *testing.T) {
	if !*recordTLSFlag {
		t.Skip("records testdata/tls with -record-tls (root, tcpdump, curl, nginx, cc, openssl)")
	}
	dir := filepath.Join(repoRoot, "testdata", "tls")
	os.MkdirAll(dir, 0o755)
	cases := recordTLS(t, dir)
	all := map[string]tlsCase{}
	if b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.json")); err == nil && *recordTLSOnly != "" {
		json.Unmarshal(b, &all) // the captures not recorded again stay
	}
	for name, c := range cases {
		all[name] = c
	}
	b, _ := json.MarshalIndent(all, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "MANIFEST.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range cases {
		checkTLSCapture(t, dir, name, c)
	}
}

// TestLiveTLS records the captures anew (CI runs as root) and checks that
// apitap decrypts exactly the transactions the clients made.
func TestLiveTLS(t *testing.T) {
	dir := t.TempDir()
	for name, c := range recordTLS(t, dir) {
		t.Run(name, func(t *testing.T) { checkTLSCapture(t, dir, name, c) })
	}
}

// TestLiveTLSKeysLate runs apitap run on the veth with a key log that
// curl writes to as it goes, and that gets the secrets of two sessions of
// Go's client (HTTP/1.1, then HTTP/2 with concurrent streams) only 2 s
// after they ended: all are decrypted (an ended connection waits for its
// secrets, within tls.key_wait).
func TestLiveTLSKeysLate(t *testing.T) {
	r := startTLSRig(t)
	dir := t.TempDir()
	bin := buildApitap(t, dir)
	keys := filepath.Join(dir, "keys.log")
	os.WriteFile(keys, nil, 0o644)
	events := filepath.Join(dir, "events.jsonl")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "run", "-i", r.n.Host, "--workers", "2", "--ring-mb", "8", "--emit", "transaction,stats",
		"--tls-keylog", keys, "-o", events, "--admin-addr", admin)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, "apitap run to capture", func() bool { return strings.Contains(stderr.String(), "capturing") })
	want, _ := curlTLS(t, r.n.PeerIP, tlsPortGo, keys, "--tlsv1.3")
	var held bytes.Buffer
	n, _ := goTLSKeys(t, r.n.PeerIP, tlsPortGo, &tls.Config{KeyLogWriter: &held}, 1)
	want += n
	h2reqs, _ := goH2Keys(t, r.n.PeerIP, tlsPortGo, &tls.Config{KeyLogWriter: &held}) // HTTP/2, multiplexed
	want += len(h2reqs)
	time.Sleep(2 * time.Second)
	f, err := os.OpenFile(keys, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(held.Bytes())
	f.Close()
	waitFor(t, "the transactions", func() bool {
		b, _ := os.ReadFile(events)
		return strings.Count(string(b), `"source":"tls_keylog"`) >= want
	})
	waitFor(t, "the TLS metrics", func() bool {
		resp, err := http.Get("http://" + admin + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `apitap_tls_total{counter="sessions_decrypted"} 4`)
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("apitap run: %v\n%s", err, stderr.String())
	}
	out, _ := os.ReadFile(events)
	var st struct {
		TLS map[string]uint64 `json:"tls"`
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, `"final":true`) {
			json.Unmarshal([]byte(l), &st)
		}
	}
	got, gotH2 := strings.Count(string(out), `"source":"tls_keylog"`), strings.Count(string(out), `"protocol":"h2"`)
	if got != want || gotH2 != len(h2reqs) || st.TLS["sessions_decrypted"] != 4 || st.TLS["key_waits"] == 0 || st.TLS["sessions_no_keys"] != 0 {
		t.Fatalf("%d decrypted transactions (%d HTTP/2), want %d (%d); tls %v\n%s", got, gotH2, want, len(h2reqs), st.TLS, stderr.String())
	}
	t.Logf("%d transactions decrypted live (%d HTTP/2), tls %v", want, gotH2, st.TLS)
}
