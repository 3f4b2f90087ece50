package uprobe

import (
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// tlsMethods keeps crypto/tls's Read and Write in this test binary.
var tlsMethods = []func(*tls.Conn, []byte) (int, error){(*tls.Conn).Read, (*tls.Conn).Write}

// TestAnalyseGo: crypto/tls's functions and the RETs of (*Conn).Read are
// found in this test binary by its symbol table, and the same places in a
// stripped build of a program by its pclntab.
func TestAnalyseGo(t *testing.T) {
	if runtime.GOARCH != "amd64" || runtime.GOOS != "linux" {
		t.Skip("Go probes are for linux/amd64 ELF executables")
	}
	if len(tlsMethods) != 2 {
		t.Fatal("crypto/tls is not linked in")
	}
	g, err := analyseGo(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if g.Funcs.Read == 0 || g.Funcs.Write == 0 || len(g.Funcs.ReadRets) == 0 || g.Version != runtime.Version() {
		t.Fatalf("%+v", g)
	}
	t.Logf("%s (go test links it stripped: %v): Read at %#x, %d RETs, Write at %#x", g.Version, g.Stripped, g.Funcs.Read, len(g.Funcs.ReadRets), g.Funcs.Write)

	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build a stripped program")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport (\"crypto/tls\"; \"fmt\"; \"os\")\n\nfunc main() { c := tls.Client(nil, &tls.Config{}); if len(os.Args) > 5 { c.Read(nil); c.Write(nil) }; fmt.Println(c != nil) }\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n\ngo 1.21\n"), 0o644)
	var an [2]*goBinary
	for i, flags := range []string{"", "-s -w"} {
		bin := filepath.Join(dir, "prog"+string(rune('0'+i)))
		cmd := exec.Command("go", "build", "-ldflags", flags, "-o", bin, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		if an[i], err = analyseGo(bin); err != nil {
			t.Fatalf("%s: %v", flags, err)
		}
	}
	if an[0].Stripped || !an[1].Stripped || an[0].Funcs.Read != an[1].Funcs.Read || an[0].Funcs.Write != an[1].Funcs.Write || !slices.Equal(an[0].Funcs.ReadRets, an[1].Funcs.ReadRets) {
		t.Errorf("symbol table %+v, pclntab %+v", an[0], an[1])
	}
	if _, err := analyseGo("/bin/sh"); err != errNotGo {
		t.Errorf("/bin/sh: %v", err)
	}
}

func TestRegABI(t *testing.T) {
	for v, want := range map[string]bool{"go1.16.15": false, "go1.17": true, "go1.21rc2": true, "go1.26.8": true, "go2.0": true, "devel": false} {
		if regABI(v) != want {
			t.Errorf("%s: %v", v, !want)
		}
	}
}
