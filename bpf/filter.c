//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// apitap's in-kernel pre-filter: a socket filter attached to the AF_PACKET
// sockets. It keeps the packets the configuration selects and drops the
// rest before they reach the ring. The selection lives in maps that the
// sensor updates at run time without reattaching the program.
//
// Return value of a socket filter: bytes of the packet to keep (0 drops).

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define KEEP 0xffff
#define DROP 0

// config[0] bits
#define CFG_PORTS   (1 << 0) // keep only TCP packets with a port in `ports`
#define CFG_ALLOW   (1 << 1) // keep only packets with an address in `allow`
#define CFG_DENY    (1 << 2) // drop packets with an address in `deny`
#define CFG_VLANS   (1 << 3) // keep only packets tagged with a VLAN in `vlans`
#define CFG_TUNNELS (1 << 4) // always keep VXLAN/GENEVE/GRE (mirror encapsulation)

struct config {
	__u32 flags;
	__u32 sample_per_mille; // keep this many flows in 1000 (0 or >=1000: all)
};

struct lpm_key {
	__u32 prefixlen;
	__u8 addr[16]; // IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d)
};

struct port_stats {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u16);
	__type(value, __u8);
} vlans SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u8);
} allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u8);
} deny SEC(".maps");

// per-port counters of kept packets (port 0: everything not TCP)
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, struct port_stats);
} port_stats SEC(".maps");

// counters: 0 seen, 1 kept, 2 dropped by ports, 3 by allow, 4 by deny, 5 by vlan, 6 by sampling
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 i) {
	__u64 *v = bpf_map_lookup_elem(&counters, &i);
	if (v)
		*v += 1;
}

static __always_inline int in_trie(void *trie, struct lpm_key *k) {
	k->prefixlen = 128;
	return bpf_map_lookup_elem(trie, k) != NULL;
}

static __always_inline __u32 mix(__u32 h) {
	h ^= h >> 16;
	h *= 0x7feb352d;
	h ^= h >> 15;
	h *= 0x846ca68b;
	h ^= h >> 16;
	return h;
}

SEC("socket")
int apitap_filter(struct __sk_buff *skb) {
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg)
		return KEEP;
	count(0);
	__u32 off = 0;
	__u16 proto;
	if (bpf_skb_load_bytes(skb, 12, &proto, 2) < 0)
		return KEEP;
	off = 14;
	int vlan = -1;
	// the kernel strips the outer tag into skb->vlan_tci on most NICs
	if (skb->vlan_present)
		vlan = skb->vlan_tci & 0x0fff;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
			__u16 tci;
			if (bpf_skb_load_bytes(skb, off, &tci, 2) < 0)
				return KEEP;
			if (vlan < 0)
				vlan = bpf_ntohs(tci) & 0x0fff;
			if (bpf_skb_load_bytes(skb, off + 2, &proto, 2) < 0)
				return KEEP;
			off += 4;
		}
	}
	if (cfg->flags & CFG_VLANS) {
		__u16 v = vlan < 0 ? 0 : vlan;
		if (vlan < 0 || !bpf_map_lookup_elem(&vlans, &v)) {
			count(5);
			return DROP;
		}
	}
	struct lpm_key src = {}, dst = {};
	__u8 l4;
	if (proto == bpf_htons(ETH_P_IP)) {
		__u8 vihl;
		if (bpf_skb_load_bytes(skb, off, &vihl, 1) < 0)
			return KEEP;
		if (bpf_skb_load_bytes(skb, off + 9, &l4, 1) < 0)
			return KEEP;
		src.addr[10] = src.addr[11] = 0xff;
		dst.addr[10] = dst.addr[11] = 0xff;
		if (bpf_skb_load_bytes(skb, off + 12, &src.addr[12], 4) < 0 ||
		    bpf_skb_load_bytes(skb, off + 16, &dst.addr[12], 4) < 0)
			return KEEP;
		off += (vihl & 0x0f) * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		if (bpf_skb_load_bytes(skb, off + 6, &l4, 1) < 0)
			return KEEP;
		if (bpf_skb_load_bytes(skb, off + 8, src.addr, 16) < 0 ||
		    bpf_skb_load_bytes(skb, off + 24, dst.addr, 16) < 0)
			return KEEP;
		off += 40; // extension headers: such packets fall to the port check below
	} else {
		return (cfg->flags & (CFG_PORTS | CFG_ALLOW)) ? DROP : KEEP;
	}
	if (cfg->flags & CFG_DENY) {
		if (in_trie(&deny, &src) || in_trie(&deny, &dst)) {
			count(4);
			return DROP;
		}
	}
	if (cfg->flags & CFG_ALLOW) {
		if (!in_trie(&allow, &src) && !in_trie(&allow, &dst)) {
			count(3);
			return DROP;
		}
	}
	__u16 sport = 0, dport = 0;
	if (l4 == IPPROTO_TCP || l4 == IPPROTO_UDP) {
		if (bpf_skb_load_bytes(skb, off, &sport, 2) < 0 || bpf_skb_load_bytes(skb, off + 2, &dport, 2) < 0)
			return KEEP;
		sport = bpf_ntohs(sport);
		dport = bpf_ntohs(dport);
	}
	int tunnel = l4 == IPPROTO_GRE || (l4 == IPPROTO_UDP && (dport == 4789 || dport == 6081));
	if (tunnel && (cfg->flags & CFG_TUNNELS))
		goto kept;
	__u16 port = 0;
	if (cfg->flags & CFG_PORTS) {
		if (l4 != IPPROTO_TCP) {
			count(2);
			return DROP;
		}
		if (bpf_map_lookup_elem(&ports, &dport))
			port = dport;
		else if (bpf_map_lookup_elem(&ports, &sport))
			port = sport;
		else {
			count(2);
			return DROP;
		}
	} else if (l4 == IPPROTO_TCP) {
		port = dport < sport ? dport : sport;
	}
	if (cfg->sample_per_mille > 0 && cfg->sample_per_mille < 1000) {
		// symmetric flow hash: both directions get the same decision
		__u32 h = 0;
#pragma unroll
		for (int i = 0; i < 16; i += 4)
			h ^= mix(*(__u32 *)&src.addr[i] ^ *(__u32 *)&dst.addr[i]);
		h = mix(h ^ ((__u32)sport ^ (__u32)dport));
		if (h % 1000 >= cfg->sample_per_mille) {
			count(6);
			return DROP;
		}
	}
kept:
	count(1);
	struct port_stats *ps = bpf_map_lookup_elem(&port_stats, &port);
	if (ps) {
		ps->packets += 1;
		ps->bytes += skb->len;
	} else {
		struct port_stats init = {1, skb->len};
		bpf_map_update_elem(&port_stats, &port, &init, BPF_NOEXIST);
	}
	return KEEP;
}

char __license[] SEC("license") = "Dual BSD/GPL";
