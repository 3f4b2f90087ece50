package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gopacket/gopacket"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/sensor/capture"
	"github.com/apitap/apitap/sensor/decode"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("apitap-suricmp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	suri := fs.String("suricata", "suricata", "the Suricata binary")
	verbose := fs.Bool("v", false, "print the transactions only one side reported")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: apitap-suricmp [-suricata PATH] [-v] DIR_OR_FILE...")
		return 2
	}
	bin, err := exec.LookPath(*suri)
	if err != nil {
		fmt.Fprintln(stderr, "apitap-suricmp: suricata not installed, comparison skipped")
		return 3
	}
	files, err := captures(fs.Args())
	if err != nil {
		fmt.Fprintln(stderr, "apitap-suricmp:", err)
		return 2
	}
	var tot Result
	for _, f := range files {
		r, err := Compare(bin, f)
		if errors.Is(err, ErrUnsupported) {
			fmt.Fprintf(stdout, "%s\tskipped: %v\n", f, err)
			continue
		}
		if err != nil {
			fmt.Fprintf(stderr, "apitap-suricmp: %s: %v\n", f, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\tsuricata=%d apitap=%d agree=%d\n", f, r.Suricata, r.Apitap, r.Agree)
		if *verbose {
			for _, k := range r.OnlySuricata {
				fmt.Fprintf(stdout, "  only suricata: %s\n", k)
			}
			for _, k := range r.OnlyApitap {
				fmt.Fprintf(stdout, "  only apitap:   %s\n", k)
			}
		}
		tot.Suricata += r.Suricata
		tot.Apitap += r.Apitap
		tot.Agree += r.Agree
	}
	fmt.Fprintf(stdout, "total suricata=%d apitap=%d agree=%d (%.1f%% of Suricata's, %.1f%% of apitap's)\n",
		tot.Suricata, tot.Apitap, tot.Agree, pct(tot.Agree, tot.Suricata), pct(tot.Agree, tot.Apitap))
	return 0
}

func pct(a, b int) float64 {
	if b == 0 {
		return 100
	}
	return 100 * float64(a) / float64(b)
}

// captures expands directories into their capture files, sorted.
func captures(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		ents, err := os.ReadDir(a)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			n := e.Name()
			if !e.IsDir() && (strings.HasSuffix(n, ".pcap") || strings.HasSuffix(n, ".pcapng") || strings.HasSuffix(n, ".pcap.gz") || strings.HasSuffix(n, ".cap")) {
				out = append(out, filepath.Join(a, n))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// Key is one transaction as both tools see it.
type Key struct {
	Method, Host, URL string
	Status            int
}

func (k Key) String() string { return fmt.Sprintf("%s %s %s => %d", k.Method, k.Host, k.URL, k.Status) }

// Result is the comparison of one capture.
type Result struct {
	Suricata, Apitap, Agree  int
	OnlySuricata, OnlyApitap []Key
}

// Compare runs both tools on one capture.
func Compare(suricata, path string) (Result, error) {
	s, err := SuricataTransactions(suricata, path)
	if errors.Is(err, ErrUnsupported) {
		return Result{}, err
	} else if err != nil {
		return Result{}, fmt.Errorf("suricata: %w", err)
	}
	a, err := ApitapTransactions(path)
	if err != nil {
		return Result{}, fmt.Errorf("apitap: %w", err)
	}
	return diff(s, a), nil
}

func diff(s, a []Key) Result {
	r := Result{Suricata: len(s), Apitap: len(a)}
	left := map[Key]int{}
	for _, k := range s {
		left[k]++
	}
	for _, k := range a {
		if left[k] > 0 {
			left[k]--
			r.Agree++
		} else {
			r.OnlyApitap = append(r.OnlyApitap, k)
		}
	}
	for _, k := range s {
		if left[k] > 0 {
			left[k]--
			r.OnlySuricata = append(r.OnlySuricata, k)
		}
	}
	return r
}

func normHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(strings.Trim(h, "[]"))
}

// suricataConfig is a minimal configuration: eve http records only, every
// port, midstream pickup (mirror captures start anywhere).
const suricataConfig = `%YAML 1.1
---
default-log-dir: .
outputs:
  - eve-log:
      enabled: yes
      filetype: regular
      filename: eve.json
      types:
        - http:
            extended: yes
        - http2
app-layer:
  protocols:
    http:
      enabled: yes
    http2:
      enabled: yes
stream:
  midstream: true
  async-oneside: true
unix-command:
  enabled: no
`

// ErrUnsupported says Suricata can not read the capture (its link type).
var ErrUnsupported = errors.New("link type not supported by suricata")

// SuricataTransactions runs Suricata on path and returns its http records.
func SuricataTransactions(bin, path string) ([]Key, error) {
	dir, err := os.MkdirTemp("", "suricmp")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in := path
	if strings.HasSuffix(path, ".gz") { // Suricata reads no gzip
		in = filepath.Join(dir, "in.pcap")
		if err := gunzip(path, in); err != nil {
			return nil, err
		}
	}
	cfg := filepath.Join(dir, "suricata.yaml")
	if err := os.WriteFile(cfg, []byte(suricataConfig), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-c", cfg, "--runmode", "single", "-k", "none", "-r", in, "-l", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		if bytes.Contains(out, []byte("not (yet) supported")) {
			return nil, ErrUnsupported
		}
		return nil, fmt.Errorf("%v: %s", err, lastLines(out, 5))
	}
	f, err := os.Open(filepath.Join(dir, "eve.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	var keys []Key
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev struct {
			EventType string `json:"event_type"`
			HTTP      struct {
				Hostname string `json:"hostname"`
				URL      string `json:"url"`
				Method   string `json:"http_method"`
				Protocol string `json:"protocol"`
				Status   int    `json:"status"`
				Version  string `json:"version"` // "2": an HTTP/2 stream
				Request  []struct {
					Name, Value string
				} `json:"request_headers"`
			} `json:"http"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.EventType != "http" {
			continue
		}
		if ev.HTTP.Version == "2" && ev.HTTP.Hostname == "" {
			for _, h := range ev.HTTP.Request {
				if h.Name == ":authority" {
					ev.HTTP.Hostname = h.Value
				}
			}
		}
		if ev.HTTP.Method == "" && ev.HTTP.URL == "" || ev.HTTP.URL == "/libhtp::request_uri_not_seen" {
			continue
		}
		keys = append(keys, Key{Method: ev.HTTP.Method, Host: normHost(ev.HTTP.Hostname), URL: ev.HTTP.URL, Status: ev.HTTP.Status})
	}
	return keys, sc.Err()
}

func lastLines(b []byte, n int) string {
	l := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return string(bytes.Join(l[max(0, len(l)-n):], []byte("\n")))
}

func gunzip(src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, z); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ApitapTransactions reads path as `apitap read --workers 1` does (decode,
// reassembly, HTTP/1) and returns its transactions. Requests without a
// method (unmatched responses) are left out, as Suricata logs none.
func ApitapTransactions(path string) ([]Key, error) {
	src, err := capture.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var keys []Key
	w := reassembly.NewWorker(reassembly.Config{}, func(tx *reassembly.Transaction) {
		if tx.Request == nil {
			return
		}
		k := Key{Method: tx.Request.Method, Host: normHost(tx.Request.Host), URL: tx.Request.Target}
		if tx.Response != nil {
			k.Status = tx.Response.Status
		}
		keys = append(keys, k)
	})
	dec := decode.New(decode.Options{})
	var dp decode.Packet
	var p reassembly.Packet
	link := src.LinkType()
	for {
		data, ci, err := src.Next()
		if err != nil {
			break // the end, or damage: what was read counts
		}
		if dec.Decode(data, link, &dp) != decode.OK {
			continue
		}
		t := &dp.TCP
		p = reassembly.Packet{NetFlow: dp.NetFlow, TCP: t, CI: gopacket.CaptureInfo{Timestamp: ci.Timestamp, CaptureLength: ci.CaptureLength, Length: ci.Length},
			Src: dp.Src, Dst: dp.Dst, SrcPort: dp.SrcPort, DstPort: dp.DstPort, VLAN: dp.VLAN, NVLAN: dp.NVLAN}
		if len(t.Payload) == 0 && !t.SYN && !t.FIN && !t.RST {
			if w.HasHoles() {
				w.Ack(&p)
			}
			continue
		}
		w.Packet(&p)
	}
	w.Close()
	return keys, nil
}
