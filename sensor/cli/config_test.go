package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("sensor:\n  workers: 2\nexporters:\n  kafka:\n    brokers: [k:9092]\n    sasl: {mechanism: PLAIN, username: u, password: hunter2hunter2}\nanalyzers:\n  attack:\n    disabled: [ssti]\n"), 0o644)
	code, out, errOut := runCLI(t, nil, "config", "check", good)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"is valid", "workers: 2", "- ssti", "max_endpoints_per_host: 2000", "[REDACTED]"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "hunter2hunter2") {
		t.Error("the Kafka password was printed")
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("sensor:\n  workers: 2\nanalyzers:\n  attack:\n    disabled: [telepathy]\n"), 0o644)
	code, _, errOut = runCLI(t, nil, "config", "check", bad)
	if code != ExitUsage || !strings.Contains(string(errOut), "telepathy") {
		t.Errorf("bad analyzer setting: exit %d %s", code, errOut)
	}
	os.WriteFile(bad, []byte("sensor:\n  wrkers: 2\n"), 0o644)
	code, _, errOut = runCLI(t, nil, "config", "check", bad)
	if code != ExitUsage || !strings.Contains(string(errOut), "line 2: unknown key wrkers") {
		t.Errorf("unknown key: exit %d %s", code, errOut)
	}
}
