package file_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apitap/apitap/sensor/cli"
)

func read(t *testing.T, config string) []string {
	t.Helper()
	cf := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cf, []byte(config), 0o600)
	var stdout, stderr bytes.Buffer
	code := cli.Main([]string{"read", "--config", cf, "--emit", "all", "--workers", "1", "--sensor-id", "file-test", "../../testdata/demo/demo.pcap"},
		&cli.IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
	if code != 0 {
		t.Fatalf("apitap read: exit %d\n%s", code, stderr.String())
	}
	return strings.Split(strings.TrimSpace(stdout.String()), "\n")
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// TestFileRotation writes the demo's events to a file rotated every 40 kB:
// no file passes the bound, and the files, oldest first, hold every event
// written to standard output.
func TestFileRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	want := read(t, fmt.Sprintf("exporters:\n  file:\n    path: %s\n    max_bytes: 40000\n    max_files: 100\n", path))
	files, _ := filepath.Glob(path + ".*")
	if len(files) < 3 {
		t.Fatalf("only %d rotated files", len(files))
	}
	var got []string
	for i := len(files); i >= 1; i-- {
		f := fmt.Sprintf("%s.%d", path, i)
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 40000 {
			t.Errorf("%s is %d bytes, over the 40000 bound", f, st.Size())
		}
		got = append(got, lines(t, f)...)
	}
	got = append(got, lines(t, path)...)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("the files hold %d events, standard output %d, or they differ", len(got), len(want))
	}
	t.Logf("file sink: %d events in %d files of at most 40000 bytes, the same as standard output", len(got), len(files)+1)

	// max_files bounds what is kept: the current file and two copies
	path2 := filepath.Join(dir, "kept.jsonl")
	read(t, fmt.Sprintf("exporters:\n  file:\n    path: %s\n    max_bytes: 40000\n    max_files: 2\n    types: [transaction]\n", path2))
	kept, _ := filepath.Glob(path2 + "*")
	if len(kept) != 3 {
		t.Fatalf("kept %v, want %s, .1 and .2", kept, path2)
	}
	for _, l := range lines(t, path2) {
		if !strings.Contains(l, `"type":"transaction"`) {
			t.Fatalf("types: [transaction] let through %s", l)
		}
	}
}
