package bpf

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/cilium/ebpf"
)

// ErrNotSupported wraps kernels (or privileges) that refuse the program.
var ErrNotSupported = ebpf.ErrNotSupported

// Config selects the traffic the filter keeps. A zero Config keeps all.
type Config struct {
	// Ports keeps only TCP packets from or to these ports (empty: any).
	Ports []uint16
	// Allow keeps only packets with a source or destination in one of these
	// prefixes (empty: any). Deny drops packets with an address in one.
	Allow, Deny []netip.Prefix
	// VLANs keeps only packets tagged with one of these ids (empty: any).
	VLANs []uint16
	// Tunnels keeps VXLAN (UDP 4789), GENEVE (UDP 6081) and GRE packets
	// whatever the port selection says: their inner packets are filtered
	// by the sensor, not here.
	Tunnels bool
	// SamplePerMille keeps this many flows in 1000 (0 or 1000: all). Both
	// directions of a flow get the same decision.
	SamplePerMille int
}

const (
	cfgPorts   = 1 << 0
	cfgAllow   = 1 << 1
	cfgDeny    = 1 << 2
	cfgVLANs   = 1 << 3
	cfgTunnels = 1 << 4
)

// Counter indexes of the counters map.
const (
	CounterSeen = iota
	CounterKept
	CounterDroppedPort
	CounterDroppedAllow
	CounterDroppedDeny
	CounterDroppedVLAN
	CounterDroppedSample
	numCounters
)

// Filter is the loaded program and its maps.
type Filter struct {
	objs filterObjects
}

// Load loads the program into the kernel.
func Load() (*Filter, error) {
	f := &Filter{}
	if err := loadFilterObjects(&f.objs, nil); err != nil {
		return nil, fmt.Errorf("load eBPF pre-filter: %w", err)
	}
	return f, nil
}

// FD is the program's file descriptor, to attach with SO_ATTACH_BPF.
func (f *Filter) FD() int { return f.objs.ApitapFilter.FD() }

// Program is the loaded program (for tests: Program().Run).
func (f *Filter) Program() *ebpf.Program { return f.objs.ApitapFilter }

// Close unloads the program (attached sockets keep their reference).
func (f *Filter) Close() error { return f.objs.Close() }

// Apply makes the filter select c. It rewrites the maps in place: sockets
// that already run the program see the change without reattaching.
func (f *Filter) Apply(c Config) error {
	if c.SamplePerMille < 0 || c.SamplePerMille > 1000 {
		return fmt.Errorf("sample rate %d per mille out of range 0-1000", c.SamplePerMille)
	}
	var flags uint32
	if len(c.Ports) > 0 {
		flags |= cfgPorts
	}
	if len(c.Allow) > 0 {
		flags |= cfgAllow
	}
	if len(c.Deny) > 0 {
		flags |= cfgDeny
	}
	if len(c.VLANs) > 0 {
		flags |= cfgVLANs
	}
	if c.Tunnels {
		flags |= cfgTunnels
	}
	if err := syncSet(f.objs.Ports, c.Ports); err != nil {
		return fmt.Errorf("ports: %w", err)
	}
	if err := syncSet(f.objs.Vlans, c.VLANs); err != nil {
		return fmt.Errorf("vlans: %w", err)
	}
	if err := syncTrie(f.objs.Allow, c.Allow); err != nil {
		return fmt.Errorf("allow: %w", err)
	}
	if err := syncTrie(f.objs.Deny, c.Deny); err != nil {
		return fmt.Errorf("deny: %w", err)
	}
	// the flags last: a new selection turns on once its maps are filled
	cfg := filterConfig{Flags: flags, SamplePerMille: uint32(c.SamplePerMille)}
	return f.objs.Config.Put(uint32(0), &cfg)
}

// SetSample changes only the per-flow sampling rate (per mille; 0 or 1000
// keeps every flow), leaving the rest of the selection as it is: the
// overload controller's knob.
func (f *Filter) SetSample(perMille int) error {
	if perMille < 0 || perMille > 1000 {
		return fmt.Errorf("sample rate %d per mille out of range 0-1000", perMille)
	}
	var cfg filterConfig
	if err := f.objs.Config.Lookup(uint32(0), &cfg); err != nil {
		return err
	}
	cfg.SamplePerMille = uint32(perMille)
	return f.objs.Config.Put(uint32(0), &cfg)
}

// syncSet makes a hash map's keys exactly want.
func syncSet(m *ebpf.Map, want []uint16) error {
	var k uint16
	var v uint8
	var stale []uint16
	it := m.Iterate()
	for it.Next(&k, &v) {
		if !slices.Contains(want, k) {
			stale = append(stale, k)
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	for _, w := range want {
		if err := m.Put(w, uint8(1)); err != nil {
			return err
		}
	}
	for _, s := range stale {
		if err := m.Delete(s); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return err
		}
	}
	return nil
}

func lpmKey(p netip.Prefix) filterLpmKey {
	p = p.Masked()
	k := filterLpmKey{Prefixlen: uint32(p.Bits())}
	if p.Addr().Is4() {
		k.Prefixlen += 96
	}
	k.Addr = netip.AddrFrom16(p.Addr().As16()).As16()
	return k
}

// syncTrie makes an LPM trie's prefixes exactly want.
func syncTrie(m *ebpf.Map, want []netip.Prefix) error {
	keys := map[filterLpmKey]bool{}
	for _, p := range want {
		if !p.IsValid() {
			return fmt.Errorf("invalid prefix %v", p)
		}
		keys[lpmKey(p)] = true
	}
	var k filterLpmKey
	var v uint8
	var stale []filterLpmKey
	it := m.Iterate()
	for it.Next(&k, &v) {
		if !keys[k] {
			stale = append(stale, k)
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	for key := range keys {
		if err := m.Put(key, uint8(1)); err != nil {
			return err
		}
	}
	for _, s := range stale {
		if err := m.Delete(s); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return err
		}
	}
	return nil
}

// Counters sums the per-CPU decision counters (indexed by Counter*).
func (f *Filter) Counters() ([numCounters]uint64, error) {
	var out [numCounters]uint64
	for i := uint32(0); i < numCounters; i++ {
		var per []uint64
		if err := f.objs.Counters.Lookup(i, &per); err != nil {
			return out, err
		}
		for _, v := range per {
			out[i] += v
		}
	}
	return out, nil
}

// PortStat counts the packets and bytes kept for one port.
type PortStat struct{ Packets, Bytes uint64 }

// PortStats sums the per-CPU counters of kept packets by port (0: not TCP).
func (f *Filter) PortStats() (map[uint16]PortStat, error) {
	out := map[uint16]PortStat{}
	var k uint16
	var per []filterPortStats
	it := f.objs.PortStats.Iterate()
	for it.Next(&k, &per) {
		var s PortStat
		for _, v := range per {
			s.Packets += v.Packets
			s.Bytes += v.Bytes
		}
		out[k] = s
	}
	return out, it.Err()
}
