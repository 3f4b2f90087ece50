//go:build linux && pcap

package sensor

import (
	"testing"
	"time"

	"github.com/apitap/apitap/sensor/capture"
)

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
