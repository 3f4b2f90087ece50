package reassembly

import (
	"net/netip"

	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/reassembly/http2"
)

// Tunnel is the outer envelope a flow arrived in (mirror traffic).
type Tunnel struct {
	Type     string // "", "vxlan", "geneve", "gre", "erspan2", "erspan3"
	OuterSrc netip.Addr
	OuterDst netip.Addr
	ID       uint32 // VNI, GRE key or ERSPAN session id
}

// Flow identifies the TCP connection a transaction travelled on.
type Flow struct {
	// ID is a stable hash of the connection (5-tuple, tunnel and the
	// capture time of its first packet), hex encoded.
	ID     string
	Client netip.AddrPort
	Server netip.AddrPort
	VLAN   []uint16 // outer first; nil when untagged
	Tunnel Tunnel
}

// Transaction is one HTTP exchange with the flow it belongs to. It is handed
// to analyzers synchronously and reused afterwards: an analyzer must not keep
// it (strings inside may be kept; byte slices must be copied).
type Transaction struct {
	Flow Flow
	// Seq numbers the transactions of one connection from 0.
	Seq int
	http1.Exchange
	// Protocol is how the exchange travelled; H2 is its HTTP/2 stream
	// (id, reset/refused/push flags, trailers, the gRPC call), nil for
	// HTTP/1.x.
	Protocol Protocol
	H2       *http2.StreamInfo
	// Notes carry what analyzers learned about this transaction to the
	// analyzers after them in the chain; the sensor clears them before the
	// chain runs.
	Notes Notes
}

// Notes are per-transaction findings shared along the analyzer chain.
type Notes struct {
	// SensitiveRequest and SensitiveResponse are bit sets of the sensitive
	// data types found in each message: bit i is event.SensitiveTypes[i]
	// (set by the sensitive analyzer, read by discovery for the catalog).
	SensitiveRequest, SensitiveResponse uint64
	// Conformance is how the transaction matched the published specs
	// (set by the conformance analyzer; "" without specs): documented,
	// shadow, zombie or undocumented_method. Violations are bits of
	// conformance findings (undocumented parameter, status, schema).
	Conformance string
	Violations  uint8
	// Attacks are bits of the attack classes detected in the request
	// (attack analyzer; bit i is attack.ClassNames[i]), AttackSucceeded
	// when the response showed one worked.
	Attacks         uint32
	AttackSucceeded bool
	// Misconfig are bits of security misconfigurations in the response
	// (risk analyzer; bit i is risk.MisconfigNames[i]).
	Misconfig uint8
	// Abuse are bits of the behaviour classes its actor was detected for
	// in the current window (behavior analyzer; bit i is
	// behavior.ClassNames[i]).
	Abuse uint16
}
