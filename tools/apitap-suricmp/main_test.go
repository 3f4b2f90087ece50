package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// suricataWrong lists the test captures on which Suricata 7 is
// demonstrably wrong (their golden files hold the truth the generator
// built, checked by sensor/cli's TestGolden), and why.
var suricataWrong = map[string]string{
	"erspan3.pcap":            "Suricata does not decapsulate ERSPAN type III with a platform subheader: no transaction",
	"h1_acked_holes.pcap":     "after a lost response Suricata pairs request #5 with a response that is not its own and, after the lost response head of #15, reports #16-#20 without their responses",
	"h1_oversized_head.pcap":  "after the 80 KiB request head Suricata reports it without Host or response and misses the next exchange",
	"h1_rst.pcap":             "Suricata ends the connection at a RST the endpoints ignored: the 2 exchanges after it are missing",
	"h1_smuggling.pcap":       "after two different Content-Lengths Suricata reads the next request as a body and loses two requests",
	"h1_truncated_heads.pcap": "Suricata reports the request whose head the capture cut without its (complete) Host line",
	"h2_mid_stream.pcap":      "Suricata parses no HTTP/2 connection whose preface was not captured: none of its 19 streams",
	"h2c_prior.pcap":          "Suricata logs the server-pushed request without the header fields of its PUSH_PROMISE (no :authority)",
	"h2c_upgrade.pcap":        "Suricata reports the Upgrade: h2c request twice, as an HTTP/1.1 exchange answered 101 and as HTTP/2 stream 1 (RFC 7540 section 3.2: it is one request, answered on stream 1)",
	"mid_stream.pcap":         "Suricata, starting in a response body, reports the 2 later exchanges without their responses",
}

// TestRegressionCaptures compares apitap with Suricata on the test
// captures: they must agree exactly except on the captures listed in
// suricataWrong.
func TestRegressionCaptures(t *testing.T) {
	suri, err := exec.LookPath("suricata")
	if err != nil {
		t.Skip("suricata not installed: captures not compared (CI installs it from bookworm-backports)")
	}
	files, err := captures([]string{filepath.Join("..", "..", "testdata", "pcaps")})
	if err != nil {
		t.Fatal(err)
	}
	// Suricata spends most of its 2-3 s per capture waiting (thread start
	// and shutdown), so the captures run several at a time
	results := make([]Result, len(files))
	errs := make([]error, len(files))
	sem := make(chan struct{}, 8)
	done := make(chan struct{})
	for i, f := range files {
		go func() {
			sem <- struct{}{}
			results[i], errs[i] = Compare(suri, f)
			<-sem
			done <- struct{}{}
		}()
	}
	for range files {
		<-done
	}
	var tot Result
	for i, f := range files {
		name := filepath.Base(f)
		r, err := results[i], errs[i]
		if err != nil {
			if strings.Contains(err.Error(), ErrUnsupported.Error()) {
				continue
			}
			t.Fatalf("%s: %v", name, err)
		}
		tot.Suricata += r.Suricata
		tot.Apitap += r.Apitap
		tot.Agree += r.Agree
		if _, known := suricataWrong[name]; known {
			continue
		}
		if r.Agree != r.Suricata || r.Agree != r.Apitap {
			var b bytes.Buffer
			for _, k := range r.OnlySuricata {
				b.WriteString("only suricata: " + k.String() + "\n")
			}
			for _, k := range r.OnlyApitap {
				b.WriteString("only apitap: " + k.String() + "\n")
			}
			t.Errorf("%s: suricata=%d apitap=%d agree=%d\n%s", name, r.Suricata, r.Apitap, r.Agree, b.String())
		}
	}
	t.Logf("test captures: suricata=%d apitap=%d agree=%d (%.1f%% of Suricata's, %.1f%% of apitap's; the rest on %d captures where Suricata is wrong)",
		tot.Suricata, tot.Apitap, tot.Agree, pct(tot.Agree, tot.Suricata), pct(tot.Agree, tot.Apitap), len(suricataWrong))
}

func TestRunUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
}
