package syslog_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testutil/certtest"
	"github.com/apitap/apitap/sensor/cli"
)

// rsyslog is a real rsyslogd started by a test: it receives on imtcp (or
// imtcp with the gtls driver) and writes every message's parsed RFC 5424
// fields, one line each, to a file.
type rsyslog struct {
	addr, out string
}

const fieldsTemplate = `%pri%|%timereported:::date-rfc3339%|%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\n`

func startRsyslog(t *testing.T, tls *certtest.Files) *rsyslog {
	t.Helper()
	skip := t.Skip
	if os.Getenv("APITAP_REQUIRE_RSYSLOG") != "" { // .ci/run: the test must run
		skip = t.Fatal
	}
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/rsyslogd"); serr != nil {
			skip("needs rsyslogd (Debian packages rsyslog and rsyslog-gnutls; .ci/run installs them)")
		}
		bin = "/usr/sbin/rsyslogd"
	}
	if tls != nil {
		if m, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so"); len(m) == 0 {
			skip("needs rsyslog's TLS driver (Debian package rsyslog-gnutls; .ci/run installs it)")
		}
	}
	dir := t.TempDir()
	global := fmt.Sprintf(`workDirectory=%q maxMessageSize="256k"`, dir)
	module := `module(load="imtcp")`
	if tls != nil {
		global += fmt.Sprintf(` defaultNetstreamDriverCAFile=%q defaultNetstreamDriverCertFile=%q defaultNetstreamDriverKeyFile=%q`, tls.CA, tls.Cert, tls.Key)
		module = `module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")`
	}
	conf := fmt.Sprintf(`global(%s)
%s
template(name="fields" type="string" string="%s")
ruleset(name="out") { action(type="omfile" file=%q template="fields" flushOnTXEnd="on" asyncWriting="off") }
input(type="imtcp" port="0" listenPortFileName=%q address="127.0.0.1" ruleset="out")
`, global, module, fieldsTemplate, filepath.Join(dir, "out.log"), filepath.Join(dir, "port"))
	cf := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-n", "-f", cf, "-i", filepath.Join(dir, "pid"))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "port"))
		if err == nil && len(bytes.TrimSpace(b)) > 0 {
			return &rsyslog{addr: "127.0.0.1:" + strings.TrimSpace(string(b)), out: filepath.Join(dir, "out.log")}
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslogd did not start listening:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// received is one message as rsyslog parsed it.
type received struct {
	pri                                         int
	time                                        time.Time
	host, app, procid, msgid, sd, msg, rawFrame string
}

// wait reads rsyslog's file until it holds n messages (or 15 s pass).
func (r *rsyslog) wait(t *testing.T, n int) []received {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		f, err := os.Open(r.out)
		var got []received
		if err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				p := strings.SplitN(sc.Text(), "|", 8)
				if len(p) != 8 {
					t.Fatalf("rsyslog line with %d fields: %q", len(p), sc.Text())
				}
				pri, _ := strconv.Atoi(p[0])
				at, _ := time.Parse(time.RFC3339Nano, p[1])
				got = append(got, received{pri: pri, time: at, host: p[2], app: p[3], procid: p[4], msgid: p[5], sd: p[6], msg: p[7]})
			}
			f.Close()
		}
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// read runs apitap read on the demo capture with a configuration and
// returns its events (standard output) of the given types.
func read(t *testing.T, config string, types ...string) []string {
	t.Helper()
	cf := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cf, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := cli.Main([]string{"read", "--config", cf, "--emit", "all", "--workers", "1", "--sensor-id", "syslog-test", "../../testdata/demo/demo.pcap"},
		&cli.IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
	if code != 0 {
		t.Fatalf("apitap read: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "sink syslog") {
		t.Fatalf("no syslog sink in the summary:\n%s", stderr.String())
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var ev struct{ Type string }
		json.Unmarshal([]byte(line), &ev)
		for _, typ := range types {
			if ev.Type == typ {
				out = append(out, line)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("the demo capture gave no %v events", types)
	}
	return out
}

var wantSeverity = map[string]int{"critical": 2, "high": 3, "medium": 4, "low": 5, "info": 6}

// TestSyslogTCPJSON sends the demo's detections, blocklist entries and
// transactions as JSON to rsyslog over TCP: every event arrives once, in
// order, byte for byte, with the RFC 5424 header fields rsyslog parsed.
func TestSyslogTCPJSON(t *testing.T) {
	rs := startRsyslog(t, nil)
	want := read(t, fmt.Sprintf("exporters:\n  syslog:\n    address: %s\n    types: [detection, blocklist, transaction]\n", rs.addr), "transaction", "detection", "blocklist")
	got := rs.wait(t, len(want))
	if len(got) != len(want) {
		t.Fatalf("rsyslog received %d messages, want %d", len(got), len(want))
	}
	// the sink gets events as the pipeline makes them; standard output
	// is buffered per worker, so only the sets compare
	pending := map[string]int{}
	for _, w := range want {
		pending[w]++
	}
	for i, g := range got {
		if pending[g.msg] == 0 {
			t.Fatalf("message %d is no event written (or came twice): %s", i, g.msg)
		}
		pending[g.msg]--
		var ev struct {
			Type, Severity string
			Time           time.Time
		}
		json.Unmarshal([]byte(g.msg), &ev)
		sev := 6
		if ev.Type == "detection" {
			sev = wantSeverity[ev.Severity]
		}
		if g.pri != 16*8+sev || g.host != "syslog-test" || g.app != "apitap" || g.procid != "-" || g.msgid != ev.Type {
			t.Fatalf("message %d header: pri %d host %q app %q procid %q msgid %q (want pri %d, msgid %s)", i, g.pri, g.host, g.app, g.procid, g.msgid, 16*8+sev, ev.Type)
		}
		if !g.time.Equal(ev.Time.Truncate(time.Microsecond)) {
			t.Fatalf("message %d: time %s, want the event's %s", i, g.time, ev.Time)
		}
		if !strings.HasPrefix(g.sd, `[origin software="apitap" swVersion="`) {
			t.Fatalf("message %d: structured data %q", i, g.sd)
		}
	}
	t.Logf("rsyslog over TCP received %d JSON messages (transactions, detections, blocklist entries), all byte-identical to the events written", len(got))
}

// TestSyslogTLSCEF sends detections and blocklist entries as CEF to rsyslog
// over TLS (gtls driver, certificate verified against the test CA).
func TestSyslogTLSCEF(t *testing.T) {
	certs := certtest.Write(t, t.TempDir())
	rs := startRsyslog(t, &certs)
	want := read(t, fmt.Sprintf("exporters:\n  syslog:\n    address: %s\n    transport: tls\n    tls: {ca_file: %s}\n    payload: cef\n", rs.addr, certs.CA), "detection", "blocklist")
	got := rs.wait(t, len(want))
	if len(got) != len(want) {
		t.Fatalf("rsyslog received %d messages over TLS, want %d", len(got), len(want))
	}
	classes := map[string]int{}
	byID := map[string]string{}
	for _, w := range want {
		var ev struct{ ID, Key string }
		json.Unmarshal([]byte(w), &ev)
		byID[ev.ID+ev.Key] = w
	}
	for i, g := range got {
		hdr, ext, ok := parseCEF(g.msg)
		if !ok {
			t.Fatalf("message %d is not CEF: %q", i, g.msg)
		}
		if hdr[1] != "apitap" || hdr[2] != "apitap" {
			t.Fatalf("message %d: vendor/product %q/%q", i, hdr[1], hdr[2])
		}
		w, ok := byID[ext["externalId"]]
		if !ok {
			t.Fatalf("message %d: externalId %q is no event written", i, ext["externalId"])
		}
		var ev struct {
			Type, ID, Key, Class, Severity string
			Actor                          struct{ IP, Type, Value string }
		}
		json.Unmarshal([]byte(w), &ev)
		switch ev.Type {
		case "detection":
			if hdr[4] != ev.Class || ext["cat"] != ev.Class || (ev.Actor.IP != "" && ext["src"] != ev.Actor.IP) {
				t.Fatalf("detection %d: header %q extensions %v, want %s %s from %s", i, hdr, ext, ev.Class, ev.ID, ev.Actor.IP)
			}
			classes[ev.Class]++
		case "blocklist":
			if hdr[4] != "blocklist" || (ev.Actor.Type == "ip" && ext["src"] != ev.Actor.Value) {
				t.Fatalf("blocklist entry %d: header %q extensions %v", i, hdr, ext)
			}
			classes["blocklist"]++
		}
		for k := range ext {
			if strings.HasSuffix(k, "Label") && ext[strings.TrimSuffix(k, "Label")] == "" {
				t.Fatalf("message %d: %s without its value", i, k)
			}
		}
	}
	t.Logf("rsyslog over TLS received %d CEF messages: %v", len(got), classes)
}

// TestSyslogOCSF sends detections in OCSF form: rsyslog receives Detection
// Finding events (class 2004) carrying the detection ids.
func TestSyslogOCSF(t *testing.T) {
	rs := startRsyslog(t, nil)
	want := read(t, fmt.Sprintf("exporters:\n  syslog:\n    address: %s\n    format: ocsf\n", rs.addr), "detection")
	got := rs.wait(t, len(want))
	if len(got) != len(want) {
		t.Fatalf("rsyslog received %d messages, want %d detections", len(got), len(want))
	}
	ids := map[string]bool{}
	for _, w := range want {
		var in struct{ ID string }
		json.Unmarshal([]byte(w), &in)
		ids[in.ID] = true
	}
	for i, g := range got {
		var f struct {
			ClassUID    int `json:"class_uid"`
			FindingInfo struct {
				UID string `json:"uid"`
			} `json:"finding_info"`
		}
		if err := json.Unmarshal([]byte(g.msg), &f); err != nil || f.ClassUID != 2004 || !ids[f.FindingInfo.UID] {
			t.Fatalf("message %d: %v class %d uid %q", i, err, f.ClassUID, f.FindingInfo.UID)
		}
	}
	t.Logf("rsyslog received %d OCSF Detection Findings", len(got))
}

// parseCEF splits a CEF line into its 8 header fields (the last being the
// extension text) and the extensions, unescaping as the CEF specification
// says (\| \\ in the header; \= \\ \n \r in values).
func parseCEF(s string) ([]string, map[string]string, bool) {
	if !strings.HasPrefix(s, "CEF:") {
		return nil, nil, false
	}
	var hdr []string
	var cur strings.Builder
	i := 0
	for ; i < len(s) && len(hdr) < 7; i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case s[i] == '|':
			hdr = append(hdr, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	if len(hdr) != 7 {
		return nil, nil, false
	}
	rest := s[i:]
	hdr = append(hdr, rest)
	ext := map[string]string{}
	// keys are words followed by an unescaped '='; a value runs to the
	// space before the next key
	var key string
	var val strings.Builder
	flush := func() {
		if key != "" {
			ext[key] = strings.TrimRight(val.String(), " ")
		}
		val.Reset()
	}
	for j := 0; j < len(rest); j++ {
		c := rest[j]
		if c == '\\' && j+1 < len(rest) {
			j++
			switch rest[j] {
			case 'n':
				val.WriteByte('\n')
			case 'r':
				val.WriteByte('\r')
			default:
				val.WriteByte(rest[j])
			}
			continue
		}
		if c == '=' {
			v := val.String()
			k := v
			if sp := strings.LastIndexByte(v, ' '); sp >= 0 {
				k = v[sp+1:]
				val.Reset()
				val.WriteString(v[:sp])
			} else {
				val.Reset()
			}
			flush()
			key = k
			continue
		}
		val.WriteByte(c)
	}
	flush()
	return hdr, ext, true
}
