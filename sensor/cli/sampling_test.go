package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// detectionKeys reduces detection events to what a detection is about:
// class, endpoint and the rules of its evidence. Counts, times, ids (which
// hash the first time) and the first actor move when fewer responses are
// scanned; what was detected must not.
func detectionKeys(t *testing.T, out []byte) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, line := range bytes.Split(out, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var d struct {
			Type     string
			Class    string
			Endpoint struct{ Host, Method, Path string }
			Evidence []struct{ Rule string }
		}
		if err := json.Unmarshal(line, &d); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if d.Type != "detection" {
			continue
		}
		var rules []string
		for _, e := range d.Evidence {
			if e.Rule != "client" {
				rules = append(rules, e.Rule)
			}
		}
		sort.Strings(rules)
		rules = slices.Compact(rules)
		seen[d.Class+" "+d.Endpoint.Host+" "+d.Endpoint.Method+" "+d.Endpoint.Path+" "+strings.Join(rules, ",")] = true
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestSamplingKeepsDetections runs every test capture and the demo with
// the default response sampling and with every response scanned (and
// decoded): the detections must be the same (the sample only thins out
// counts). It also checks that the sample is deterministic: the same
// capture gives byte-identical output with one worker and with three.
func TestSamplingKeepsDetections(t *testing.T) {
	all := filepath.Join(t.TempDir(), "all.yaml")
	if err := os.WriteFile(all, []byte("analyzers:\n  sensitive:\n    sample_every: 1\n  discovery:\n    schema_sample_every: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	caps := append(testCaptures(t), demoCapture)
	total, sampledAway := 0, 0
	for _, c := range caps {
		name := filepath.Base(c)
		run := func(extra ...string) []byte {
			args := append([]string{"read", "--emit", "detection,endpoint", "--sensor-id", "sampling", "--progress", "never", "--quiet"}, extra...)
			code, out, errOut := runCLI(t, nil, append(args, c)...)
			if code != ExitOK {
				t.Fatalf("%s: exit %d: %s", name, code, errOut)
			}
			return out
		}
		def := run("--workers", "1")
		if three := run("--workers", "3"); !bytes.Equal(def, three) {
			t.Errorf("%s: --workers 3 gives other output than --workers 1 with sampling on", name)
		}
		every := run("--workers", "1", "--config", all)
		dk, ek := detectionKeys(t, def), detectionKeys(t, every)
		if !slices.Equal(dk, ek) {
			t.Errorf("%s: sampling changes the detections:\n sampled:   %q\n unsampled: %q", name, dk, ek)
		}
		total += len(ek)
		var scanned, bodies uint64
		for _, line := range bytes.Split(def, []byte("\n")) {
			var e struct {
				Type     string
				Change   string
				Sampling struct {
					ResponseBodies   uint64 `json:"response_bodies"`
					SensitiveScanned uint64 `json:"sensitive_scanned"`
				}
			}
			if json.Unmarshal(line, &e) == nil && e.Type == "endpoint" && e.Change == "final" {
				bodies += e.Sampling.ResponseBodies
				scanned += e.Sampling.SensitiveScanned
			}
		}
		sampledAway += int(bodies - scanned)
		if bodies > 0 {
			t.Logf("%s: %d detections either way; %d of %d response bodies scanned with sampling", name, len(ek), scanned, bodies)
		}
	}
	t.Logf("%d captures, %d detections, the same with and without sampling (%d response bodies left unscanned by the sample)", len(caps), total, sampledAway)
}
