//go:build !pcap

package capture

import (
	"errors"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// HavePcap says this build links libpcap (built with -tags pcap).
const HavePcap = false

// errNoPcap explains how to get the libpcap source and classic filters.
var errNoPcap = errors.New("this apitap is built without libpcap: rebuild with -tags pcap (needs cgo and libpcap-dev) for --source pcap and --bpf")

// PcapConfig configures a libpcap live capture.
type PcapConfig struct {
	Iface       string
	SnapLen     int
	BufferBytes int
	Promisc     bool
	Filter      string
	Timeout     time.Duration
}

// Pcap is the libpcap source; this build does not have it.
type Pcap struct{}

// OpenPcap fails: this build has no libpcap.
func OpenPcap(PcapConfig) (*Pcap, error) { return nil, errNoPcap }

// Next implements Source.
func (*Pcap) Next() ([]byte, gopacket.CaptureInfo, error) {
	return nil, gopacket.CaptureInfo{}, errNoPcap
}

// LinkType implements Source.
func (*Pcap) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

// Name implements Source.
func (*Pcap) Name() string { return "pcap" }

// Close implements Source.
func (*Pcap) Close() error { return nil }

// CompileBPF fails: compiling tcpdump-syntax filters needs libpcap.
func CompileBPF(string, int) ([]bpf.RawInstruction, error) { return nil, errNoPcap }
