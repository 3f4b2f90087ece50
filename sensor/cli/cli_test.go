package cli

import (
	"github.com/apitap/apitap/sensor"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apitap/apitap/bpf"
)

func TestExitCodesAndMessages(t *testing.T) {
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badKey, []byte("sensor:\n  id: x\n  wrokers: 3\n"), 0o644)
	badVal := filepath.Join(dir, "badval.yaml")
	os.WriteFile(badVal, []byte("reassembly:\n  max_flows: -1\n"), 0o644)
	badAn := filepath.Join(dir, "badan.yaml")
	os.WriteFile(badAn, []byte("analyzers:\n  discovry:\n    enabled: true\n"), 0o644)
	badType := filepath.Join(dir, "badtype.yaml")
	os.WriteFile(badType, []byte("sensor:\n  workers: many\n"), 0o644)
	notCap := filepath.Join(dir, "notes.txt")
	os.WriteFile(notCap, []byte("hello, this is not a capture\n"), 0o644)
	empty := filepath.Join(dir, "empty.pcap")
	os.WriteFile(empty, nil, 0o644)
	basic := filepath.Join(repoRoot, "testdata", "pcaps", "basic.pcap")

	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string // substring expected on stderr
		stdout string // substring expected on stdout
	}{
		{"no args", nil, ExitUsage, "Usage:", ""},
		{"help", []string{"help"}, ExitOK, "", "apitap read"},
		{"help read", []string{"help", "read"}, ExitOK, "", "--emit"},
		{"read -h", []string{"read", "-h"}, ExitOK, "", "usage: apitap read"},
		{"version", []string{"version"}, ExitOK, "", "apitap v"},
		{"unknown command", []string{"frobnicate"}, ExitUsage, "unknown command", ""},
		{"read no files", []string{"read"}, ExitUsage, "no capture file given", ""},
		{"unknown flag", []string{"read", "--nope", basic}, ExitUsage, "flag provided but not defined", ""},
		{"missing file", []string{"read", filepath.Join(dir, "missing.pcap")}, ExitUsage, "no such file", ""},
		{"unknown config key", []string{"read", "--config", badKey, basic}, ExitUsage, "line 3: unknown key wrokers", ""},
		{"bad config value", []string{"read", "--config", badVal, basic}, ExitUsage, "reassembly.max_flows", ""},
		{"unknown analyzer", []string{"read", "--config", badAn, basic}, ExitUsage, "analyzers.discovry (line 2): unknown analyzer", ""},
		{"bad config type", []string{"read", "--config", badType, basic}, ExitUsage, "line 2", ""},
		{"bad emit", []string{"read", "--emit", "transactions", basic}, ExitUsage, `unknown event type "transactions"`, ""},
		{"not a capture", []string{"read", "--quiet", notCap}, ExitFailure, "not a pcap or pcapng capture", ""},
		{"empty file", []string{"read", "--quiet", empty}, ExitFailure, "empty file", ""},
		// several workers and nothing readable: stage two never started
		// (this hung, then deadlocked)
		{"not a capture, 3 workers", []string{"read", "--quiet", "--workers", "3", notCap}, ExitFailure, "not a pcap or pcapng capture", ""},
		{"empty file, 3 workers", []string{"read", "--quiet", "--workers", "3", empty}, ExitFailure, "empty file", ""},
		{"flags after files", []string{"read", basic, "--emit", "stats", "--sensor-id", "x"}, ExitOK, "transactions", `"sensor":"x"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, c.args...)
			if code != c.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, c.code, errOut)
			}
			if !strings.Contains(string(errOut), c.stderr) {
				t.Errorf("stderr lacks %q:\n%s", c.stderr, errOut)
			}
			if !strings.Contains(string(out), c.stdout) {
				t.Errorf("stdout lacks %q:\n%s", c.stdout, out)
			}
		})
	}
}

func TestReadStdinAndOutFile(t *testing.T) {
	basic := filepath.Join(repoRoot, "testdata", "pcaps", "basic.pcap")
	data, err := os.ReadFile(basic)
	if err != nil {
		t.Fatal(err)
	}
	_, fromFile, _ := runCLI(t, nil, "read", "--emit", "transaction,stats", "--sensor-id", "s", "--workers", "1", basic)
	code, fromStdin, errOut := runCLI(t, data, "read", "--emit", "transaction,stats", "--sensor-id", "s", "--workers", "1", "-")
	if code != 0 {
		t.Fatalf("stdin: exit %d: %s", code, errOut)
	}
	if string(fromFile) != string(fromStdin) {
		t.Fatalf("stdin output differs from file output")
	}
	outPath := filepath.Join(t.TempDir(), "ev.jsonl")
	code, stdout, errOut := runCLI(t, nil, "read", "--emit", "transaction,stats", "--sensor-id", "s", "--workers", "1", "-o", outPath, basic)
	if code != 0 || len(stdout) != 0 {
		t.Fatalf("--out: exit %d, stdout %q, stderr %s", code, stdout, errOut)
	}
	got, _ := os.ReadFile(outPath)
	if string(got) != string(fromFile) {
		t.Fatalf("--out file differs from stdout output")
	}
	if !strings.Contains(string(errOut), "apitap: 1 source(s)") || !strings.Contains(string(errOut), "transactions") {
		t.Fatalf("summary missing on stderr:\n%s", errOut)
	}
}

func TestDamagedCapturesAreReported(t *testing.T) {
	for _, name := range []string{"truncated.pcap", "corrupt.pcap"} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(repoRoot, "testdata", "pcaps", name)
			code, out, errOut := runCLI(t, nil, "read", "--sensor-id", "s", f)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if !strings.Contains(string(errOut), "processed up to the damage") {
				t.Errorf("summary does not report the damage:\n%s", errOut)
			}
			if !strings.Contains(string(out), `"capture_errors":{"`) {
				t.Errorf("stats event lacks capture_errors:\n%s", out)
			}
		})
	}
}

func TestClassicExpr(t *testing.T) {
	cases := []struct {
		cfg  bpf.Config
		want string
	}{
		{bpf.Config{}, ""},
		{bpf.Config{Ports: []uint16{80, 8080}}, "(tcp port 80 or tcp port 8080)"},
		{bpf.Config{Ports: []uint16{80}, Tunnels: true}, "((tcp port 80) or udp port 4789 or udp port 6081 or proto gre)"},
		{bpf.Config{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Deny: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}}, "(net 10.0.0.0/8) and not net 10.9.0.0/16"},
		{bpf.Config{Ports: []uint16{80}, VLANs: []uint16{3}}, ""},
	}
	for _, c := range cases {
		if got := sensor.ClassicExpr(c.cfg); got != c.want {
			t.Errorf("sensor.ClassicExpr(%+v) = %q, want %q", c.cfg, got, c.want)
		}
	}
}
