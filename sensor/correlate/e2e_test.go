package correlate_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
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

	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/internal/testgen/pcapgen"
)

// campaign is the traffic of the end-to-end test: one address stuffing
// credentials, one user walking order ids, and ordinary users, each
// request on a connection of its own, so that a load balancer spreads
// them over the sensors.
type campaign struct {
	conns [][]pcapgen.Packet
}

const (
	stuffer  = "198.51.100.77"
	attempts = 12 // 4 per sensor of three: below stuffing_users (10) on one or two sensors, above it on three
	apiHost  = "api.example.com"
)

func makeCampaign() *campaign {
	api := pcapgen.NewAPI(7)
	srv := netip.MustParseAddrPort("10.1.0.10:80")
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	c := &campaign{}
	port := uint16(40000)
	add := func(client string, at time.Time, req, resp []byte) {
		port++
		conn := pcapgen.NewConn(netip.AddrPortFrom(netip.MustParseAddr(client), port), srv, at)
		p := conn.Handshake()
		p = append(p, conn.Send(true, req)...)
		p = append(p, conn.Send(false, resp)...)
		p = append(p, conn.Close()...)
		c.conns = append(c.conns, p)
	}
	type ev struct {
		at        time.Time
		client    string
		req, resp []byte
	}
	var evs []ev
	for i := range attempts {
		body := fmt.Sprintf(`{"username":"user%02d@example.org","password":"Winter2026!%d"}`, i, i)
		evs = append(evs, ev{t0.Add(time.Duration(10+2*i) * time.Second), stuffer, api.Request("POST", apiHost, "/api/v1/login", nil, body),
			pcapgen.Response(401, `{"error":"invalid credentials"}`, "")})
	}
	for u := range 5 {
		client := fmt.Sprintf("203.0.113.%d", 10+u)
		auth := []string{"Authorization: Bearer " + api.JWT(fmt.Sprintf("user-%d", u))}
		for j := range 9 {
			at := t0.Add(time.Duration(5+u+7*j) * time.Second)
			target := "/api/v1/products?page=" + fmt.Sprint(j%3+1)
			resp := pcapgen.Response(200, api.Products(j%3+1, 5), "")
			if j%3 == 2 {
				target = fmt.Sprintf("/api/v1/users/%d", 100+u)
				resp = pcapgen.Response(200, api.User(100+u, false), "")
			}
			evs = append(evs, ev{at, client, api.Request("GET", apiHost, target, auth, ""), resp})
		}
		login := fmt.Sprintf(`{"username":"user-%d","password":"correct horse %d"}`, u, u)
		evs = append(evs, ev{t0.Add(time.Duration(2+u) * time.Second), client, api.Request("POST", apiHost, "/api/v1/login", nil, login),
			pcapgen.Response(200, `{"token":"`+api.JWT(fmt.Sprintf("user-%d", u))+`"}`, "")})
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	for _, e := range evs {
		add(e.client, e.at, e.req, e.resp)
	}
	return c
}

// write writes the connections i with keep(i) into a capture.
func (c *campaign) write(t *testing.T, path string, keep func(i int) bool) {
	t.Helper()
	var pkts []pcapgen.Packet
	for i, p := range c.conns {
		if keep(i) {
			pkts = append(pkts, p...)
		}
	}
	sort.SliceStable(pkts, func(i, j int) bool { return pkts[i].TS.Before(pkts[j].TS) })
	if err := pcapgen.WriteFile(path, pcapgen.Ethernet, &pcapgen.Encap{}, pkts); err != nil {
		t.Fatal(err)
	}
}

func build(t *testing.T, dir, name, pkg string) string {
	t.Helper()
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// startBroker starts kfakebroker (franz-go's kfake) as its own process.
func startBroker(t *testing.T, bin string, partitions int) string {
	t.Helper()
	cmd := exec.Command(bin, "-partitions", fmt.Sprint(partitions))
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

// correlator is one apitap correlate process.
type correlator struct {
	cmd    *exec.Cmd
	out    string
	mu     sync.Mutex
	stderr bytes.Buffer
	parts  []int32 // the latest assignment
	done   chan struct{}
}

func startCorrelator(t *testing.T, bin, broker, out string, partitions int) *correlator {
	t.Helper()
	c := &correlator{out: out, parts: nil, done: make(chan struct{})}
	c.cmd = exec.Command(bin, "correlate", "--kafka-brokers", broker, "--out", out, "--partitions", fmt.Sprint(partitions), "--idle", "500ms")
	r, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var l struct {
				Message    string
				Partitions []int32
			}
			json.Unmarshal(sc.Bytes(), &l)
			c.mu.Lock()
			c.stderr.Write(append(sc.Bytes(), '\n'))
			if l.Message == "partitions assigned" {
				c.parts = l.Partitions
			}
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	return c
}

// assigned returns the correlator's partitions (nil before the first
// assignment).
func (c *correlator) assigned() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parts
}

func (c *correlator) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

// stop ends the process with sig and waits for it.
func (c *correlator) stop(sig syscall.Signal) {
	c.cmd.Process.Signal(sig)
	<-c.done
	c.cmd.Wait()
}

// waitAssigned waits until every partition is assigned to one of cs.
func waitAssigned(t *testing.T, partitions int, cs ...*correlator) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		n := 0
		for _, c := range cs {
			n += len(c.assigned())
		}
		if n == partitions {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range cs {
		t.Logf("correlator: %v\n%s", c.assigned(), c.log())
	}
	t.Fatalf("the %d partitions were not assigned in 60s", partitions)
}

// partitionOf is the partition of key among n: goka's and kafka-go's
// hash (FNV-1a, as sarama's hash partitioner).
func partitionOf(key string, n int) int32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	p := int32(h.Sum32()) % int32(n)
	if p < 0 {
		p = -p
	}
	return p
}

type detection struct {
	ID, Class string
	Central   bool
	Actor     struct{ IP, User string }
	raw       string
}

func readDetections(t *testing.T, paths ...string) []detection {
	t.Helper()
	var out []detection
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			var d detection
			var head struct{ Type string }
			if len(line) == 0 || json.Unmarshal(line, &head) != nil || head.Type != "detection" {
				continue
			}
			if err := json.Unmarshal(line, &d); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			d.raw = string(line)
			out = append(out, d)
		}
	}
	return out
}

// TestEndToEnd: three sensors (apitap read) each read a third of a
// capture, split by connection, and publish observations and endpoint
// events to a Kafka-protocol broker (kfake, its own process, four
// partitions); two apitap correlate processes consume them, one is
// killed mid-way and a new one started. The credential-stuffing campaign
// that no sensor sees enough of is detected centrally, once per id, for
// the right address; the merged catalog equals the catalog of one sensor
// reading everything.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs a broker")
	}
	dir := t.TempDir()
	apitap := build(t, dir, "apitap", "../../sensor/cmd/apitap")
	broker := startBroker(t, build(t, dir, "kfakebroker", "../../tools/kfakebroker"), 4)
	c := makeCampaign()
	all := filepath.Join(dir, "all.pcap")
	c.write(t, all, func(int) bool { return true })
	var parts []string
	for s := range 3 {
		p := filepath.Join(dir, fmt.Sprintf("part%d.pcap", s))
		c.write(t, p, func(i int) bool { return i%3 == s })
		parts = append(parts, p)
	}

	// one sensor seeing everything detects the campaign; each third alone does not
	local := filepath.Join(dir, "local.jsonl")
	if out, err := exec.Command(apitap, "read", "--quiet", "--progress", "never", "-o", local, all).CombinedOutput(); err != nil {
		t.Fatalf("read all: %v\n%s", err, out)
	}
	if !hasStuffing(readDetections(t, local), false) {
		t.Fatalf("one sensor reading everything: no credential_stuffing of %s", stuffer)
	}
	for i, p := range parts {
		o := filepath.Join(dir, fmt.Sprintf("local%d.jsonl", i))
		if out, err := exec.Command(apitap, "read", "--quiet", "--progress", "never", "-o", o, p).CombinedOutput(); err != nil {
			t.Fatalf("read part %d: %v\n%s", i, err, out)
		}
		if hasStuffing(readDetections(t, o), false) {
			t.Fatalf("sensor %d alone detects the campaign: the test does not test correlation", i)
		}
	}

	outs := []string{filepath.Join(dir, "c0.jsonl"), filepath.Join(dir, "c1.jsonl"), filepath.Join(dir, "c2.jsonl")}
	cs := []*correlator{startCorrelator(t, apitap, broker, outs[0], 4), startCorrelator(t, apitap, broker, outs[1], 4)}
	waitAssigned(t, 4, cs...)
	publish := func(i int) {
		t.Helper()
		out, err := exec.Command(apitap, "read", "--quiet", "--progress", "never", "--sensor-id", fmt.Sprintf("node-%d", i), "--kafka-brokers", broker,
			"--observations", "--correlation", "central", "-o", os.DevNull, parts[i]).CombinedOutput()
		if err != nil {
			t.Fatalf("sensor %d: %v\n%s", i, err, out)
		}
	}
	// two sensors publish their share of the campaign (8 of 12 attempts)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); publish(i) }()
	}
	wg.Wait()
	time.Sleep(1500 * time.Millisecond) // consumed: in the owner's table and detectors
	if hasStuffing(readDetections(t, outs...), true) {
		t.Fatal("detected before the third sensor published")
	}
	// kill the correlator that owns the campaign's partition, start another
	p := partitionOf("ip:"+stuffer, 4)
	victim, survivor := cs[0], cs[1]
	if slices.Contains(cs[1].assigned(), p) {
		victim, survivor = cs[1], cs[0]
	}
	if !slices.Contains(victim.assigned(), p) {
		t.Fatalf("partition %d of the campaign is assigned to neither correlator (%v, %v)", p, cs[0].assigned(), cs[1].assigned())
	}
	victim.stop(syscall.SIGKILL)
	restarted := startCorrelator(t, apitap, broker, outs[2], 4)
	// the third sensor publishes the rest: only the state restored from
	// the changelog makes the campaign whole
	publish(2)
	deadline := time.Now().Add(90 * time.Second)
	for !hasStuffing(readDetections(t, outs...), true) && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // what is still on its way
	// the catalog merger (in the correlators) is eventually consistent:
	// wait, with a bound, until it has merged every sensor's endpoint
	// events before the correlators stop (on a loaded machine the
	// restarted member takes a while to catch up)
	single := filepath.Join(dir, "single.json")
	if out, err := exec.Command(apitap, "catalog", "--quiet", "--progress", "never", "--format", "json", "-o", single, all).CombinedOutput(); err != nil {
		t.Fatalf("catalog: %v\n%s", err, out)
	}
	merged := filepath.Join(dir, "merged.json")
	want := catalogOf(t, single)
	for deadline := time.Now().Add(60 * time.Second); ; {
		out, err := exec.Command(apitap, "catalog", "--from-kafka", broker, "--format", "json", "-o", merged).CombinedOutput()
		if err != nil {
			t.Fatalf("catalog --from-kafka: %v\n%s", err, out)
		}
		if slices.Equal(want, catalogOf(t, merged)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	restarted.stop(syscall.SIGTERM)
	survivor.stop(syscall.SIGTERM)
	if !hasStuffing(readDetections(t, outs...), true) {
		t.Fatalf("no central credential_stuffing of %s; correlators said:\n%s\n%s", stuffer, survivor.log(), restarted.log())
	}
	t.Logf("campaign partition %d; survivor:\n%s\nrestarted:\n%s", p, survivor.log(), restarted.log())
	dets := readDetections(t, outs...)
	// no detection lost or duplicated: one id per class and actor; a
	// detection written twice (a replay after the kill) has the same id
	ids := map[string]string{}
	for _, d := range dets {
		if !d.Central {
			t.Errorf("a correlator's detection is not marked central: %s", d.raw)
		}
		k := d.Class + " " + d.Actor.IP + " " + d.Actor.User
		if id, ok := ids[k]; ok && id != d.ID {
			t.Errorf("%s detected twice with different ids (%s, %s)", k, id, d.ID)
		}
		ids[k] = d.ID
	}
	t.Logf("central detections: %d lines, %d distinct", len(dets), len(ids))

	// the merged catalog equals one sensor's (and stays so once the
	// correlators stopped: it is read from the merger's changelog)
	if out, err := exec.Command(apitap, "catalog", "--from-kafka", broker, "--format", "json", "-o", merged).CombinedOutput(); err != nil {
		t.Fatalf("catalog --from-kafka: %v\n%s", err, out)
	}
	got := catalogOf(t, merged)
	if len(want) == 0 || !slices.Equal(want, got) {
		t.Errorf("merged catalog differs from one sensor's:\n got %q\nwant %q", got, want)
	}
	// the merged OpenAPI document and report equal one sensor's
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(apitap, args...).CombinedOutput(); err != nil {
			t.Fatalf("apitap %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("catalog", "--quiet", "--progress", "never", "--format", "openapi-json", "-o", filepath.Join(dir, "single.openapi.json"), all)
	run("catalog", "--from-kafka", broker, "--format", "openapi-json", "-o", filepath.Join(dir, "merged.openapi.json"))
	run("catalog", "--from-kafka", broker, "--format", "openapi", "-o", filepath.Join(dir, "merged.openapi.yaml"))
	want, got = openAPIOf(t, filepath.Join(dir, "single.openapi.json")), openAPIOf(t, filepath.Join(dir, "merged.openapi.json"))
	if len(want) == 0 || !slices.Equal(want, got) {
		t.Errorf("merged OpenAPI differs from one sensor's:\n got %q\nwant %q", got, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "merged.openapi.yaml")); err != nil || !bytes.HasPrefix(b, []byte("components:")) && !bytes.Contains(b, []byte("openapi: 3.1")) {
		t.Errorf("merged OpenAPI YAML: %v %.200s", err, b)
	}
	run("report", "--quiet", "--progress", "never", "-o", filepath.Join(dir, "single.html"), all)
	run("report", "--from-kafka", broker, "-o", filepath.Join(dir, "merged.html"))
	want, got = reportOf(t, filepath.Join(dir, "single.html")), reportOf(t, filepath.Join(dir, "merged.html"))
	if len(want) == 0 || !slices.Equal(want, got) {
		t.Errorf("merged report's catalog differs from one sensor's:\n got %q\nwant %q", got, want)
	}
	t.Logf("merged across three sensors, equal to one sensor's: catalog %d endpoints, report rows %q", len(catalogOf(t, merged)), got)
}

// openAPIOf lists an OpenAPI document's operations with their parameters
// and response statuses (schemas are the busiest sensor's when merged).
func openAPIOf(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ Name, In string }
			Responses  map[string]any
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for p, item := range doc.Paths {
		for m, op := range item {
			var ps, rs []string
			for _, q := range op.Parameters {
				ps = append(ps, q.In+":"+q.Name)
			}
			for r := range op.Responses {
				rs = append(rs, r)
			}
			sort.Strings(ps)
			sort.Strings(rs)
			out = append(out, fmt.Sprintf("%s %s params=%v responses=%v", m, p, ps, rs))
		}
	}
	sort.Strings(out)
	return out
}

var (
	reportEP    = regexp.MustCompile(`(?s)<div class="ep"[^>]*data-key="([^"]*)">(.*?)</div>`)
	reportBadge = regexp.MustCompile(`<span class="badge[^"]*">([^<]*)</span>`)
	reportCalls = regexp.MustCompile(`<span class="num muted">(\d+) calls?</span>`)
)

// reportOf lists the endpoints of a report's catalog tree with their
// calls and badges (auth kinds, sensitive types); risk chips are left
// out (the merged entry carries the busiest sensor's score).
func reportOf(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range reportEP.FindAllSubmatch(b, -1) {
		var badges []string
		for _, bm := range reportBadge.FindAllSubmatch(m[2], -1) {
			badges = append(badges, string(bm[1]))
		}
		sort.Strings(badges)
		calls := reportCalls.FindSubmatch(m[2])
		if calls == nil {
			t.Fatalf("%s: an endpoint row without calls: %s", path, m[0])
		}
		out = append(out, fmt.Sprintf("%s calls=%s %v", m[1], calls[1], badges))
	}
	sort.Strings(out)
	return out
}

func hasStuffing(dets []detection, central bool) bool {
	for _, d := range dets {
		if d.Class == "credential_stuffing" && d.Actor.IP == stuffer && d.Central == central {
			return true
		}
	}
	return false
}

// catalogOf lists the catalog's endpoints with what merging must keep:
// calls, statuses, auth kinds, sensitive types, first and last seen.
func catalogOf(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cat discovery.CatalogJSON
	if err := json.Unmarshal(b, &cat); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, e := range cat.Endpoints {
		var sens []string
		for _, s := range e.SensitiveData {
			sens = append(sens, fmt.Sprintf("%s/%s:%d", s.Type, s.In, s.Calls))
		}
		var params []string
		for _, p := range e.Params {
			params = append(params, fmt.Sprintf("%s/%s:%d", p.Name, p.In, p.Count))
		}
		sort.Strings(sens)
		sort.Strings(params)
		out = append(out, fmt.Sprintf("%s %s %s %s calls=%d status=%v auth=%v sens=%v params=%v %s..%s", e.ID, e.Host, e.Method, e.Path, e.Calls, e.StatusCodes, e.Auth.Types, sens, params, e.FirstSeen, e.LastSeen))
	}
	sort.Strings(out)
	return out
}
