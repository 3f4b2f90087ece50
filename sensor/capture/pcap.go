//go:build pcap

package capture

import (
	"errors"
	"fmt"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
	"golang.org/x/net/bpf"
)

// HavePcap says this build links libpcap (built with -tags pcap).
const HavePcap = true

// PcapConfig configures a libpcap live capture.
type PcapConfig struct {
	Iface       string
	SnapLen     int           // default 262144
	BufferBytes int           // kernel buffer; default 64 MiB
	Promisc     bool          //
	Filter      string        // classic BPF expression (tcpdump syntax)
	Timeout     time.Duration // read timeout; default 50ms
}

// Pcap is a live source through libpcap, for interfaces AF_PACKET can not
// serve.
type Pcap struct {
	h    *pcap.Handle
	name string
}

// OpenPcap opens and activates a libpcap handle.
func OpenPcap(c PcapConfig) (*Pcap, error) {
	if c.SnapLen <= 0 {
		c.SnapLen = 262144
	}
	if c.BufferBytes <= 0 {
		c.BufferBytes = 64 << 20
	}
	if c.Timeout <= 0 {
		c.Timeout = 50 * time.Millisecond
	}
	in, err := pcap.NewInactiveHandle(c.Iface)
	if err != nil {
		return nil, fmt.Errorf("pcap %s: %w", c.Iface, err)
	}
	defer in.CleanUp()
	for _, err := range []error{in.SetSnapLen(c.SnapLen), in.SetPromisc(c.Promisc), in.SetTimeout(c.Timeout), in.SetBufferSize(c.BufferBytes), in.SetImmediateMode(true)} {
		if err != nil {
			return nil, fmt.Errorf("pcap %s: %w", c.Iface, err)
		}
	}
	h, err := in.Activate()
	if err != nil {
		return nil, fmt.Errorf("pcap %s: %w (capturing needs root or CAP_NET_RAW)", c.Iface, err)
	}
	if c.Filter != "" {
		if err := h.SetBPFFilter(c.Filter); err != nil {
			h.Close()
			return nil, fmt.Errorf("pcap %s: filter %q: %w", c.Iface, c.Filter, err)
		}
	}
	return &Pcap{h: h, name: c.Iface}, nil
}

// Next implements Source; ErrTimeout when the read timeout expired.
func (s *Pcap) Next() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := s.h.ZeroCopyReadPacketData()
	if errors.Is(err, pcap.NextErrorTimeoutExpired) {
		return nil, ci, ErrTimeout
	}
	return data, ci, err
}

// LinkType implements Source.
func (s *Pcap) LinkType() layers.LinkType { return s.h.LinkType() }

// Name implements Source.
func (s *Pcap) Name() string { return "pcap:" + s.name }

// KernelStats reports libpcap's counters (received, dropped; no freezes).
func (s *Pcap) KernelStats() (packets, drops, freezes uint64, err error) {
	st, err := s.h.Stats()
	if err != nil {
		return 0, 0, 0, err
	}
	return uint64(st.PacketsReceived), uint64(st.PacketsDropped + st.PacketsIfDropped), 0, nil
}

// Close implements Source.
func (s *Pcap) Close() error {
	s.h.Close()
	return nil
}

// CompileBPF compiles a tcpdump-syntax filter for Ethernet frames into
// classic BPF, for AF_PACKET sockets.
func CompileBPF(expr string, snaplen int) ([]bpf.RawInstruction, error) {
	ins, err := pcap.CompileBPFFilter(layers.LinkTypeEthernet, snaplen, expr)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", expr, err)
	}
	raw := make([]bpf.RawInstruction, len(ins))
	for i, x := range ins {
		raw[i] = bpf.RawInstruction{Op: x.Code, Jt: x.Jt, Jf: x.Jf, K: x.K}
	}
	return raw, nil
}
