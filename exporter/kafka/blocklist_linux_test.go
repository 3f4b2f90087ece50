//go:build linux

package kafka_test

import (
	"encoding/json"
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

	"github.com/apitap/apitap/internal/testutil/netnstest"
)

// buildApitap builds the static binary into dir.
func buildApitap(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "apitap")
	build := exec.Command("go", "build", "-o", bin, "../../sensor/cmd/apitap")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// get fetches url from a given local address and returns the status.
func get(local, url string) (int, error) {
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}).DialContext}}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestBlocklistEnforcement runs the whole mitigation path for real: a live
// sensor (apitap run on the namespace's side of a veth, so that the clients'
// addresses are not its own) sees SQL injections against an nginx in a
// network namespace, the blocklist entries reach a Kafka-protocol broker,
// `apitap blocklist` turns them into an nginx deny include and reloads
// nginx: the attacker then gets 403 while a bystander gets 200, and after
// the TTL the block is lifted. It measures the latency from the attack to
// the entry being readable by the consumer.
func TestBlocklistEnforcement(t *testing.T) {
	n := netnstest.New(t)
	if _, err := exec.LookPath("nginx"); err != nil {
		if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
			t.Skip("needs nginx (Debian package nginx-light; .ci/run installs it)")
		}
	}
	nginxBin := "/usr/sbin/nginx"
	if p, err := exec.LookPath("nginx"); err == nil {
		nginxBin = p
	}
	dir := t.TempDir()
	sub := n.HostIP[:strings.LastIndexByte(n.HostIP, '.')+1]
	bystander := sub + "3"
	attackers := []string{n.HostIP}
	for i := 10; i < 30; i++ {
		attackers = append(attackers, fmt.Sprintf("%s%d", sub, i))
	}
	for _, a := range append(attackers[1:], bystander) {
		if out, err := exec.Command("ip", "addr", "add", a+"/24", "dev", n.Host).CombinedOutput(); err != nil {
			t.Fatalf("ip addr add %s: %v %s", a, err, out)
		}
	}
	// nginx in the namespace, with the include apitap blocklist maintains
	// a static answer: "return" would run before the access phase that denies
	os.MkdirAll(filepath.Join(dir, "www"), 0o755)
	os.WriteFile(filepath.Join(dir, "www", "ok.json"), []byte(`{"items":[],"page":1}`), 0o644)
	deny := filepath.Join(dir, "deny.conf")
	os.WriteFile(deny, []byte("# empty\n"), 0o644)
	addr := n.PeerIP + ":8081"
	conf := filepath.Join(dir, "nginx.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`user root; daemon off; worker_processes 1; pid %[1]s/nginx.pid; error_log %[1]s/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s; uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
  server {
    listen %[2]s;
    include %[3]s;
    root %[1]s/www;
    location / { default_type application/json; try_files /ok.json =404; }
  }
}
`, dir, addr, deny)), 0o644)
	ngx := n.Exec(nginxBin, "-c", conf)
	ngx.Stderr = os.Stderr
	netnstest.Start(t, ngx) // nginx's worker too
	netnstest.WaitTCP(t, addr, 10*time.Second)

	broker := startBrokerArgs(t, "-host", n.HostIP) // reachable from the namespace
	bin := buildApitap(t, dir)
	cfg := filepath.Join(dir, "apitap.yaml")
	// the test network is private (10.200.x.x): opt in to blocking it
	os.WriteFile(cfg, []byte("blocklist:\n  never_block: {private: false}\n  rules:\n    - {classes: [sqli, path_traversal], min_severity: high, action: block, ttl: 20s}\n"), 0o644)
	sensorLog := &strings.Builder{}
	run := n.Exec(bin, "run", "-i", n.Peer, "--workers", "1", "--admin-addr", "", "--kafka-brokers", broker, "--config", cfg, "--emit", "detection,blocklist",
		"--sensor-id", "enforce", "--stats-interval", "1s", "-o", filepath.Join(dir, "events.jsonl"))
	run.Stderr = sensorLog
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Process.Signal(syscall.SIGTERM); run.Wait() })
	feed := freePort(t)
	consumerLog := &strings.Builder{}
	reload := fmt.Sprintf("ip netns exec %s %s -c %s -s reload", n.Name, nginxBin, conf)
	// the consumer runs beside the clients here, not beside nginx: their
	// addresses are its own
	cons := exec.Command(bin, "blocklist", "--kafka-brokers", broker, "--nginx", deny, "--reload-cmd", reload, "--debounce", "20ms", "--listen", feed, "--never-block-local=false")
	cons.Stderr = consumerLog
	if err := cons.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cons.Process.Signal(syscall.SIGTERM); cons.Wait() })
	netnstest.WaitTCP(t, feed, 10*time.Second)
	for end := time.Now().Add(10 * time.Second); !strings.Contains(sensorLog.String(), "capturing"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("apitap run did not start:\n%s", sensorLog.String())
		}
	}

	base := "http://" + addr
	for _, who := range []string{n.HostIP, bystander} {
		if st, err := get(who, base+"/v1/items"); err != nil || st != 200 {
			t.Fatalf("before: %s gets %d %v", who, st, err)
		}
	}
	inFeed := func(ip string) bool {
		resp, err := http.Get("http://" + feed + "/blocklist.txt")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, l := range strings.Split(string(b), "\n") {
			if l == ip {
				return true
			}
		}
		return false
	}
	// two signals in one request (an injection and a traversal): enough
	// confidence for a block
	attack := base + "/v1/search?q=%27%20UNION%20SELECT%20username%2Cpassword%20FROM%20users--&f=..%2F..%2F..%2F..%2Fetc%2Fpasswd"
	var lat []time.Duration
	for _, a := range attackers {
		start := time.Now()
		if _, err := get(a, attack); err != nil {
			t.Fatal(err)
		}
		for !inFeed(a) {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%s never reached the blocklist feed\nsensor:\n%s\nconsumer:\n%s", a, sensorLog.String(), consumerLog.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p99 := lat[(len(lat)*99+99)/100-1]
	t.Logf("attack to blocklist entry readable by the consumer, %d attacks: p50 %v, p99 %v, max %v", len(lat), lat[len(lat)/2], p99, lat[len(lat)-1])

	// nginx enforces it: the attacker gets 403, a bystander 200
	waitStatus := func(who string, want int, within time.Duration) {
		t.Helper()
		st := 0
		for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if st, _ = get(who, base+"/v1/items"); st == want {
				return
			}
		}
		b, _ := os.ReadFile(deny)
		t.Fatalf("%s gets %d, want %d\ndeny.conf:\n%s\nconsumer:\n%s", who, st, want, b, consumerLog.String())
	}
	waitStatus(n.HostIP, 403, 5*time.Second)
	waitStatus(bystander, 200, time.Second)
	// the TTL (20 s, longer than the 21 attacks take) passes: the entry expires, the block is lifted
	waitStatus(n.HostIP, 200, 40*time.Second)
	// the sensor revoked the entries too: a revoked event and a tombstone
	var b []byte
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) { // the last attack came up to ~15 s after the first
		if b, _ = os.ReadFile(filepath.Join(dir, "events.jsonl")); strings.Count(string(b), `"revoked":true`) == len(attackers) {
			break
		}
	}
	if n := strings.Count(string(b), `"revoked":true`); n != len(attackers) {
		t.Fatalf("%d revoked events, want %d", n, len(attackers))
	}
	var tombstones int
	for _, m := range readTopic(t, broker, "apitap.blocklist", 3) {
		if m.Value == nil {
			tombstones++
		}
	}
	if tombstones != len(attackers) {
		t.Errorf("%d tombstones on apitap.blocklist, want %d", tombstones, len(attackers))
	}
	// SIGTERM while capturing: the sensor flushes and exits 0, and every
	// detection it wrote reaches Kafka
	run.Process.Signal(syscall.SIGTERM)
	if err := run.Wait(); err != nil {
		t.Fatalf("apitap run after SIGTERM: %v\n%s", err, sensorLog.String())
	}
	b, _ = os.ReadFile(filepath.Join(dir, "events.jsonl"))
	wrote := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct{ Type, ID string }
		if json.Unmarshal([]byte(l), &e) == nil && e.Type == "detection" {
			wrote[e.ID] = true
		}
	}
	got := map[string]bool{}
	for _, m := range readTopic(t, broker, "apitap.detections", 3) {
		var e struct{ ID string }
		json.Unmarshal(m.Value, &e)
		got[e.ID] = true
	}
	for id := range wrote {
		if !got[id] {
			t.Errorf("detection %s written before SIGTERM never reached Kafka", id)
		}
	}
	t.Logf("after SIGTERM: %d detections written, %d in Kafka", len(wrote), len(got))
}
