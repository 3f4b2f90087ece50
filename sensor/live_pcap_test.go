//go:build linux && pcap

package sensor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/sensor/capture"
	"github.com/apitap/apitap/sensor/netnstest"
)

// liveRun serves HTTP in a namespace, captures the veth with src (opened
// by open once the namespace exists), sends n GETs and returns the
// transactions seen.
func liveRun(t *testing.T, n int, open func(iface string) capture.Source) int {
	ns := netnstest.New(t)
	addr := ns.PeerIP + ":8080"
	srv := ns.Exec(os.Args[0], "-test.run=^TestHelperHTTPServer$")
	srv.Env = append(os.Environ(), "APITAP_HELPER_ADDR="+addr)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	netnstest.WaitTCP(t, addr, 10*time.Second)
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
	return strings.Count(out.String(), `"type":"transaction"`)
}

func TestLivePcap(t *testing.T) {
	got := liveRun(t, 10, func(iface string) capture.Source {
		s, err := capture.OpenPcap(capture.PcapConfig{Iface: iface, BufferBytes: 8 << 20, Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	if got != 10 {
		t.Fatalf("%d transactions through libpcap, want 10", got)
	}
}

func TestLiveClassicBPF(t *testing.T) {
	for _, c := range []struct {
		expr string
		want int
	}{{"tcp port 8080", 10}, {"tcp port 9999", 0}} {
		got := liveRun(t, 10, func(iface string) capture.Source {
			prog, err := capture.CompileBPF(c.expr, 65535)
			if err != nil {
				t.Fatal(err)
			}
			s, err := capture.OpenAFPacket(capture.AFPacketConfig{Iface: iface, RingBytes: 8 << 20, PollTimeout: 50 * time.Millisecond, ClassicBPF: prog})
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
		if got != c.want {
			t.Errorf("%q: %d transactions, want %d", c.expr, got, c.want)
		}
	}
	if _, err := capture.CompileBPF("tcp port", 65535); err == nil {
		t.Error("a broken expression compiled")
	}
}
