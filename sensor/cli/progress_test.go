package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// slowReader hands out a capture in small pieces with pauses, as a pipe
// from a live tcpdump would.
type slowReader struct {
	r     io.Reader
	delay time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.delay)
	if len(p) > 512 {
		p = p[:512]
	}
	return s.r.Read(p)
}

func TestProgressBar(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "testdata", "pcaps", "multi_flow.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	env := &IO{Stdin: &slowReader{r: bytes.NewReader(data), delay: 10 * time.Millisecond}, Stdout: &out, Stderr: &errb}
	if code := Main([]string{"read", "--progress", "always", "--sensor-id", "p", "-"}, env); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := errb.String()
	if !strings.Contains(s, "[1/1] - ") || !strings.Contains(s, "pkts") || !strings.Contains(s, "\r\033[K") {
		t.Fatalf("no progress line on stderr:\n%q", s)
	}
	// without a terminal and with the default (auto), there is none
	errb.Reset()
	env.Stdin = bytes.NewReader(data)
	Main([]string{"read", "--sensor-id", "p", "-"}, env)
	if strings.Contains(errb.String(), "pkts") {
		t.Fatalf("progress shown although stderr is not a terminal:\n%q", errb.String())
	}
}

func TestHumanFormats(t *testing.T) {
	if got := humanCount(1234567); got != "1,234,567" {
		t.Errorf("humanCount = %s", got)
	}
	if got := humanBytes(1500000000); got != "1.50 GB" {
		t.Errorf("humanBytes = %s", got)
	}
	if got := bar(0.5, 4); got != "[##..]" {
		t.Errorf("bar = %s", got)
	}
}
