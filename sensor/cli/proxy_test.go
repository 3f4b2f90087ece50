package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
	"github.com/apitap/apitap/sensor"
	"github.com/apitap/apitap/sensor/capture"
)

// proxyCapture: a client behind a TLS-terminating load balancer (the proxy
// adds X-Forwarded-For) probes with injections, reads personal data and
// tries many usernames at the login; meanwhile a spoofed source sends an
// injection that the server never answers.
func proxyCapture(t *testing.T) string {
	t.Helper()
	srv := netip.MustParseAddrPort("10.0.2.10:80")
	t0 := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	var pkts []pcapgen.Packet
	port := uint16(40000)
	conn := func() *pcapgen.Conn {
		port++
		c := pcapgen.NewConn(netip.AddrPortFrom(netip.MustParseAddr("10.9.0.1"), port), srv, t0.Add(time.Duration(port-40000)*time.Second))
		pkts = append(pkts, c.Handshake()...)
		return c
	}
	req := func(method, target, body string) []byte {
		h := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: api.shop.example\r\nUser-Agent: python-requests/2.31.0\r\nX-Forwarded-For: 203.0.113.50\r\nX-Forwarded-Proto: https\r\n", method, target)
		if body != "" {
			h += fmt.Sprintf("Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
		}
		return []byte(h + "\r\n" + body)
	}
	resp := func(status int, body string) []byte {
		return []byte(fmt.Sprintf("HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", status, len(body), body))
	}
	c := conn()
	pkts = append(pkts, c.Exchange(req("GET", "/v1/products?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--", ""), resp(200, `{"items":[]}`))...)
	pkts = append(pkts, c.Exchange(req("GET", "/v1/files?name=../../../../etc/passwd", ""), resp(404, `{}`))...)
	pkts = append(pkts, c.Exchange(req("GET", "/v1/users/7", ""), resp(200, `{"id":7,"email":"jane.doe@example.com","card":"4111111111111111","ssn":"078-05-1120"}`))...)
	pkts = append(pkts, c.Close()...)
	for i := 0; i < 30; i++ {
		c := conn()
		pkts = append(pkts, c.Exchange(req("POST", "/v1/login", fmt.Sprintf(`{"username":"user%d@example.com","password":"hunter%d"}`, i, i)), resp(401, `{"error":"invalid credentials"}`))...)
		pkts = append(pkts, c.Close()...)
	}
	// spoofed: a SYN and an injection, never answered
	sp := pcapgen.NewConn(netip.MustParseAddrPort("198.51.100.99:5555"), srv, t0.Add(90*time.Second))
	hs := sp.Handshake()
	pkts = append(pkts, hs[0])
	sp.Skip(false, 1) // the server's SYN never comes
	inj := sp.Send(true, []byte("GET /v1/products?id=1%20OR%201=1-- HTTP/1.1\r\nHost: api.shop.example\r\n\r\n"))
	pkts = append(pkts, inj[:len(inj)-1]...) // no ACK from the server either
	path := filepath.Join(t.TempDir(), "proxy.pcap")
	if err := pcapgen.WriteFile(path, pcapgen.Ethernet, &pcapgen.Encap{}, pkts); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestClientBehindProxy: behind a trusted proxy every detection names the
// client, with the proxy as peer; a spoofed, unanswered source gives
// detections marked unconfirmed. The output is the same with 1 and 4
// workers.
func TestClientBehindProxy(t *testing.T) {
	file := proxyCapture(t)
	run := func(workers int) string {
		cfg := sensor.Config{}
		cfg.Sensor.ID, cfg.Sensor.Workers = "t", workers
		cfg.Sensor.TrustedProxies = []string{"10.9.0.0/24"}
		cfg.Output.Emit = []string{"detection", "transaction"}
		var out bytes.Buffer
		p, err := sensor.NewPipeline(cfg, &out, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		src, err := capture.OpenFile(file)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if err := p.Run(src); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Close(); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	one := run(1)
	if four := run(4); four != one {
		t.Fatalf("4 workers give other events than 1")
	}
	classes := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(one), "\n") {
		var ev struct {
			Type      string `json:"type"`
			Class     string `json:"class"`
			Confirmed bool   `json:"confirmed"`
			Actor     struct{ IP, Peer string }
			Client    string `json:"client"`
			Peer      string `json:"peer"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		switch {
		case ev.Type == "transaction" && ev.Client == "198.51.100.99":
		case ev.Type == "transaction":
			if ev.Client != "203.0.113.50" || ev.Peer != "10.9.0.1" {
				t.Errorf("transaction client %q peer %q", ev.Client, ev.Peer)
			}
		case ev.Actor.IP == "198.51.100.99":
			if ev.Confirmed {
				t.Errorf("a detection on the spoofed, unanswered flow is confirmed: %s", line)
			}
		case ev.Actor.IP != "" && (ev.Actor.IP != "203.0.113.50" || ev.Actor.Peer != "" && ev.Actor.Peer != "10.9.0.1"):
			t.Errorf("%s names %s (peer %s), want the client 203.0.113.50 behind 10.9.0.1", ev.Class, ev.Actor.IP, ev.Actor.Peer)
		default:
			if ev.Type == "detection" && ev.Actor.IP != "" {
				classes[ev.Class] = true
				if !ev.Confirmed {
					t.Errorf("%s on answered flows is not confirmed", ev.Class)
				}
			}
		}
	}
	for _, c := range []string{"sqli", "path_traversal", "sensitive_data", "credential_stuffing"} {
		if !classes[c] {
			t.Errorf("no %s detection about the client (got %v)", c, classes)
		}
	}
}
