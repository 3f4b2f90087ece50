// Package bpf holds apitap's in-kernel pre-filter: a socket-filter eBPF
// program (filter.c, compiled by bpf2go into the committed filter_bpfel.go
// and filter_bpfel.o; `make generate` reproduces them, a build needs no
// clang) and its loader. It sits before capture: sensor/capture attaches the
// program to its AF_PACKET sockets so that unselected traffic never reaches
// the rings.
//
// The selection (server ports, CIDR allow and deny lists in LPM tries, VLAN
// ids, tunnels, and a per-flow sampling rate for overload) lives in maps that
// Apply rewrites at run time without reattaching. Kept packets are counted
// per port in a per-CPU map (PortStats) and decisions in Counters.
//
// Kernels that refuse the program give an error wrapping
// ebpf.ErrNotSupported (ErrNotSupported here); callers fall back to no
// pre-filter and say so.
//
// Concurrency: a Filter may be used from several goroutines; Apply is not
// atomic across maps (a packet may see half of an update).
package bpf
