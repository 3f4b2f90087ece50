package cli

// The structured-path flood: a capture of requests for distinct paths
// that look like an API (a 7-ary tree of four levels, 2401 paths per host,
// on 50 hosts: 120,050 endpoints, more than the default endpoint budget
// of the catalog). The real binary reads it; its peak RSS (VmHWM) must
// stay under 400 MB with the default configuration, the catalog must
// have evicted and counted what did not fit, and `apitap report` on it
// must write less than 5 MB. The measurements are logged as
//
//	flood: command=read endpoints=N evicted=N peak_rss_mb=N
//
// and documented in analyzer/discovery/README.md.

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
)

const (
	floodHosts   = 50
	floodPerConn = 400 // requests per keep-alive connection
	floodRSSMB   = 400
	floodReportB = 5 << 20
)

func floodSeg(level, parent, i int) string {
	code := []byte{byte('a' + level), byte('a' + parent%26), byte('a' + parent/26%26)}
	return []string{"alpha", "bravo", "carbon", "delta", "echo", "fox", "gamma"}[i] + "-" + string(code)
}

// writeFlood writes the flood capture (gzip-compressed pcap) to path.
func writeFlood(t *testing.T, path string) int {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	w, err := pcapgen.NewWriter(zw, pcapgen.Ethernet)
	if err != nil {
		t.Fatal(err)
	}
	api := pcapgen.NewAPI(7)
	enc := pcapgen.Encap{}
	var buf []byte
	ts := pcapgen.Base
	srv := netip.MustParseAddrPort("10.0.0.1:80")
	var c *pcapgen.Conn
	n := 0
	write := func(pkts []pcapgen.Packet) {
		for i := range pkts {
			ts = ts.Add(20 * time.Microsecond)
			buf = enc.AppendFrame(buf[:0], &pkts[i].Seg)
			if err := w.Write(ts, buf); err != nil {
				t.Fatal(err)
			}
		}
	}
	body := `{"id":1,"name":"x","tags":["a"],"ok":true}`
	resp := []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	for h := 0; h < floodHosts; h++ {
		host := "svc" + strconv.Itoa(h) + ".flood.example"
		for a := 0; a < 7; a++ {
			for b := 0; b < 7; b++ {
				for cc := 0; cc < 7; cc++ {
					for d := 0; d < 7; d++ {
						if n%floodPerConn == 0 {
							if c != nil {
								write(c.Close())
							}
							cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(n >> 16), byte(n >> 8)}), uint16(20000+n/floodPerConn))
							c = pcapgen.NewConn(cli, srv, ts)
							c.Step = 20 * time.Microsecond
							write(c.Handshake())
						}
						n++
						p := "/" + floodSeg(0, h, a) + "/" + floodSeg(1, a, b) + "/" + floodSeg(2, a*7+b, cc) + "/" + floodSeg(3, (a*7+b)*7+cc, d)
						req := api.Request("GET", host, p, []string{"Authorization: Bearer " + api.JWT("u"+strconv.Itoa(n%500))}, "")
						write(c.Exchange(req, resp))
					}
				}
			}
		}
	}
	write(c.Close())
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return n
}

// peakOf runs a command, polling its peak RSS until it exits.
func peakOf(t *testing.T, cmd *exec.Cmd) int64 {
	t.Helper()
	cmd.Env = append(os.Environ(), "GOGC=100", "GOMEMLIMIT=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peak := make(chan int64)
	stop := make(chan struct{})
	go func() {
		var max int64
		path := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		for {
			if v := vmHWM(path); v > max {
				max = v
			}
			select {
			case <-stop:
				peak <- max
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	close(stop)
	p := <-peak
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return p
}

// TestStructuredFlood reads the flood with the default configuration:
// bounded memory, evictions counted, a small report.
func TestStructuredFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("structured-path flood: about 30 s and a build; make test runs it")
	}
	dir := t.TempDir()
	bin := buildApitap(t, dir)
	capture := filepath.Join(dir, "flood.pcap.gz")
	n := writeFlood(t, capture)

	catalog := filepath.Join(dir, "catalog.json")
	peak := peakOf(t, exec.Command(bin, "catalog", "--format", "json", "-o", catalog, "--progress", "never", "--quiet", capture))
	b, err := os.ReadFile(catalog)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Endpoints    []json.RawMessage `json:"endpoints"`
		Budget       int               `json:"endpoint_budget"`
		Evicted      uint64            `json:"evicted_endpoints"`
		EvictedCalls uint64            `json:"evicted_calls"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	t.Logf("flood: command=catalog requests=%d endpoints=%d budget=%d evicted=%d evicted_calls=%d peak_rss_mb=%d (bound %d)",
		n, len(doc.Endpoints), doc.Budget, doc.Evicted, doc.EvictedCalls, peak>>20, floodRSSMB)
	if peak>>20 >= floodRSSMB {
		t.Errorf("peak RSS %d MB, want < %d", peak>>20, floodRSSMB)
	}
	if doc.Evicted == 0 || doc.Evicted != doc.EvictedCalls || int(doc.Evicted)+doc.Budget != n {
		t.Errorf("%d paths, budget %d: %d evicted (%d calls)", n, doc.Budget, doc.Evicted, doc.EvictedCalls)
	}

	peak = peakOf(t, exec.Command(bin, "read", "--emit", "stats", "-o", filepath.Join(dir, "events.jsonl"), "--progress", "never", "--quiet", capture))
	t.Logf("flood: command=read requests=%d peak_rss_mb=%d (bound %d)", n, peak>>20, floodRSSMB)
	if peak>>20 >= floodRSSMB {
		t.Errorf("apitap read: peak RSS %d MB, want < %d", peak>>20, floodRSSMB)
	}

	report := filepath.Join(dir, "report.html")
	peak = peakOf(t, exec.Command(bin, "report", "-o", report, "--progress", "never", "--quiet", capture))
	st, err := os.Stat(report)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("flood: command=report requests=%d report_kb=%d peak_rss_mb=%d (bound %d)", n, st.Size()>>10, peak>>20, floodRSSMB)
	if st.Size() >= floodReportB {
		t.Errorf("report of %d KB, want < %d", st.Size()>>10, floodReportB>>10)
	}
	if peak>>20 >= floodRSSMB {
		t.Errorf("apitap report: peak RSS %d MB, want < %d", peak>>20, floodRSSMB)
	}
}
