//go:build linux

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSrc stands in for all three binaries: `bench` acts as apitap-gen,
// `read` as apitap, anything else as apitap-naive. The large capture holds
// 100 transactions and the small one 1000; FAKE_APITAP_TX and FAKE_NAIVE_TX
// override what the programs report, FAKE_FAIL=naive makes the baseline
// fail.
const fakeSrc = `package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

func tx(file, env string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	if strings.HasSuffix(file, "small.pcap") {
		return "1000"
	}
	return "100"
}

func main() {
	a := os.Args[1:]
	switch a[0] {
	case "bench", "realistic":
		var out string
		size := 0
		for i := 0; i < len(a)-1; i++ {
			switch a[i] {
			case "-o":
				out = a[i+1]
			case "-size":
				size, _ = strconv.Atoi(a[i+1])
			}
		}
		if err := os.WriteFile(out, make([]byte, size), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("{\"file\":%q,\"bytes\":%d,\"packets\":10,\"connections\":2,\"transactions\":%s}\n", out, size, tx(out, "FAKE_GEN_TX"))
	case "read":
		if os.Getenv("GOMAXPROCS") != a[2] || a[1] != "--workers" || strings.Join(a[3:5], " ") != "--emit stats" {
			fmt.Fprintln(os.Stderr, "bad environment or flags:", os.Getenv("GOMAXPROCS"), a)
			os.Exit(3)
		}
		fmt.Fprintln(os.Stderr, "human summary, to be discarded")
		fmt.Println("{\"type\":\"endpoint\",\"id\":\"x\"}")
		fmt.Println("{\"type\":\"stats\",\"final\":false,\"packets\":1,\"bytes\":2,\"transactions\":3}")
		fmt.Printf("{\"type\":\"stats\",\"final\":true,\"packets\":10,\"bytes\":2000,\"transactions\":%s,\"drops\":{}}\n", tx(a[len(a)-1], "FAKE_APITAP_TX"))
	default:
		if os.Getenv("FAKE_FAIL") == "naive" {
			fmt.Fprintln(os.Stderr, "naive exploded on purpose")
			os.Exit(1)
		}
		fmt.Printf("{\"packets\":10,\"bytes\":2000,\"transactions\":%s}", tx(a[0], "FAKE_NAIVE_TX"))
	}
}
`

var (
	fakeOnce sync.Once
	fakeDir  string
	fakeBin  string
	fakeErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fakeDir != "" {
		os.RemoveAll(fakeDir)
	}
	os.Exit(code)
}

// buildFake compiles fakeSrc once per test binary.
func buildFake(t *testing.T) string {
	t.Helper()
	fakeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "apitap-bench-fake-")
		if err != nil {
			fakeErr = err
			return
		}
		fakeDir = dir
		src := filepath.Join(dir, "main.go")
		if fakeErr = os.WriteFile(src, []byte(fakeSrc), 0o644); fakeErr != nil {
			return
		}
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		fakeBin = filepath.Join(dir, "fake")
		cmd := exec.Command(gobin, "build", "-o", fakeBin, src)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=", "GO111MODULE=on")
		if out, err := cmd.CombinedOutput(); err != nil {
			fakeErr = err
			t.Logf("%s", out)
		}
	})
	if fakeErr != nil {
		t.Fatalf("build stand-in: %v", fakeErr)
	}
	return fakeBin
}

func TestRunWithStandIn(t *testing.T) {
	fake := buildFake(t)
	tests := []struct {
		name     string
		env      map[string]string
		code     int
		stdout   []string // substrings expected on stdout
		stderr   []string // substrings expected on stderr
		noStdout []string
	}{
		{
			name: "counts agree",
			code: 0,
			stdout: []string{
				"capture", "MB/s/core", "peak RSS",
				"large 5 MB (1-64 KB)", "small 2 MB (<2 KB)",
				"speed-up (apitap/naive): large ", ", small ",
				"targets: >= 600 MB/s/core large",
				"apitap+all within 1.5x of the pipeline targets: >= 400 MB/s/core large: ", ">= 133k tx/s/core small: ",
				"best of 2 runs",
			},
			noStdout: []string{"MISMATCH", "note:"},
		},
		{
			name:   "apitap disagrees with the generator",
			env:    map[string]string{"FAKE_APITAP_TX": "99"},
			code:   1,
			stdout: []string{"MISMATCH: apitap counted 99 transactions on the large capture (run 1), the generator wrote 100", "speed-up"},
		},
		{
			name:     "naive disagrees",
			env:      map[string]string{"FAKE_NAIVE_TX": "7"},
			code:     0,
			stdout:   []string{"note: the naive baseline counted 7 transactions on the large capture, the generator wrote 100"},
			noStdout: []string{"MISMATCH"},
		},
		{
			name:   "naive fails",
			env:    map[string]string{"FAKE_FAIL": "naive"},
			code:   1,
			stderr: []string{"naive on large capture", "naive exploded on purpose"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			md := filepath.Join(dir, "results.md")
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{
				"-apitap", fake, "-naive", fake, "-gen", fake,
				"-size", "5000000", "-small-size", "2000000",
				"-dir", dir, "-o", md,
			}, &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, &stdout, &stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, &stdout)
				}
			}
			for _, s := range tt.noStdout {
				if strings.Contains(stdout.String(), s) {
					t.Errorf("stdout has %q:\n%s", s, &stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, &stderr)
				}
			}
			for _, f := range []string{"large.pcap", "small.pcap"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("%s was not removed", f)
				}
			}
			if code == 0 {
				b, err := os.ReadFile(md)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(string(b), "| capture | program |") || strings.Count(string(b), "| apitap |") != 2 {
					t.Errorf("markdown:\n%s", b)
				}
			}
		})
	}
}

// TestRealistic: the realistic capture is the headline row, with each
// analyzer's share and the scaling over workers.
func TestRealistic(t *testing.T) {
	fake := buildFake(t)
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{
		"-apitap", fake, "-naive", fake, "-gen", fake,
		"-size", "", "-small-size", "", "-realistic-size", "3000000", "-max-workers", "3", "-runs", "1", "-dir", dir,
	}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, &stdout, &stderr)
	}
	for _, want := range []string{"realistic 3 MB (API mix)", "apitap+all-sensitive", "realistic mix (headline): apitap+all", "(target 2x)", "(target 3x)",
		"each analyzer's share", "sensitive ", "scaling of apitap+all over workers", "1: ", "2: ", "3: ",
		"the machine runs 2 copies of the naive baseline at once", "the machine runs 3 copies"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, &stdout)
		}
	}
}

// TestScalingInterleaved: run r of every worker count (and of the
// machine's yardstick) comes before run r+1 of any.
func TestScalingInterleaved(t *testing.T) {
	fake := buildFake(t)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{
		"-apitap", fake, "-naive", fake, "-gen", fake,
		"-size", "", "-small-size", "", "-realistic-size", "3000000", "-max-workers", "2", "-runs", "2", "-dir", t.TempDir(),
	}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, &stdout, &stderr)
	}
	var order []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, " x1 ") || strings.Contains(l, " x2 ") {
			prog, _, _ := strings.Cut(strings.TrimPrefix(l, "apitap-bench: "), " on ")
			_, run, _ := strings.Cut(l, ", run ")
			run, _, _ = strings.Cut(run, ":")
			order = append(order, prog+" "+run)
		}
	}
	want := []string{"apitap+all x1 1/2", "naive x1 at once 1/2", "apitap+all x2 1/2", "naive x2 at once 1/2",
		"apitap+all x1 2/2", "naive x1 at once 2/2", "apitap+all x2 2/2", "naive x2 at once 2/2"}
	if strings.Join(order, "; ") != strings.Join(want, "; ") {
		t.Fatalf("scaling runs in the order\n%s\nwant\n%s", strings.Join(order, "\n"), strings.Join(want, "\n"))
	}
}

// TestScalingAgainstMachine: the scaling line gives the speed-up over one
// worker against linear and against what the machine offers (n copies of
// the naive baseline at once do n times one copy's work).
func TestScalingAgainstMachine(t *testing.T) {
	c := &capture{name: "realistic", gen: genResult{Bytes: 1e6}}
	m := func(prog string, secs float64) *measurement {
		return &measurement{capture: c, program: prog, runs: []result{{wall: time.Duration(secs * float64(time.Second)), stats: counts{Transactions: 1000}}}}
	}
	r := &report{
		scaling: []*measurement{m("apitap+all x1", 2), m("apitap+all x2", 1.25)},
		machine: []*measurement{m("naive x1 at once", 1), m("naive x2 at once", 1.25)},
	}
	got := strings.Join(r.summary(), "\n")
	// 2/1.25 = 1.60x, 80% of linear; the machine 2*1/1.25 = 1.60x, 100%
	for _, want := range []string{"2: 800 tx/s (1.60x, 80% of linear; the machine runs 2 copies of the naive baseline at once at 1.60x, so 100% of what it offers)", "1: 500 tx/s (1.00x, 100% of linear)"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}

func TestRunKeep(t *testing.T) {
	fake := buildFake(t)
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{
		"-apitap", fake, "-naive", fake, "-gen", fake,
		"-size", "1000", "-small-size", "1000", "-dir", dir, "-keep", "-runs", "1",
	}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit code %d\n%s", code, &stderr)
	}
	for _, f := range []string{"large.pcap", "small.pcap"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("-keep: %v", err)
		}
	}
	if !strings.Contains(stdout.String(), "best of 1 runs") {
		t.Errorf("stdout:\n%s", &stdout)
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no binaries", nil, 2, "-apitap PATH is required"},
		{"no gen", []string{"-apitap", "a", "-naive", "b"}, 2, "-gen PATH is required"},
		{"zero runs", []string{"-apitap", "a", "-naive", "b", "-gen", "c", "-runs", "0"}, 2, "-runs must be at least 1"},
		{"stray argument", []string{"-apitap", "a", "-naive", "b", "-gen", "c", "extra"}, 2, `unexpected argument "extra"`},
		{"unknown flag", []string{"-fast"}, 2, "flag provided but not defined"},
		{"help", []string{"-h"}, 0, "usage: apitap-bench"},
		{"missing generator", []string{"-apitap", "a", "-naive", "b", "-gen", "/nonexistent/apitap-gen", "-dir", "DIR"}, 1, "/nonexistent/apitap-gen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string(nil), tt.args...)
			for i, a := range args {
				if a == "DIR" {
					args[i] = t.TempDir()
				}
			}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), args, &stdout, &stderr); code != tt.code {
				t.Fatalf("exit code %d, want %d\n%s", code, tt.code, &stderr)
			}
			if !strings.Contains(stderr.String(), tt.msg) {
				t.Errorf("stderr lacks %q:\n%s", tt.msg, &stderr)
			}
		})
	}
}

func TestStatsWriter(t *testing.T) {
	long := `{"pad":"` + strings.Repeat("x", maxLine) + `","transactions":1,"final":true}` + "\n"
	tests := []struct {
		name    string
		writes  []string
		want    uint64
		wantErr bool
	}{
		{"final line last", []string{`{"final":true,"transactions":5}` + "\n"}, 5, false},
		{"final wins over later plain line", []string{`{"final":true,"transactions":5}` + "\n" + `{"transactions":9}` + "\n"}, 5, false},
		{"last final wins", []string{`{"final":true,"transactions":5}` + "\n" + `{"final":true,"transactions":6}` + "\n"}, 6, false},
		{"non-final only", []string{`{"final":false,"transactions":2}` + "\n" + `{"transactions":3}` + "\n"}, 3, false},
		{"split across writes", []string{`{"fin`, `al":true,"transac`, "tions\":42}\n"}, 42, false},
		{"no trailing newline", []string{`{"packets":1,"bytes":2,"transactions":7}`}, 7, false},
		{"other events ignored", []string{`{"type":"endpoint"}` + "\nnot json\n" + `{"transactions":"3"}` + "\n" + `{"transactions":4}` + "\n"}, 4, false},
		{"overlong line skipped", []string{`{"transactions":8}` + "\n", long[:maxLine/2], long[maxLine/2:]}, 8, false},
		{"nothing", []string{"hello\n"}, 0, true},
		{"empty", nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &statsWriter{}
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			got, err := w.final()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if got.Transactions != tt.want {
				t.Errorf("transactions = %d, want %d", got.Transactions, tt.want)
			}
		})
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"group 0", group(0), "0"},
		{"group 999", group(999), "999"},
		{"group 1000", group(1000), "1,000"},
		{"group 1234567", group(1234567), "1,234,567"},
		{"size 1 GB", sizeLabel(1_000_123_456), "1.00 GB"},
		{"size 256 MB", sizeLabel(256_004_000), "256 MB"},
		{"label", (&capture{name: "small", shape: "<2 KB", gen: genResult{Bytes: 256_000_000}}).label(), "small 256 MB (<2 KB)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestTailWriter(t *testing.T) {
	w := &tailWriter{max: 8}
	w.Write([]byte("0123456789"))
	w.Write([]byte("ab"))
	if got := string(w.buf); got != "456789ab" {
		t.Errorf("tail = %q", got)
	}
}

// FuzzStatsWriter feeds arbitrary output, split at an arbitrary point,
// through the stdout parser: it must never panic.
func FuzzStatsWriter(f *testing.F) {
	f.Add([]byte(`{"final":true,"packets":1,"bytes":2,"transactions":3}`+"\n"), 7)
	f.Add([]byte(`{"transactions":-1}`+"\n"+`{"transactions":1e99}`), 3)
	f.Add([]byte("\n\n{\"final\":null,\"transactions\":0}"), 0)
	f.Fuzz(func(t *testing.T, out []byte, cut int) {
		w := &statsWriter{}
		if cut < 0 || cut > len(out) {
			cut = len(out) / 2
		}
		w.Write(out[:cut])
		w.Write(out[cut:])
		w.final()
	})
}

// TestNegativeShareExplained: a share below the runs' noise (the sensor
// ran faster without an analyzer than with it) is printed as measured,
// with a note saying what it means.
func TestNegativeShareExplained(t *testing.T) {
	c := &capture{name: "realistic", gen: genResult{Bytes: 1e6}}
	m := func(prog string, secs float64) *measurement {
		return &measurement{capture: c, program: prog, runs: []result{{wall: time.Duration(secs * float64(time.Second)), stats: counts{Transactions: 1000}}}}
	}
	r := &report{rows: []*measurement{m("apitap", 1), m("apitap+all", 3), m("naive", 2), m("apitap+all-risk", 3.1), m("apitap+all-sensitive", 2)}}
	got := strings.Join(r.summary(), "\n")
	for _, want := range []string{"risk -0.10 s (-3%)", "sensitive 1.00 s (33%)", "a negative share is smaller than the runs' noise"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	r.rows[3] = m("apitap+all-risk", 2.9)
	if got := strings.Join(r.summary(), "\n"); strings.Contains(got, "noise") {
		t.Errorf("a note without a negative share:\n%s", got)
	}
}
