package blocklist

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func items(vals ...string) []Item {
	var out []Item
	for _, v := range vals {
		action := "block"
		if a, val, ok := strings.Cut(v, "="); ok {
			action, v = a, val
		}
		out = append(out, Item{Key: "ip:" + v, Type: "ip", Value: v, Action: action, Reason: "sqli"})
	}
	return out
}

// TestCheckKeepsLastGood: a candidate the check refuses never replaces the
// last good file, and the reload does not run; in both check modes.
func TestCheckKeepsLastGood(t *testing.T) {
	for _, mode := range []string{"in place", "candidate {}"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			deny := filepath.Join(dir, "deny.conf")
			reloads := filepath.Join(dir, "reloads")
			// the check refuses any file naming 45.0.0.66 (the stand-in for
			// an entry the target would choke on)
			check := "! grep -q 45.0.0.66 " + deny
			if mode == "candidate {}" {
				check = "! grep -q 45.0.0.66 {}"
			}
			f := &Files{Outputs: []FileOutput{{Format: Formats["nginx"], Path: deny}}, Enforce: map[string]bool{"block": true},
				Check: check, Reload: "echo x >> " + reloads}
			ctx := context.Background()
			if ok, err := f.Write(ctx, items("45.0.0.1")); !ok || err != nil {
				t.Fatalf("first write: %v %v", ok, err)
			}
			good, _ := os.ReadFile(deny)
			ok, err := f.Write(ctx, items("45.0.0.1", "45.0.0.66"))
			if ok || err == nil || !strings.Contains(err.Error(), "last good files stay") {
				t.Fatalf("refused candidate: %v %v", ok, err)
			}
			if now, _ := os.ReadFile(deny); string(now) != string(good) {
				t.Fatalf("the last good file was replaced:\n%s", now)
			}
			if ok, err := f.Write(ctx, items("45.0.0.1", "45.0.0.2")); !ok || err != nil {
				t.Fatalf("next good write: %v %v", ok, err)
			}
			now, _ := os.ReadFile(deny)
			r, _ := os.ReadFile(reloads)
			if !strings.Contains(string(now), "deny 45.0.0.2;") || strings.Count(string(r), "x") != 2 || f.CheckFailures.Load() != 1 {
				t.Fatalf("after recovery: %s, %d reloads, %d check failures", now, strings.Count(string(r), "x"), f.CheckFailures.Load())
			}
			left, _ := filepath.Glob(filepath.Join(dir, ".apitap-blocklist-*"))
			if len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
	// no last good file: a refused first candidate leaves the empty file
	dir := t.TempDir()
	deny := filepath.Join(dir, "deny.conf")
	f := &Files{Outputs: []FileOutput{{Format: Formats["nginx"], Path: deny}}, Enforce: map[string]bool{"block": true}, Check: "false"}
	if ok, _ := f.Write(context.Background(), items("45.0.0.1")); ok {
		t.Fatal("a failed check counted")
	}
	if b, _ := os.ReadFile(deny); string(b) != Formats["nginx"].Empty {
		t.Fatalf("without a last good file: %q", b)
	}
}

// TestDryRunFiles: would_* entries go to FILE.dry-run, never to FILE, and
// the twin empties when the dry run ends.
func TestDryRunFiles(t *testing.T) {
	dir := t.TempDir()
	deny, js := filepath.Join(dir, "deny.conf"), filepath.Join(dir, "bl.json")
	f := &Files{Outputs: []FileOutput{{Format: Formats["nginx"], Path: deny}, {Format: Formats["json"], Path: js}}, Enforce: map[string]bool{"block": true}}
	ctx := context.Background()
	if _, err := f.Write(ctx, items("45.0.0.1", "would_block=45.0.0.2", "would_rate_limit=45.0.0.3")); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	if d := read(deny); !strings.Contains(d, "45.0.0.1") || strings.Contains(d, "45.0.0.2") {
		t.Errorf("deny.conf:\n%s", d)
	}
	if d := read(deny + DryRunSuffix); !strings.Contains(d, "deny 45.0.0.2;") || strings.Contains(d, "45.0.0.1") || strings.Contains(d, "45.0.0.3") {
		t.Errorf("deny.conf.dry-run:\n%s", d)
	}
	if j := read(js + DryRunSuffix); !strings.Contains(j, "45.0.0.2") || !strings.Contains(j, "45.0.0.3") || strings.Contains(j, "45.0.0.1") {
		t.Errorf("bl.json.dry-run:\n%s", j)
	}
	if _, err := f.Write(ctx, items("45.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if d := read(deny + DryRunSuffix); strings.Contains(d, "45.0.0.2") {
		t.Errorf("the twin kept an ended dry run:\n%s", d)
	}
}
