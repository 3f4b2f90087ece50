package decode

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
)

// TestTsharkAgrees writes a capture of each link type and encapsulation
// and checks that tshark (an independent decoder) finds the same TCP
// segments and HTTP request as Decode does. It skips without tshark.
func TestTsharkAgrees(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed: link types not cross-checked")
	}
	d := New(Options{})
	for _, c := range frameCases() {
		if !crossChecked[c.name] {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "c.pcap")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w, err := pcapgen.NewWriter(f, c.enc.Link)
			if err != nil {
				t.Fatal(err)
			}
			k := pcapgen.NewConn(c.src, c.dst, pcapgen.Base)
			pkts := k.Handshake()
			pkts = append(pkts, k.Exchange([]byte("GET /tshark/"+strings.ReplaceAll(c.name, " ", "-")+" HTTP/1.1\r\nHost: t\r\n\r\n"),
				[]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))...)
			if err := pcapgen.WriteAll(w, &c.enc, pkts); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			out, err := exec.Command(tshark, "-r", path, "-o", "tcp.check_checksum:TRUE", "-d", "tcp.port==443,http", "-T", "fields",
				"-e", "tcp.srcport", "-e", "http.request.uri", "-e", "tcp.checksum.status").Output()
			if err != nil {
				t.Fatalf("tshark: %v\n%s", err, out)
			}
			var ours []string
			for i := range pkts {
				var p Packet
				frame := c.enc.AppendFrame(nil, &pkts[i].Seg)
				if r := d.Decode(frame, linkOf(c.enc), &p); r != OK {
					t.Fatalf("packet %d: %v", i, r)
				}
				ours = append(ours, strconv.Itoa(int(p.SrcPort)))
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != len(ours) {
				t.Fatalf("tshark saw %d packets, we %d:\n%s", len(lines), len(ours), out)
			}
			uri := false
			for i, l := range lines {
				fs := strings.Split(l, "\t")
				if fs[0] != ours[i] {
					t.Errorf("packet %d: tshark port %q, ours %s", i, fs[0], ours[i])
				}
				if len(fs) > 2 && fs[2] != "" && fs[2] != "1" { // 1: checksum good
					t.Errorf("packet %d: tshark checksum status %q", i, fs[2])
				}
				uri = uri || len(fs) > 1 && strings.HasPrefix(fs[1], "/tshark/")
			}
			if !uri {
				t.Errorf("tshark found no HTTP request:\n%s", out)
			}
		})
	}
}

// crossChecked are the frame cases run through tshark (it takes about two
// seconds each): the link types and tunnels that gopacket does not decode
// for us.
var crossChecked = map[string]bool{"pppoe": true, "pppoe vlan ipv6": true, "ppp": true, "cisco hdlc": true,
	"cisco hdlc ipv6": true, "nflog": true, "nflog ipv6": true, "teredo": true, "sll2": true}
