package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestEnvFlags: APITAP_* variables stand for flags; the command line wins;
// a bad value is a usage error naming the variable.
func TestEnvFlags(t *testing.T) {
	run := func(env map[string]string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(args, &IO{Stdout: &out, Stderr: &errb, Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
		return code, out.String(), errb.String()
	}
	// --emit from the environment: only stats events
	code, out, errOut := run(map[string]string{"APITAP_EMIT": "stats", "APITAP_PROGRESS": "never", "APITAP_QUIET": "true"}, "read", demoCapture)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if n := strings.Count(out, "\n"); n != 1 || !strings.Contains(out, `"type":"stats"`) {
		t.Errorf("APITAP_EMIT=stats gave %d lines:\n%.500s", n, out)
	}
	if errOut != "" {
		t.Errorf("APITAP_QUIET=true still printed:\n%s", errOut)
	}
	// the command line wins
	code, out, _ = run(map[string]string{"APITAP_EMIT": "stats"}, "read", "--quiet", "--progress", "never", "--emit", "endpoint", demoCapture)
	if code != ExitOK || strings.Contains(out, `"type":"stats"`) || !strings.Contains(out, `"type":"endpoint"`) {
		t.Errorf("--emit endpoint with APITAP_EMIT=stats: exit %d\n%.300s", code, out)
	}
	// a bad value names the variable
	code, _, errOut = run(map[string]string{"APITAP_WORKERS": "many"}, "read", demoCapture)
	if code != ExitUsage || !strings.Contains(errOut, "APITAP_WORKERS") {
		t.Errorf("APITAP_WORKERS=many: exit %d: %s", code, errOut)
	}
	if EnvName("kafka-brokers") != "APITAP_KAFKA_BROKERS" {
		t.Error(EnvName("kafka-brokers"))
	}
}
