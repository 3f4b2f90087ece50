package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var rawEmail = regexp.MustCompile(`[A-Za-z0-9._%+-]*[A-Za-z0-9._%+-]{2}@[a-z]`)

// TestNoRawSensitiveValuesInOutput reads the demo capture, which carries
// cards, SSNs, emails, phone numbers, passwords, JWTs, Basic credentials
// and session cookies, and checks none of them reaches the output.
func TestNoRawSensitiveValuesInOutput(t *testing.T) {
	demo := filepath.Join(repoRoot, "testdata", "demo", "demo.pcap")
	code, out, errOut := runCLI(t, nil, "read", "--emit", "all", "--sensor-id", "pii", "--quiet", demo)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Count(string(out), "\n") < 300 {
		t.Fatalf("expected hundreds of events, got:\n%.500s", out)
	}
	for _, raw := range []string{
		"4111111111111111",       // card number in a response body
		"123-45-67",              // SSNs
		"+1-415-555-",            // phone numbers
		"Spring2025!",            // password in a login body
		"YWRtaW46aHVudGVyMg",     // Basic credentials
		"eyJhbGciOi",             // any JWT (Authorization headers, token responses)
		"DE89370400440532013000", // IBAN
	} {
		if strings.Contains(string(out), raw) {
			t.Errorf("raw sensitive value %q found in the output", raw)
		}
	}
	// e-mail addresses appear only masked (j***@example.com)
	if m := rawEmail.FindString(string(out)); m != "" {
		t.Errorf("raw e-mail address %q found in the output", m)
	}
	if !strings.Contains(string(out), "[REDACTED len=") {
		t.Error("no redaction marker at all: are sensitive headers still exported?")
	}
}
