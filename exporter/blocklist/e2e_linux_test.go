//go:build linux

package blocklist_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/apitap/apitap/exporter/blocklist"
	"github.com/apitap/apitap/internal/testutil/netnstest"
)

// logBuf collects a process's output for the failure message.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func lookBin(t *testing.T, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/" + name); err == nil {
		return "/usr/sbin/" + name
	}
	t.Skipf("needs %s (Debian package %s; .ci/run installs it)", name, pkg)
	return ""
}

func goBuild(t *testing.T, dir, name, pkg string) string {
	t.Helper()
	bin := filepath.Join(dir, name)
	build := exec.Command("go", "build", "-o", bin, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// request sends GET url from local address from, with extra headers, and
// returns the status (0 on a transport error).
func request(from, url string, hdr map[string]string) int {
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext}}
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header[k] = []string{v}
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestHelperNetnsRequests is not a test: TestEnforcement runs it inside the
// namespace to send requests from 127.0.0.1 (the trusted proxy) with the
// X-Forwarded-For values in APITAP_BL_XFF (JSON list), each with two
// attacks.
func TestHelperNetnsRequests(t *testing.T) {
	url := os.Getenv("APITAP_BL_URL")
	if url == "" {
		t.Skip("helper of TestEnforcement")
	}
	var xffs []string
	json.Unmarshal([]byte(os.Getenv("APITAP_BL_XFF")), &xffs)
	for _, x := range xffs {
		for _, q := range attacks {
			fmt.Println(x, request("127.0.0.1", url+q, map[string]string{"X-Forwarded-For": x}))
		}
	}
}

// attacks are two distinct signals (a block needs more than one, or one
// of high confidence).
var attacks = []string{
	"/v1/search?q=%27%20UNION%20SELECT%20username%2Cpassword%20FROM%20users--",
	"/v1/files?name=..%2F..%2F..%2F..%2Fetc%2Fpasswd",
}

// spoofedFrames builds, for a spoofed source, what a blind attacker sends:
// a SYN and one request segment carrying injections, with no handshake and
// no answer.
func spoofedFrames(t *testing.T, src, dst netip.Addr, srcMAC, dstMAC net.HardwareAddr, sport uint16) [][]byte {
	payload := []byte("GET /v1/search?q=%27%20UNION%20SELECT%20password%20FROM%20users--&f=..%2F..%2F..%2Fetc%2Fpasswd&c=%3Bcat%20%2Fetc%2Fshadow HTTP/1.1\r\n" +
		"Host: api.example\r\nUser-Agent: sqlmap/1.7\r\nX-Api: ${jndi:ldap://x/a}\r\n\r\n")
	var out [][]byte
	for i, flags := range []string{"S", "PA"} {
		eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: 8081, Seq: 1000, Window: 64240, SYN: flags == "S", PSH: flags == "PA", ACK: flags == "PA", Ack: 7777}
		if i == 1 {
			tcp.Seq = 1001
		}
		var net gopacket.NetworkLayer
		if src.Is4() {
			ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
			net = ip
		} else {
			eth.EthernetType = layers.EthernetTypeIPv6
			net = &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src.AsSlice(), DstIP: netip.MustParseAddr("2001:db8::2").AsSlice()}
		}
		tcp.SetNetworkLayerForChecksum(net)
		buf := gopacket.NewSerializeBuffer()
		ls := []gopacket.SerializableLayer{eth, net.(gopacket.SerializableLayer), tcp}
		if flags == "PA" {
			ls = append(ls, gopacket.Payload(payload))
		}
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]byte(nil), buf.Bytes()...))
	}
	return out
}

// TestEnforcement runs the mitigation path for real, in a network
// namespace: nginx and HAProxy (in front of a second nginx server, with
// X-Forwarded-For) serve an API; a live sensor (apitap run on the veth and
// on lo) sees the traffic and sends blocklist entries to a Kafka-protocol
// broker; `apitap blocklist` keeps nginx's deny include (checked with
// nginx -t and haproxy -c, then nginx reloaded) and HAProxy's ACL over the
// runtime API. Spoofed sources (SYN and one request, no handshake, no
// answer: the gateway, the server, a bystander, loopback, unspecified,
// multicast, broadcast) and hostile X-Forwarded-For values never become
// entries; attackers are denied by both; the servers stay healthy and
// reloadable throughout. It prints the attack-to-enforcement latency.
func TestEnforcement(t *testing.T) {
	n := netnstest.New(t)
	nginxBin := lookBin(t, "nginx", "nginx-light")
	hapBin := lookBin(t, "haproxy", "haproxy")
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	sub := n.HostIP[:strings.LastIndexByte(n.HostIP, '.')+1]
	bystander, xffClient := sub+"3", sub+"4"
	var attackers []string
	for i := 10; i < 30; i++ {
		attackers = append(attackers, fmt.Sprintf("%s%d", sub, i))
	}
	for _, a := range append([]string{bystander, xffClient}, attackers...) {
		if out, err := exec.Command("ip", "addr", "add", a+"/24", "dev", n.Host).CombinedOutput(); err != nil {
			t.Fatalf("ip addr add %s: %v %s", a, err, out)
		}
	}
	bin := goBuild(t, dir, "apitap", "../../sensor/cmd/apitap")
	brokerBin := goBuild(t, dir, "kfakebroker", "../../tools/kfakebroker")

	// the broker, nginx and HAProxy run in the namespace
	broker := n.Exec(brokerBin, "-partitions", "1")
	stdout, _ := broker.StdoutPipe()
	if err := broker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { broker.Process.Kill(); broker.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening ") {
		t.Fatalf("kfakebroker: %q %v", line, err)
	}
	brokerAddr := strings.TrimSpace(strings.TrimPrefix(line, "listening "))

	os.MkdirAll(filepath.Join(dir, "www"), 0o755)
	os.WriteFile(filepath.Join(dir, "www", "ok.json"), []byte(`{"items":[],"page":1}`), 0o644)
	deny := filepath.Join(dir, "deny.conf")
	os.WriteFile(deny, []byte("# empty\n"), 0o644)
	direct, proxied := n.PeerIP+":8081", n.PeerIP+":8080"
	nginxConf := filepath.Join(dir, "nginx.conf")
	os.WriteFile(nginxConf, []byte(fmt.Sprintf(`user root; daemon off; worker_processes 1; pid %[1]s/nginx.pid; error_log %[1]s/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s; uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
  server {
    listen %[2]s;
    include %[3]s;
    root %[1]s/www;
    location / { default_type application/json; try_files /ok.json =404; }
  }
  server {
    listen 127.0.0.1:8082;
    set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For; real_ip_recursive on;
    include %[3]s;
    root %[1]s/www;
    location / { default_type application/json; try_files /ok.json =404; }
  }
}
`, dir, direct, deny)), 0o644)
	ngx := n.Exec(nginxBin, "-c", nginxConf)
	ngx.Stderr = os.Stderr
	netnstest.Start(t, ngx) // nginx's worker too

	acl, sock := filepath.Join(dir, "apitap.acl"), filepath.Join(dir, "haproxy.sock")
	os.WriteFile(acl, nil, 0o644)
	hapConf := filepath.Join(dir, "haproxy.cfg")
	os.WriteFile(hapConf, []byte(fmt.Sprintf(`global
  stats socket %[1]s level admin
  pidfile %[4]s/haproxy.pid
defaults
  mode http
  timeout client 5s
  timeout server 5s
  timeout connect 5s
frontend api
  bind %[2]s
  acl apitap_blocked src -f %[3]s
  http-request deny deny_status 403 if apitap_blocked
  option forwardfor
  default_backend nginx
backend nginx
  server n1 127.0.0.1:8082
`, sock, proxied, acl, dir)), 0o644)
	hap := n.Exec(hapBin, "-W", "-db", "-f", hapConf)
	hap.Stderr = os.Stderr
	netnstest.Start(t, hap) // the master and its worker (-W)
	netnstest.WaitTCP(t, direct, 10*time.Second)
	netnstest.WaitTCP(t, proxied, 10*time.Second)

	// the sensor on the veth and on lo (HAProxy to nginx)
	cfg := filepath.Join(dir, "apitap.yaml")
	os.WriteFile(cfg, []byte(`sensor:
  trusted_proxies: [127.0.0.1/32]   # HAProxy, in front of the second nginx server
reassembly:
  idle_timeout: 2s          # unanswered spoofed requests are reported soon
blocklist:
  never_block:
    private: false          # the test network is 10.200.x.x
`), 0o644)
	events := filepath.Join(dir, "events.jsonl")
	sensorLog := &logBuf{}
	sensor := n.Exec(bin, "run", "-i", n.Peer, "-i", "lo", "--workers", "1", "--kafka-brokers", brokerAddr, "--config", cfg,
		"--emit", "detection,blocklist,stats", "--sensor-id", "e2e", "--stats-interval", "1s", "--admin-addr", "", "-o", events)
	sensor.Stderr = sensorLog
	if err := sensor.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sensor.Process.Signal(syscall.SIGTERM); sensor.Wait() })
	// one consumer (its own group) per enforcement point, as deployed
	consumerLog := &logBuf{}
	feed := n.PeerIP + ":8088"
	consumers := [][]string{
		{"blocklist", "--kafka-brokers", brokerAddr, "--group", "nginx", "--nginx", deny, "--listen", feed,
			"--check-cmd", fmt.Sprintf("%s -t -q -c %s", nginxBin, nginxConf), "--reload-cmd", fmt.Sprintf("%s -s reload -c %s", nginxBin, nginxConf)},
		{"blocklist", "--kafka-brokers", brokerAddr, "--group", "haproxy", "--haproxy", acl, "--haproxy-runtime", sock,
			"--check-cmd", fmt.Sprintf("%s -c -q -f %s", hapBin, hapConf)},
	}
	for _, args := range consumers {
		c := n.Exec(bin, args...)
		c.Stderr = consumerLog
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Signal(syscall.SIGTERM); c.Wait() })
	}
	for end := time.Now().Add(15 * time.Second); !strings.Contains(sensorLog.String(), "capturing") || strings.Count(consumerLog.String(), "consuming") < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("not started:\nsensor:\n%s\nconsumer:\n%s", sensorLog.String(), consumerLog.String())
		}
	}
	fail := func(format string, a ...any) {
		t.Helper()
		b, _ := os.ReadFile(deny)
		ev, _ := os.ReadFile(events)
		t.Fatalf(format+"\ndeny.conf:\n%s\nsensor:\n%s\nconsumer:\n%s\nevents:\n%.20000s", append(a, b, sensorLog.String(), consumerLog.String(), ev)...)
	}
	healthy := func(phase string) {
		t.Helper()
		for _, u := range []string{"http://" + direct + "/v1/items", "http://" + proxied + "/v1/items"} {
			if st := request(bystander, u, nil); st != 200 {
				fail("%s: the bystander gets %d from %s", phase, st, u)
			}
		}
		if out, err := n.Exec(nginxBin, "-t", "-q", "-c", nginxConf).CombinedOutput(); err != nil {
			fail("%s: nginx -t: %v %s", phase, err, out)
		}
		if out, err := n.Exec(nginxBin, "-s", "reload", "-c", nginxConf).CombinedOutput(); err != nil {
			fail("%s: nginx reload: %v %s", phase, err, out)
		}
		if out, err := n.Exec(hapBin, "-c", "-q", "-f", hapConf).CombinedOutput(); err != nil {
			fail("%s: haproxy -c: %v %s", phase, err, out)
		}
		if err := hap.Process.Signal(syscall.SIGUSR2); err != nil { // master-worker reload
			fail("%s: haproxy reload: %v", phase, err)
		}
		netnstest.WaitTCP(t, proxied, 10*time.Second)
		checkFiles(t, deny, acl)
	}
	healthy("before")

	// spoofed sources: SYN and one request each, never answered
	hostIf, err := net.InterfaceByName(n.Host)
	if err != nil {
		t.Fatal(err)
	}
	peerMACText, err := n.Exec("cat", "/sys/class/net/"+n.Peer+"/address").Output()
	if err != nil {
		t.Fatal(err)
	}
	peerMAC, _ := net.ParseMAC(strings.TrimSpace(string(peerMACText)))
	spoofed := []string{n.HostIP, n.PeerIP, bystander, "45.0.0.66", "127.0.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1"}
	h, err := afpacket.NewTPacket(afpacket.OptInterface(n.Host))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range spoofed {
		for _, f := range spoofedFrames(t, netip.MustParseAddr(s), netip.MustParseAddr(n.PeerIP), hostIf.HardwareAddr, peerMAC, uint16(40000+i)) {
			if err := h.WritePacketData(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.Close()
	// the sensor saw them: unconfirmed detections
	waitEvents(t, events, 10*time.Second, func(evs []ev) bool {
		n := 0
		for _, e := range evs {
			if e.Type == "detection" && !e.Confirmed && e.Actor.IP == "45.0.0.66" {
				n++
			}
		}
		return n > 0
	}, fail)
	healthy("after spoofed sources")

	// hostile X-Forwarded-For values: from the trusted proxy's address
	// straight to the backend, and through HAProxy (which appends the
	// client, so the client is the one named)
	hostileXFF := []string{"fe80::1%x;allow all", "1.2.3.4;allow all", "255.255.255.255", "127.0.0.1", "::1", "0.0.0.0", "45.0.0.77\n}", strings.Repeat("9", 5000)}
	xb, _ := json.Marshal(hostileXFF)
	helper := n.Exec(os.Args[0], "-test.run=^TestHelperNetnsRequests$")
	helper.Env = append(os.Environ(), "APITAP_BL_URL=http://127.0.0.1:8082", "APITAP_BL_XFF="+string(xb))
	if out, err := helper.CombinedOutput(); err != nil {
		fail("helper: %v %s", err, out)
	}
	for _, q := range attacks {
		request(xffClient, "http://"+proxied+q, map[string]string{"X-Forwarded-For": "fe80::1%x;allow all"})
	}
	healthy("after hostile X-Forwarded-For")

	inFeed := func(ip string) bool {
		resp, err := http.Get("http://" + feed + "/blocklist.txt")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return slices.Contains(strings.Split(string(b), "\n"), ip)
	}
	// attackers, through HAProxy: both enforcement points deny them
	var latNginx, latHAProxy, latFeed []time.Duration
	for _, a := range attackers {
		if st := request(a, "http://"+proxied+attacks[0], nil); st != 200 {
			fail("%s: first attack answered %d", a, st)
		}
		start := time.Now()
		request(a, "http://"+proxied+attacks[1], nil)
		sent := time.Since(start)
		var gotN, gotH, gotF time.Duration
		for gotN == 0 || gotH == 0 || gotF == 0 {
			if time.Since(start) > 10*time.Second {
				fail("%s not denied within 10 s (nginx %v, HAProxy %v, feed %v)", a, gotN, gotH, gotF)
			}
			if gotF == 0 && inFeed(a) {
				gotF = time.Since(start)
			}
			if gotH == 0 && request(a, "http://"+proxied+"/v1/items", nil) == 403 {
				gotH = time.Since(start)
			}
			if gotN == 0 && request(a, "http://"+direct+"/v1/items", nil) == 403 {
				gotN = time.Since(start)
			}
			time.Sleep(5 * time.Millisecond)
		}
		_ = sent
		latNginx, latHAProxy, latFeed = append(latNginx, gotN), append(latHAProxy, gotH), append(latFeed, gotF)
	}
	healthy("after the attackers")
	if st := request(xffClient, "http://"+direct+"/v1/items", nil); st != 403 {
		fail("the client behind the hostile X-Forwarded-For value gets %d from nginx, want 403", st)
	}

	// the sensor stops: its final stats count what was withheld
	sensor.Process.Signal(syscall.SIGTERM)
	if err := sensor.Wait(); err != nil {
		fail("apitap run after SIGTERM: %v", err)
	}
	blocked := map[string]bool{}
	var withheld map[string]int
	want := map[string]bool{xffClient: true}
	for _, a := range attackers {
		want[a] = true
	}
	viaProxy := map[string]bool{} // attackers named behind the proxy (HAProxy to nginx, on lo)
	for _, e := range readEvents(t, events) {
		switch e.Type {
		case "blocklist":
			blocked[e.ActorBL.Value] = true
		case "stats":
			withheld = e.Withheld
		case "detection":
			if e.Actor.Peer == "127.0.0.1" && want[e.Actor.IP] && e.Confirmed {
				viaProxy[e.Actor.IP] = true
			}
		}
	}
	if len(viaProxy) != len(want) {
		fail("%d of %d attackers named by the detections behind the proxy", len(viaProxy), len(want))
	}
	for v := range blocked {
		if !want[v] {
			fail("a blocklist entry for %q", v)
		}
	}
	if len(blocked) != len(want) {
		fail("%d actors blocked, want %d", len(blocked), len(want))
	}
	if withheld["unconfirmed"] == 0 {
		fail("the stats do not count the unconfirmed detections: %v", withheld)
	}
	t.Logf("withheld by the sensor: %v", withheld)
	report := func(name string, l []time.Duration) string {
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		p99 := l[(len(l)*99+99)/100-1]
		return fmt.Sprintf("%s p50 %v p99 %v max %v", name, l[len(l)/2].Round(time.Millisecond), p99.Round(time.Millisecond), l[len(l)-1].Round(time.Millisecond))
	}
	msg := fmt.Sprintf("attack to enforcement, %d attackers: %s; %s; (entry in the consumer's feed: %s)", len(attackers),
		report("nginx (file, check, reload)", latNginx), report("HAProxy (runtime API)", latHAProxy), report("", latFeed))
	t.Log(msg)
	fmt.Println("blocklist e2e:", msg)
	if testing.Verbose() {
		t.Logf("consumers:\n%s", consumerLog.String())
	}
}

// ev is what the test reads of an event.
type ev struct {
	Type      string `json:"type"`
	Class     string `json:"class"`
	Confirmed bool   `json:"confirmed"`
	Actor     struct {
		IP   string `json:"ip"`
		Peer string `json:"peer"`
	} `json:"actor"`
	ActorBL struct {
		Value string `json:"value"`
	}
	Withheld map[string]int `json:"blocklist_withheld"`
}

func readEvents(t *testing.T, path string) []ev {
	b, _ := os.ReadFile(path)
	var out []ev
	for _, l := range strings.Split(string(b), "\n") {
		var e ev
		if json.Unmarshal([]byte(l), &e) != nil {
			continue
		}
		if e.Type == "blocklist" {
			var bl struct {
				Actor struct {
					Value string `json:"value"`
				} `json:"actor"`
			}
			json.Unmarshal([]byte(l), &bl)
			e.ActorBL.Value = bl.Actor.Value
		}
		out = append(out, e)
	}
	return out
}

func waitEvents(t *testing.T, path string, within time.Duration, ok func([]ev) bool, fail func(string, ...any)) {
	for end := time.Now().Add(within); ; time.Sleep(50 * time.Millisecond) {
		if ok(readEvents(t, path)) {
			return
		}
		if time.Now().After(end) {
			fail("the expected events did not come")
		}
	}
}

var denyLine = regexp.MustCompile(`^deny ([0-9a-f.:/]+);$`)

// checkFiles: every line of the enforced files is a canonical, blockable
// address.
func checkFiles(t *testing.T, deny, acl string) {
	t.Helper()
	for _, f := range []string{deny, acl} {
		b, _ := os.ReadFile(f)
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			v := l
			if f == deny {
				m := denyLine.FindStringSubmatch(l)
				if m == nil {
					t.Fatalf("%s: line %q", f, l)
				}
				v = m[1]
			}
			c, why := blocklist.Canonical("ip", v, nil, nil)
			if why != "" {
				c, why = blocklist.Canonical("cidr", v, nil, nil)
			}
			if why != "" || c != v {
				t.Fatalf("%s: %q is not a canonical blockable address (%s)", f, v, why)
			}
		}
	}
}
