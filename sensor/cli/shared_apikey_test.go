package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
)

// TestSharedAddressAPIKeys: behind one public address (a NAT, a partner's
// egress) several clients each call with their own API key, which the
// server accepts; one of them sends an injection. The address is shared
// (the README: distinct "users or API keys"): the address the others
// share is never the entry, and the injection, whose detection names only
// the address, blocks nothing (withheld: shared_address). With one API
// key behind the address, the same injection blocks the address: the
// detection is the same, only the count of identities differs.
func TestSharedAddressAPIKeys(t *testing.T) {
	for _, c := range []struct {
		keys   int
		wantIP bool
	}{{1, true}, {6, false}} {
		t.Run(fmt.Sprintf("keys=%d", c.keys), func(t *testing.T) {
			entries, withheld := sharedAPIKeyRun(t, c.keys)
			ip, other := 0, 0
			for _, e := range entries {
				if e.Actor.Type == "ip" || e.Actor.Type == "cidr" {
					ip++
				} else {
					other++
				}
			}
			if c.wantIP && ip == 0 {
				t.Fatalf("one API key behind the address: no address entry, entries %+v", entries)
			}
			if !c.wantIP && (ip != 0 || withheld["shared_address"] == 0) {
				t.Fatalf("%d API keys behind the address: %d address entries (want none), %d others, withheld %v", c.keys, ip, other, withheld)
			}
		})
	}
}

type blockEntry struct {
	Type  string `json:"type"`
	Actor struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"actor"`
	Action string `json:"action"`
}

func sharedAPIKeyRun(t *testing.T, keys int) ([]blockEntry, map[string]int) {
	t.Helper()
	srv := netip.MustParseAddrPort("10.1.0.5:80")
	ts := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var pkts []pcapgen.Packet
	resp := func(body string) []byte {
		return fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}
	req := func(path, key string) []byte {
		return fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: partner-batch/2.1\r\nX-API-Key: %s\r\nAccept: application/json\r\n\r\n", path, key)
	}
	key := func(i int) string { return fmt.Sprintf("pk_live_%024d", 7919*(i+1)) }
	// other clients of the server, so that it is learnt as one
	for i := 0; i < 4; i++ {
		c := pcapgen.NewConn(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, 0, byte(10 + i)}), 40000), srv, ts)
		pkts = append(pkts, c.Handshake()...)
		pkts = append(pkts, c.Exchange(req("/api/v1/orders", key(100+i)), resp(`{"orders":[]}`))...)
		pkts = append(pkts, c.Close()...)
		ts = ts.Add(time.Second)
	}
	nat := netip.MustParseAddr("81.2.69.160")
	for i := 0; i < keys; i++ {
		c := pcapgen.NewConn(netip.AddrPortFrom(nat, uint16(50000+i)), srv, ts)
		pkts = append(pkts, c.Handshake()...)
		for j := 0; j < 2; j++ {
			pkts = append(pkts, c.Exchange(req(fmt.Sprintf("/api/v1/orders/%d", 1000+10*i+j), key(i)), resp(`{"id":1,"status":"shipped"}`))...)
		}
		pkts = append(pkts, c.Close()...)
		ts = ts.Add(time.Second)
	}
	c := pcapgen.NewConn(netip.AddrPortFrom(nat, 51000), srv, ts)
	pkts = append(pkts, c.Handshake()...)
	pkts = append(pkts, c.Exchange(req("/api/v1/orders?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--%20-", key(0)), resp(`{"orders":[]}`))...)
	pkts = append(pkts, c.Close()...)
	path := filepath.Join(t.TempDir(), "nat.pcap")
	if err := pcapgen.WriteFile(path, pcapgen.Ethernet, &pcapgen.Encap{}, pkts); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	env := &IO{Stdout: &out, Stderr: &errb}
	if code := Main([]string{"read", "--workers", "2", "--emit", "detection,blocklist,stats", "--quiet", "--sensor-id", "nat", path}, env); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var entries []blockEntry
	var withheld map[string]int
	detected := false
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e blockEntry
		var d struct {
			Type     string         `json:"type"`
			Class    string         `json:"class"`
			Withheld map[string]int `json:"blocklist_withheld"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil || json.Unmarshal(sc.Bytes(), &d) != nil {
			t.Fatalf("bad line %s", sc.Bytes())
		}
		if e.Type == "blocklist" {
			entries = append(entries, e)
		}
		if d.Type == "stats" {
			withheld = d.Withheld
		}
		if d.Type == "detection" && d.Class == "sqli" {
			detected = true
		}
	}
	if !detected {
		t.Fatalf("no sqli detection:\n%s", out.String())
	}
	return entries, withheld
}
