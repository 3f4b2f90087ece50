//go:build linux && amd64

package uprobe

import (
	"os"
	"os/exec"
	"testing"

	"github.com/rs/zerolog"
)

func newTestManager() *Manager {
	return &Manager{cfg: Config{}.WithDefaults(), log: zerolog.Nop(),
		procs: make(map[int]*Process), files: make(map[fileID]*fileState), seen: make(map[int]int),
		conns: make(map[connID]*conn), byFD: make(map[pidFD]*conn), owners: make(map[flowKey]connID)}
}

// TestExamineExecNotTLS: a program that is no TLS program is not covered,
// and its file is remembered as such (not examined again).
func TestExamineExecNotTLS(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep(1)")
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	m := newTestManager()
	if m.examineExec(cmd.Process.Pid) {
		t.Fatal("sleep covered")
	}
	n := 0
	for _, f := range m.files {
		if f.none {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d files remembered as no TLS program, want 1", n)
	}
}

// BenchmarkExamineExec is what user space spends on each exec of a
// program it knows is no TLS program (most execs on a node): its maps,
// its executable opened and looked up.
func BenchmarkExamineExec(b *testing.B) {
	if _, err := os.Stat("/proc/self/maps"); err != nil {
		b.Skip("no /proc")
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		b.Skip("no sleep(1)")
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	m := newTestManager()
	m.examineExec(cmd.Process.Pid)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.examineExec(cmd.Process.Pid)
	}
}
