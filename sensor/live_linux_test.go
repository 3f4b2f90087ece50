//go:build linux

package sensor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/bpf"
	"github.com/apitap/apitap/internal/testutil/eventtest"
	"github.com/apitap/apitap/internal/testutil/netnstest"
	"github.com/apitap/apitap/sensor/capture"
)

// TestHelperHTTPServer is not a test: the live test starts the test binary
// inside a network namespace with APITAP_HELPER_ADDR set, and this serves
// HTTP there until killed.
func TestHelperHTTPServer(t *testing.T) {
	addr := os.Getenv("APITAP_HELPER_ADDR")
	if addr == "" {
		t.Skip("helper process for TestLiveAFPacket")
	}
	netnstest.ServeHTTP(addr)
}

// TestLiveAFPacket runs a real HTTP server in a network namespace, talks to
// it from the root namespace over a veth pair, captures on the veth with
// AF_PACKET (two fanout sockets, two workers) and checks the exact
// transactions.
func TestLiveAFPacket(t *testing.T) {
	n := netnstest.New(t)
	addr := n.PeerIP + ":8080"
	n.StartServer(t, addr, "TestHelperHTTPServer")

	var srcs []capture.Source
	for i := 0; i < 2; i++ {
		s, err := capture.OpenAFPacket(capture.AFPacketConfig{Iface: n.Host, RingBytes: 8 << 20, FanoutID: uint16(4000 + os.Getpid()%1000), PollTimeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		srcs = append(srcs, s)
	}
	cfg := Config{}
	cfg.Sensor.ID, cfg.Sensor.Workers = "live", 2
	cfg.Output.Emit = []string{"transaction", "stats"}
	var out bytes.Buffer
	p, err := NewPipeline(cfg, &out, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.RunLive(ctx, srcs) }()
	time.Sleep(100 * time.Millisecond) // sockets are bound already; let the workers start

	// 3 keep-alive clients: 8 GETs (2 of them 404) and 2 POSTs each
	want := map[string]int{}
	for c := 0; c < 3; c++ {
		client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
		for i := 0; i < 10; i++ {
			path := fmt.Sprintf("/v1/items/%d", c*100+i)
			if i%4 == 3 {
				path = fmt.Sprintf("/missing/%d", c*100+i)
			}
			var resp *http.Response
			var err error
			if i%5 == 4 {
				resp, err = client.Post("http://"+addr+path, "application/json", strings.NewReader(`{"qty":2}`))
				want["POST "+path]++
			} else {
				resp, err = client.Get("http://" + addr + path)
				want["GET "+path]++
			}
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		client.CloseIdleConnections()
	}
	// wait until the workers have seen every exchange (bounded), then stop
	for end := time.Now().Add(10 * time.Second); p.Transactions() < 30 && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sum, err := p.Close()
	if err != nil {
		t.Fatal(err)
	}
	eventtest.ValidateStream(t, bytes.NewReader(out.Bytes()))
	got := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev struct {
			Type   string          `json:"type"`
			Method string          `json:"method"`
			Path   string          `json:"path"`
			Status int             `json:"status"`
			Flags  json.RawMessage `json:"flags"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != "transaction" {
			continue
		}
		key := ev.Method + " " + ev.Path
		got[key]++
		wantStatus := 200
		if strings.HasPrefix(ev.Path, "/missing") {
			wantStatus = 404
		}
		if ev.Status != wantStatus || ev.Flags != nil {
			t.Errorf("%s: status %d flags %s, want %d and no flags", key, ev.Status, ev.Flags, wantStatus)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("transactions seen live:\n%v\nwant:\n%v", got, want)
	}
	if sum.Reassembly.Flows < 3 || sum.Reassembly.Transactions != 30 {
		t.Fatalf("summary: %d flows, %d transactions", sum.Reassembly.Flows, sum.Reassembly.Transactions)
	}
	var drops uint64
	for _, s := range srcs {
		_, d, _, err := s.(*capture.AFPacket).KernelStats()
		if err != nil {
			t.Fatal(err)
		}
		drops += d
	}
	if drops != 0 {
		t.Errorf("kernel dropped %d packets", drops)
	}
}

// TestLiveEBPFPorts captures with the eBPF pre-filter selecting port 8080,
// then switches it to port 9090 while running: traffic on the port no
// longer selected stops being captured, without reattaching anything.
func TestLiveEBPFPorts(t *testing.T) {
	n := netnstest.New(t)
	var addrs []string
	for _, port := range []string{"8080", "9090"} {
		addr := n.PeerIP + ":" + port
		n.StartServer(t, addr, "TestHelperHTTPServer")
		addrs = append(addrs, addr)
	}
	f, err := bpf.Load()
	if errors.Is(err, bpf.ErrNotSupported) {
		t.Skipf("kernel refuses eBPF: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Apply(bpf.Config{Ports: []uint16{8080}}); err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenAFPacket(capture.AFPacketConfig{Iface: n.Host, RingBytes: 8 << 20, PollTimeout: 50 * time.Millisecond, EBPFProgFD: f.FD()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cfg := Config{}
	cfg.Sensor.ID, cfg.Sensor.Workers = "ebpf", 1
	cfg.Output.Emit = []string{"transaction"}
	var out bytes.Buffer
	p, err := NewPipeline(cfg, &out, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.RunLive(ctx, []capture.Source{src}) }()

	phase := func(name string, want uint64) {
		for _, addr := range addrs {
			client := &http.Client{}
			for i := 0; i < 5; i++ {
				resp, err := client.Get(fmt.Sprintf("http://%s/%s/%d", addr, name, i))
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			client.CloseIdleConnections()
		}
		for end := time.Now().Add(10 * time.Second); p.Transactions() < want && time.Now().Before(end); {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // anything unexpected would show up by now
	}
	phase("p1", 5)
	if err := f.Apply(bpf.Config{Ports: []uint16{9090}}); err != nil {
		t.Fatal(err)
	}
	phase("p2", 10)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := p.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev struct {
			Path string `json:"path"`
			Flow struct {
				Server struct {
					Port int `json:"port"`
				} `json:"server"`
			} `json:"flow"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		got[fmt.Sprintf("%s:%d", ev.Path[:3], ev.Flow.Server.Port)]++
	}
	want := map[string]int{"/p1:8080": 5, "/p2:9090": 5}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("captured %v, want %v", got, want)
	}
	c, err := f.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if c[bpf.CounterDroppedPort] == 0 {
		t.Errorf("the filter dropped nothing: %v", c)
	}
}

// liveRun serves HTTP in a namespace, captures the veth with src (opened
// by open once the namespace exists), sends n GETs and returns the
// transactions seen.
func liveRun(t *testing.T, n int, open func(iface string) capture.Source) int {
	ns := netnstest.New(t)
	addr := ns.PeerIP + ":8080"
	ns.StartServer(t, addr, "TestHelperHTTPServer")
	src := open(ns.Host)
	defer src.Close()
	cfg := Config{}
	cfg.Sensor.ID, cfg.Sensor.Workers = "pcap", 1
	cfg.Output.Emit = []string{"transaction"}
	var out bytes.Buffer
	p, err := NewPipeline(cfg, &out, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.RunLive(ctx, []capture.Source{src}) }()
	time.Sleep(100 * time.Millisecond)
	client := &http.Client{}
	for i := 0; i < n; i++ {
		resp, err := client.Get(fmt.Sprintf("http://%s/v1/x/%d", addr, i))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	client.CloseIdleConnections()
	for end := time.Now().Add(5 * time.Second); p.Transactions() < uint64(n) && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p.Close()
	return strings.Count(out.String(), `"path":"/v1/x/`)
}

// TestLiveAny captures with -i any (cooked, every interface): the veth's
// traffic is among it.
func TestLiveAny(t *testing.T) {
	got := liveRun(t, 10, func(string) capture.Source {
		s, err := capture.OpenAFPacket(capture.AFPacketConfig{Iface: "any", RingBytes: 8 << 20, PollTimeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	if got != 10 {
		t.Fatalf("%d transactions on any, want 10", got)
	}
}

// TestHelperInject is not a test: it injects a capture's frames from inside
// a namespace for TestLiveVLAN.
func TestHelperInject(t *testing.T) {
	iface, file := os.Getenv("APITAP_HELPER_IFACE"), os.Getenv("APITAP_HELPER_INJECT")
	if iface == "" {
		t.Skip("helper process for TestLiveVLAN")
	}
	if err := netnstest.Inject(iface, file); err != nil {
		t.Fatal(err)
	}
}

// TestLiveVLAN injects VLAN and QinQ tagged traffic (the test captures
// vlan.pcap and qinq.pcap) into the veth from the namespace side and
// captures the root side: the outer tag, which the kernel strips into
// packet metadata, is put back into the flow.
func TestLiveVLAN(t *testing.T) {
	n := netnstest.New(t)
	for _, c := range []struct{ file, vlan string }{{"vlan.pcap", `"vlan":[100]`}, {"qinq.pcap", `"vlan":[200,100]`}} {
		src, err := capture.OpenAFPacket(capture.AFPacketConfig{Iface: n.Host, RingBytes: 8 << 20, PollTimeout: 50 * time.Millisecond, Promisc: true})
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{}
		cfg.Sensor.ID, cfg.Sensor.Workers = "vlan", 1
		cfg.Output.Emit = []string{"transaction"}
		var out bytes.Buffer
		p, err := NewPipeline(cfg, &out, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.RunLive(ctx, []capture.Source{src}) }()
		inj := n.Exec(os.Args[0], "-test.run=^TestHelperInject$")
		inj.Env = append(os.Environ(), "APITAP_HELPER_IFACE="+n.Peer, "APITAP_HELPER_INJECT=../testdata/pcaps/"+c.file)
		if b, err := inj.CombinedOutput(); err != nil {
			t.Fatalf("inject: %v\n%s", err, b)
		}
		for end := time.Now().Add(5 * time.Second); p.Transactions() < 3 && time.Now().Before(end); {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		<-done
		p.Close()
		src.Close()
		if got := strings.Count(out.String(), c.vlan); got != 3 {
			t.Errorf("%s: %d transactions carry %s, want 3:\n%s", c.file, got, c.vlan, out.String())
		}
	}
}
