package deploytest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// tmpDir holds the apitap binary and the configurations being checked.
var tmpDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "apitap-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// apitap builds the parent module's binary once.
func apitap(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := filepath.Abs(repoRoot)
		if err != nil {
			buildErr = err
			return
		}
		bin := filepath.Join(tmpDir, "apitap")
		cmd := exec.Command("go", "build", "-o", bin, "./sensor/cmd/apitap")
		// The default environment, not make build's CGO_ENABLED=0: config
		// check and help do not depend on cgo, and the packages are then
		// the ones `go test ./...` of the parent module compiled already.
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./sensor/cmd/apitap in %s: %v\n%s", root, err, out)
			return
		}
		binary = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

var configSeq int

// configCheck runs `apitap config check` on a configuration.
func configCheck(t *testing.T, config string) error {
	t.Helper()
	bin := apitap(t)
	configSeq++
	f := filepath.Join(tmpDir, fmt.Sprintf("config-%d.yaml", configSeq))
	if err := os.WriteFile(f, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "config", "check", f)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apitap config check: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

var (
	runFlagsOnce sync.Once
	runFlags     map[string]bool // flag name -> boolean
	runFlagsErr  error
	flagLine     = regexp.MustCompile(`^  -(\S+)(?: (.+))?$`)
)

// apitapRunFlags reads the flags of `apitap run` from its help: a flag
// line without a value name is a boolean flag.
func apitapRunFlags(t *testing.T) map[string]bool {
	t.Helper()
	bin := apitap(t)
	runFlagsOnce.Do(func() {
		out, err := exec.Command(bin, "help", "run").CombinedOutput()
		if err != nil {
			runFlagsErr = fmt.Errorf("apitap help run: %v\n%s", err, out)
			return
		}
		runFlags = map[string]bool{}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if m := flagLine.FindStringSubmatch(sc.Text()); m != nil {
				runFlags[m[1]] = m[2] == ""
			}
		}
		if len(runFlags) < 10 {
			runFlagsErr = fmt.Errorf("apitap help run: found only %d flags in:\n%s", len(runFlags), out)
		}
	})
	if runFlagsErr != nil {
		t.Fatal(runFlagsErr)
	}
	return runFlags
}

// parseRunArgs parses a container's args as `apitap run` would, with the
// flag set from its help: unknown flags, missing values and positional
// arguments are errors. It returns flag name -> values.
func parseRunArgs(args []string, flags map[string]bool) (map[string][]string, error) {
	if len(args) == 0 || args[0] != "run" {
		return nil, fmt.Errorf("args must start with the run command, got %q", args)
	}
	got := map[string][]string{}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("positional argument %q: apitap run takes none", a)
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		isBool, ok := flags[name]
		if !ok {
			return nil, fmt.Errorf("apitap run has no flag %q", a)
		}
		if !hasValue {
			if isBool {
				value = "true"
			} else {
				if i+1 == len(args) {
					return nil, fmt.Errorf("flag %q without a value", a)
				}
				i++
				value = args[i]
			}
		}
		got[name] = append(got[name], value)
	}
	return got, nil
}
