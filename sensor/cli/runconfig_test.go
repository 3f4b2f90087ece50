package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apitap/apitap/sensor"
)

// TestRunFromConfig: apitap run takes its live-capture, admin and log
// settings from the configuration file where no flag gave them.
func TestRunFromConfig(t *testing.T) {
	off, addr := false, "0.0.0.0:9191"
	cfg := sensor.Config{Capture: sensor.CaptureConfig{Interfaces: []string{"eth1", "eth2"}, RingMB: 128, Promisc: &off, EBPF: &off, Source: "pcap", BPF: "tcp port 80"},
		Admin: sensor.AdminConfig{Addr: &addr, TokenFile: "/run/token"}, Log: sensor.LogConfig{Level: "debug"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	fs, o := runFlags(io.Discard)
	if err := fs.Parse([]string{"--ring-mb", "32"}); err != nil {
		t.Fatal(err)
	}
	o.setFlags = map[string]bool{"ring-mb": true}
	o.fromConfig(cfg)
	if len(o.ifaces) != 2 || o.ifaces[1] != "eth2" || o.ringMB != 32 || o.promisc || o.ebpf || o.source != "pcap" || o.bpfExpr != "tcp port 80" ||
		o.adminAddr != addr || !o.setFlags["admin-addr"] || o.adminTokenFile != "/run/token" || o.logLevel != "debug" {
		t.Errorf("%+v", o)
	}
	for _, bad := range []sensor.Config{{Capture: sensor.CaptureConfig{Source: "dpdk"}}, {Capture: sensor.CaptureConfig{RingMB: 1}}, {Log: sensor.LogConfig{Level: "loud"}}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v validates", bad)
		}
	}
}

// TestOutputFromConfig: output.quiet and output.progress stand for their
// flags.
func TestOutputFromConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.yaml")
	os.WriteFile(conf, []byte("output:\n  quiet: true\n  progress: never\n  emit: [stats]\n"), 0o644)
	code, out, errOut := runCLI(t, nil, "read", "--config", conf, demoCapture)
	if code != ExitOK || len(errOut) != 0 || !strings.Contains(string(out), `"type":"stats"`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI(t, nil, "read", "--config", conf, "--quiet=false", demoCapture)
	if code != ExitOK || !strings.Contains(string(errOut), "transactions") {
		t.Errorf("--quiet=false did not win over the file: %q", errOut)
	}
}
