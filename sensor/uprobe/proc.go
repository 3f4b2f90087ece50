package uprobe

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"path"
	"strconv"
	"strings"
)

// Reading /proc: a process's mapped TLS libraries (/proc/PID/maps), the
// socket behind a file descriptor (/proc/PID/fd/N is "socket:[INODE]") and
// the TCP connection of a socket inode in the process's network namespace
// (/proc/PID/net/tcp and tcp6). The parsers take the files' bytes and
// never fail: what they do not understand they skip.

// tcpEntry is one line of /proc/net/tcp or tcp6.
type tcpEntry struct {
	Local, Remote netip.AddrPort
	State         uint8 // 0x01 established, 0x0a listen
	Inode         uint64
}

const (
	tcpEstablished = 0x01
	tcpListen      = 0x0a
)

// parseNetTCP calls fn for each well-formed line of a /proc/net/tcp or
// tcp6 file until fn returns false. Addresses are unmapped (an IPv4
// client of an IPv6 socket is an IPv4 address).
func parseNetTCP(data []byte, fn func(e *tcpEntry) bool) {
	var e tcpEntry
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		f := bytes.Fields(line)
		// sl local rem st tx:rx tr:when retr uid timeout inode
		if len(f) < 10 || !bytes.HasSuffix(f[0], []byte(":")) {
			continue
		}
		var ok1, ok2 bool
		e.Local, ok1 = parseHexAddrPort(f[1])
		e.Remote, ok2 = parseHexAddrPort(f[2])
		st, err1 := strconv.ParseUint(string(f[3]), 16, 8)
		ino, err2 := strconv.ParseUint(string(f[9]), 10, 64)
		if !ok1 || !ok2 || err1 != nil || err2 != nil {
			continue
		}
		e.State, e.Inode = uint8(st), ino
		if !fn(&e) {
			return
		}
	}
}

// parseHexAddrPort reads "0100007F:1F90" (IPv4) or 32 hex digits and a
// port (IPv6): the kernel prints each 32-bit word of the address in host
// order (little-endian here) and the port as a number.
func parseHexAddrPort(b []byte) (netip.AddrPort, bool) {
	i := bytes.IndexByte(b, ':')
	if i < 0 || len(b)-i-1 != 4 {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(string(b[i+1:]), 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	var raw [16]byte
	h := b[:i]
	if len(h) != 8 && len(h) != 32 {
		return netip.AddrPort{}, false
	}
	n, err := hex.Decode(raw[:], h)
	if err != nil {
		return netip.AddrPort{}, false
	}
	for w := 0; w+4 <= n; w += 4 { // each word is little-endian
		raw[w], raw[w+1], raw[w+2], raw[w+3] = raw[w+3], raw[w+2], raw[w+1], raw[w]
	}
	var a netip.Addr
	if n == 4 {
		a = netip.AddrFrom4([4]byte(raw[:4]))
	} else {
		a = netip.AddrFrom16(raw).Unmap()
	}
	return netip.AddrPortFrom(a, uint16(port)), true
}

// socketInode reads the target of a /proc/PID/fd link: "socket:[12345]".
func socketInode(link string) (uint64, bool) {
	s, ok := strings.CutPrefix(link, "socket:[")
	if !ok || !strings.HasSuffix(s, "]") {
		return 0, false
	}
	n, err := strconv.ParseUint(s[:len(s)-1], 10, 64)
	return n, err == nil
}

// mappedLib is a TLS library a process maps.
type mappedLib struct {
	Path string // as the process sees it (inside its mount namespace)
	Kind string // "libssl"
}

// parseMaps calls fn for each distinct file of a /proc/PID/maps that is an
// OpenSSL or BoringSSL libssl (by name: libssl.so, libssl.so.3, ...).
func parseMaps(data []byte, fn func(m mappedLib)) {
	var last string
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		// address perms offset dev inode path
		i := bytes.IndexByte(line, '/')
		if i < 0 {
			continue
		}
		p := string(bytes.TrimSuffix(line[i:], []byte(" (deleted)")))
		if p == last {
			continue
		}
		base := path.Base(p)
		if base == "libssl.so" || strings.HasPrefix(base, "libssl.so.") {
			last = p
			fn(mappedLib{Path: p, Kind: "libssl"})
		}
	}
}

// opensslVersion finds "OpenSSL 3.0.19 27 Jan 2026" (or "BoringSSL") in a
// library's bytes: "" when there is none (the version string is in
// libcrypto; libssl has the soname only).
func opensslVersion(data []byte) string {
	for _, pre := range [][]byte{[]byte("OpenSSL "), []byte("BoringSSL")} {
		for off := 0; ; {
			i := bytes.Index(data[off:], pre)
			if i < 0 {
				break
			}
			i += off
			off = i + len(pre)
			if bytes.Equal(pre, []byte("BoringSSL")) {
				return "BoringSSL"
			}
			j := i + len(pre)
			if j < len(data) && data[j] >= '1' && data[j] <= '9' {
				end := j
				for end < len(data) && end-j < 16 && (data[end] == '.' || data[end] >= '0' && data[end] <= '9' || data[end] >= 'a' && data[end] <= 'z') {
					end++
				}
				return "OpenSSL " + string(data[j:end])
			}
		}
	}
	return ""
}

// podUID finds a Kubernetes pod's UID in a /proc/PID/cgroup file
// (".../kubepods-burstable-pod<uid>.slice/..." or ".../pod<uid>/..."): ""
// outside Kubernetes.
func podUID(cgroup []byte) string {
	for off := 0; ; {
		i := bytes.Index(cgroup[off:], []byte("pod"))
		if i < 0 {
			return ""
		}
		i += off + 3
		off = i
		if i+36 > len(cgroup) {
			return ""
		}
		u := cgroup[i : i+36]
		ok := true
		for k, c := range u {
			dash := k == 8 || k == 13 || k == 18 || k == 23
			switch {
			case dash && (c == '-' || c == '_'):
			case !dash && (c >= '0' && c <= '9' || c >= 'a' && c <= 'f'):
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok {
			return strings.ReplaceAll(string(u), "_", "-")
		}
	}
}
