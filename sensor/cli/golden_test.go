package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apitap/apitap/internal/testutil/eventtest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const repoRoot = "../.."

// runCLI runs apitap in-process and returns exit code, stdout and stderr.
func runCLI(t *testing.T, stdin []byte, args ...string) (int, []byte, []byte) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &IO{Stdin: bytes.NewReader(stdin), Stdout: &out, Stderr: &errb})
	return code, out.Bytes(), errb.Bytes()
}

func testCaptures(t *testing.T) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join(repoRoot, "testdata", "pcaps", "*"))
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := filepath.Glob(filepath.Join(repoRoot, "testdata", "h2", "*.pcap")) // recorded from real clients
	all = append(all, h2...)
	var caps []string
	for _, f := range all {
		if strings.HasSuffix(f, ".json") || strings.HasSuffix(f, ".md") {
			continue
		}
		caps = append(caps, f)
	}
	if len(caps) == 0 {
		t.Fatal("no captures under testdata/pcaps: run make generate")
	}
	return caps
}

// TestGolden replays every test capture and compares the events, byte for
// byte, with testdata/golden/<capture>.jsonl. Run with -update to rewrite.
func TestGolden(t *testing.T) {
	for _, capFile := range testCaptures(t) {
		name := filepath.Base(capFile)
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, "read", "--emit", "transaction,detection,stats", "--workers", "1",
				"--sensor-id", "golden", "--progress", "never", "--quiet", capFile)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			eventtest.ValidateStream(t, bytes.NewReader(out))
			golden := filepath.Join(repoRoot, "testdata", "golden", name+".jsonl")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./sensor/cli -run TestGolden -update)", err)
			}
			if !bytes.Equal(out, want) {
				gl, wl := strings.Split(string(out), "\n"), strings.Split(string(want), "\n")
				for i := 0; i < max(len(gl), len(wl)); i++ {
					var g, w string
					if i < len(gl) {
						g = gl[i]
					}
					if i < len(wl) {
						w = wl[i]
					}
					if g != w {
						t.Fatalf("output differs from %s at line %d:\n got: %s\nwant: %s", golden, i+1, g, w)
					}
				}
			}
		})
	}
}

// TestWorkersSameEvents checks that sharding over several workers yields
// byte for byte the output of one worker, every event type included
// (detections, actors, blocklist entries, the catalog, the final stats):
// stage two sees the observations in capture order whatever the workers.
func TestWorkersSameEvents(t *testing.T) {
	caps := append(testCaptures(t), demoCapture)
	for _, capFile := range caps {
		name := filepath.Base(capFile)
		t.Run(name, func(t *testing.T) {
			args := []string{"read", "--emit", "transaction,message,endpoint,detection,blocklist,actor,stats", "--sensor-id", "golden", "--progress", "never", "--quiet"}
			_, one, _ := runCLI(t, nil, append(args, "--workers", "1", capFile)...)
			if !bytes.Contains(one, []byte(`"type":"stats"`)) {
				t.Fatalf("no output:\n%s", one)
			}
			for _, n := range []string{"2", "4", "8"} {
				_, many, _ := runCLI(t, nil, append(args, "--workers", n, capFile)...)
				if !bytes.Equal(one, many) {
					a, b := strings.Split(string(one), "\n"), strings.Split(string(many), "\n")
					for i := range min(len(a), len(b)) {
						if a[i] != b[i] {
							t.Fatalf("--workers %s differs from --workers 1 at line %d:\n got: %s\nwant: %s", n, i+1, b[i], a[i])
						}
					}
					t.Fatalf("--workers %s: %d lines, --workers 1: %d", n, len(b), len(a))
				}
			}
		})
	}
}

// TestManifestCounts checks each capture's golden output against the
// generator's manifest: the number of exchanges with both a request and a
// response is what the generator wrote.
func TestManifestCounts(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "testdata", "pcaps", "MANIFEST.json"))
	if err != nil {
		t.Fatal(err)
	}
	var man map[string]struct {
		Exchanges int `json:"exchanges"`
	}
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	for name, m := range man {
		t.Run(name, func(t *testing.T) {
			_, out, _ := runCLI(t, nil, "read", "--emit", "transaction", "--workers", "1", "--sensor-id", "m", "--quiet", filepath.Join(repoRoot, "testdata", "pcaps", name))
			n := 0
			for _, line := range bytes.Split(out, []byte("\n")) {
				var ev struct {
					Status  int             `json:"status"`
					Request json.RawMessage `json:"request"`
				}
				if len(line) == 0 || json.Unmarshal(line, &ev) != nil {
					continue
				}
				if ev.Status != 0 && ev.Request != nil {
					n++
				}
			}
			if n != m.Exchanges {
				t.Fatalf("%d complete exchanges, manifest says %d", n, m.Exchanges)
			}
		})
	}
}
