package capture

import (
	"time"

	"golang.org/x/net/bpf"
)

// AFPacketConfig configures one AF_PACKET socket.
type AFPacketConfig struct {
	// Iface is the interface; "any" captures every interface (cooked:
	// frames start at the network header, link type raw IP).
	Iface string
	// RingBytes is the size of the TPACKET_V3 ring (rounded to whole 1 MiB
	// blocks). Default 64 MiB.
	RingBytes int
	// FanoutID, when non-zero, joins the socket to a PACKET_FANOUT_HASH
	// group: the kernel spreads flows over the group's sockets by a
	// symmetric flow hash, so both directions of a connection reach one
	// socket (one worker).
	FanoutID uint16
	// Promisc puts the interface in promiscuous mode (mirror ports need it).
	Promisc bool
	// PollTimeout bounds how long Next waits; it then returns ErrTimeout so
	// that the worker can advance its clock and hand what it has to stage two
	// (a bound on detection latency on a quiet link). Default 50ms.
	PollTimeout time.Duration
	// EBPFProgFD, when > 0, attaches that socket-filter program (the
	// pre-filter of package bpf) to the socket.
	EBPFProgFD int
	// ClassicBPF, when set and no eBPF program is, is attached instead
	// (CompileBPF makes it from a tcpdump expression).
	ClassicBPF []bpf.RawInstruction
}
