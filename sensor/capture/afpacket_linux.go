//go:build linux

package capture

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
)

const afBlock = 1 << 20 // TPACKET_V3 block: also the largest frame (GSO packets)

// AFPacket is a live source reading a TPACKET_V3 ring.
type AFPacket struct {
	h      *afpacket.TPacket
	name   string
	cooked bool // "any": no link-layer header
}

// OpenAFPacket opens and configures a socket on an interface.
func OpenAFPacket(c AFPacketConfig) (*AFPacket, error) {
	if c.RingBytes <= 0 {
		c.RingBytes = 64 << 20
	}
	if c.PollTimeout <= 0 {
		c.PollTimeout = 50 * time.Millisecond
	}
	blocks := max(2, c.RingBytes/afBlock)
	iface, sock := c.Iface, afpacket.SocketRaw
	if iface == "any" {
		iface, sock = "", afpacket.SocketDgram // unbound: every interface
	}
	h, err := afpacket.NewTPacket(
		afpacket.OptInterface(iface),
		sock,
		afpacket.TPacketVersion3,
		afpacket.OptFrameSize(1<<16),
		afpacket.OptBlockSize(afBlock),
		afpacket.OptNumBlocks(blocks),
		afpacket.OptBlockTimeout(10*time.Millisecond),
		afpacket.OptPollTimeout(c.PollTimeout),
	)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("afpacket %s: %w (capturing needs root or CAP_NET_RAW; promiscuous mode CAP_NET_ADMIN)", c.Iface, err)
		}
		return nil, fmt.Errorf("afpacket %s: %w", c.Iface, err)
	}
	s := &AFPacket{h: h, name: c.Iface, cooked: sock == afpacket.SocketDgram}
	if c.FanoutID != 0 {
		if err := h.SetFanout(afpacket.FanoutHash, c.FanoutID); err != nil {
			h.Close()
			return nil, fmt.Errorf("afpacket %s: fanout: %w", c.Iface, err)
		}
	}
	if c.Promisc && !s.cooked {
		if err := h.SetPromiscuous(true); err != nil {
			h.Close()
			return nil, fmt.Errorf("afpacket %s: promiscuous mode: %w", c.Iface, err)
		}
	}
	if c.EBPFProgFD > 0 {
		if err := h.SetEBPF(int32(c.EBPFProgFD)); err != nil {
			h.Close()
			return nil, fmt.Errorf("afpacket %s: attach eBPF pre-filter: %w", c.Iface, err)
		}
	} else if len(c.ClassicBPF) > 0 {
		if err := h.SetBPF(c.ClassicBPF); err != nil {
			h.Close()
			return nil, fmt.Errorf("afpacket %s: attach classic BPF filter: %w", c.Iface, err)
		}
	}
	if err := h.InitSocketStats(); err != nil {
		h.Close()
		return nil, fmt.Errorf("afpacket %s: socket stats: %w", c.Iface, err)
	}
	return s, nil
}

// Next implements Source. It returns ErrTimeout when no packet arrived
// within the poll timeout.
func (s *AFPacket) Next() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := s.h.ZeroCopyReadPacketData()
	if errors.Is(err, afpacket.ErrTimeout) {
		return nil, ci, ErrTimeout
	}
	return data, ci, err
}

// LinkType implements Source: Ethernet frames on Ethernet-like interfaces,
// raw IP packets for "any".
func (s *AFPacket) LinkType() layers.LinkType {
	if s.cooked {
		return layers.LinkTypeRaw
	}
	return layers.LinkTypeEthernet
}

// Name implements Source.
func (s *AFPacket) Name() string { return "afpacket:" + s.name }

// KernelStats reports what the kernel counted for the socket: packets
// received and dropped (ring full), and ring freezes.
func (s *AFPacket) KernelStats() (packets, drops, freezes uint64, err error) {
	_, v3, err := s.h.SocketStats()
	if err != nil {
		return 0, 0, 0, err
	}
	return uint64(v3.Packets()), uint64(v3.Drops()), uint64(v3.QueueFreezes()), nil
}

// Close implements Source.
func (s *AFPacket) Close() error {
	s.h.Close()
	return nil
}

// VLANOf returns the VLAN id the kernel took out of the frame (NICs and
// veth strip the outer 802.1Q tag into packet metadata, which AF_PACKET
// reports beside the frame).
func VLANOf(ci *gopacket.CaptureInfo) (uint16, bool) {
	for _, a := range ci.AncillaryData {
		if v, ok := a.(afpacket.AncillaryVLAN); ok {
			return uint16(v.VLAN) & 0x0fff, true
		}
	}
	return 0, false
}
