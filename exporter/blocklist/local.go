package blocklist

import (
	"bufio"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"strings"
)

// LocalPrefixes lists the addresses of this host's interfaces (each as a
// one-address prefix): the sensor's own addresses, or the enforcement
// point's when `apitap blocklist` runs beside it.
func LocalPrefixes() []netip.Prefix {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if ip, ok := netip.AddrFromSlice(n.IP); ok {
			ip = ip.Unmap()
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
		}
	}
	return out
}

// HostGateways lists this host's gateways from the kernel's routing
// tables (/proc/net/route and /proc/net/ipv6_route; nothing elsewhere).
func HostGateways() []netip.Prefix {
	var out []netip.Prefix
	add := func(a netip.Addr) {
		if a.IsValid() && !a.IsUnspecified() {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	if f, err := os.Open("/proc/net/route"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 3 || len(fs[2]) != 8 {
				continue
			}
			b, err := hex.DecodeString(fs[2])
			if err != nil {
				continue
			}
			add(netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]})) // little-endian
		}
		f.Close()
	}
	if f, err := os.Open("/proc/net/ipv6_route"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 5 || len(fs[4]) != 32 {
				continue
			}
			b, err := hex.DecodeString(fs[4])
			if err != nil {
				continue
			}
			add(netip.AddrFrom16([16]byte(b)))
		}
		f.Close()
	}
	return out
}
