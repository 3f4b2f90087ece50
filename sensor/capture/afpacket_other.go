//go:build !linux

package capture

import (
	"fmt"
	"runtime"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// AFPacket is Linux only; elsewhere OpenAFPacket fails with ErrNotSupported.
type AFPacket struct{}

// OpenAFPacket fails: AF_PACKET sockets exist only on Linux.
func OpenAFPacket(AFPacketConfig) (*AFPacket, error) {
	return nil, fmt.Errorf("AF_PACKET capture on %s: %w (use --source pcap with a libpcap build, or apitap read on a capture file)", runtime.GOOS, ErrNotSupported)
}

// Next never returns a packet.
func (*AFPacket) Next() ([]byte, gopacket.CaptureInfo, error) {
	return nil, gopacket.CaptureInfo{}, ErrNotSupported
}

// LinkType is Ethernet.
func (*AFPacket) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

// Name names the source.
func (*AFPacket) Name() string { return "afpacket" }

// KernelStats has nothing to report.
func (*AFPacket) KernelStats() (packets, drops, freezes uint64, err error) {
	return 0, 0, 0, ErrNotSupported
}

// Close does nothing.
func (*AFPacket) Close() error { return nil }
