package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
)

// TestSpoofedFlood: a million spoofed sources each send a SYN and an
// injection that the server never answers, and 1000 real attackers, whose
// connections are answered, probe among them. Every real attacker is
// detected on a confirmed flow and gets a blocklist entry; no spoofed
// source ever does, and the one-sided connections are shed within their
// own bound (drops.reassembly_unanswered) without taking the place of the
// answered ones.
func TestSpoofedFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("a million spoofed flows: about 20 s and a build; make test runs it")
	}
	bin := buildApitap(t, t.TempDir())
	cmd := exec.Command(bin, "read", "--workers", "2", "--emit", "detection,blocklist,stats", "--progress", "never", "--quiet", "--sensor-id", "flood", "-")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type actor struct{ detected, confirmed, blocked bool }
	attackers, spoofed := map[string]*actor{}, map[string]*actor{}
	var stats struct {
		Drops map[string]uint64 `json:"drops"`
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var ev struct {
				Type      string `json:"type"`
				Confirmed bool   `json:"confirmed"`
				Actor     struct {
					IP    string `json:"ip"`
					Type  string `json:"type"`
					Value string `json:"value"`
				} `json:"actor"`
				Action string            `json:"action"`
				Drops  map[string]uint64 `json:"drops"`
			}
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			ip := ev.Actor.IP
			if ev.Type == "blocklist" {
				ip = ev.Actor.Value
			}
			m := attackers
			if strings.HasPrefix(ip, "45.") {
				m = spoofed
			}
			a := m[ip]
			if a == nil {
				a = &actor{}
				m[ip] = a
			}
			switch ev.Type {
			case "detection":
				a.detected = true
				a.confirmed = a.confirmed || ev.Confirmed
			case "blocklist":
				if ev.Action == "block" || ev.Action == "rate_limit" {
					a.blocked = true
				}
			case "stats":
				stats.Drops = ev.Drops
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	w, err := pcapgen.NewWriter(stdin, pcapgen.Ethernet)
	if err != nil {
		t.Fatal(err)
	}
	srv := netip.MustParseAddrPort("10.0.0.1:80")
	ts := pcapgen.Base
	enc := pcapgen.Encap{}
	var buf []byte
	write := func(s *pcapgen.Segment) {
		ts = ts.Add(20 * time.Microsecond) // 40 s of capture time: 25 new attackers a second, under blocklist.max_new_per_second
		buf = enc.AppendFrame(buf[:0], s)
		if err == nil {
			err = w.Write(ts, buf)
		}
	}
	const flood, real = 1000000, 1000
	inj := []byte("GET /api/v1/items?id=1%27%20UNION%20SELECT%20password%20FROM%20users-- HTTP/1.1\r\nHost: victim.example\r\n\r\n")
	for i := 0; i < flood; i++ {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{45, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i%60000))
		syn := pcapgen.Segment{Src: src, Dst: srv, Seq: uint32(i) * 7919, Flags: pcapgen.SYN}
		write(&syn)
		data := pcapgen.Segment{Src: src, Dst: srv, Seq: uint32(i)*7919 + 1, Ack: 1, Flags: pcapgen.PSH | pcapgen.ACK, Payload: inj}
		write(&data)
		if i%(flood/real) == flood/real/2 {
			n := i / (flood / real)
			c := pcapgen.NewConn(netip.AddrPortFrom(netip.AddrFrom4([4]byte{91, 0, byte(n >> 8), byte(n)}), uint16(40000+n)), srv, ts)
			pkts := c.Handshake()
			pkts = append(pkts, c.Exchange(inj, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]"))...)
			pkts = append(pkts, c.Exchange([]byte("GET /api/v1/files?name=../../../../etc/passwd HTTP/1.1\r\nHost: victim.example\r\n\r\n"), []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))...)
			pkts = append(pkts, c.Close()...)
			for j := range pkts {
				write(&pkts[j].Seg)
			}
		}
	}
	if err == nil {
		err = w.Flush()
	}
	stdin.Close()
	<-done
	if werr := cmd.Wait(); werr != nil || err != nil {
		t.Fatalf("apitap: %v, capture: %v\n%s", werr, err, stderr.String())
	}
	var det, conf, blocked int
	for _, a := range attackers {
		if a.detected {
			det++
		}
		if a.confirmed {
			conf++
		}
		if a.blocked {
			blocked++
		}
	}
	var sdet, sconf, sblocked int
	for _, a := range spoofed {
		if a.detected {
			sdet++
		}
		if a.confirmed {
			sconf++
		}
		if a.blocked {
			sblocked++
		}
	}
	t.Logf("spoofed flood: attackers %d: detected %d, confirmed %d, blocked %d; spoofed sources reported %d, confirmed %d, blocked %d; drops %v",
		len(attackers), det, conf, blocked, sdet, sconf, sblocked, stats.Drops)
	if det != real || conf != real || blocked != real {
		t.Errorf("of %d real attackers: %d detected, %d confirmed, %d blocked; want all", real, det, conf, blocked)
	}
	if sconf != 0 || sblocked != 0 {
		t.Errorf("spoofed sources: %d confirmed, %d blocked; want none", sconf, sblocked)
	}
	if stats.Drops["reassembly_unanswered"] == 0 || stats.Drops["reassembly_flows"] != 0 {
		t.Errorf("drops %v: want reassembly_unanswered and no reassembly_flows", stats.Drops)
	}
}
