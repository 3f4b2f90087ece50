//go:build linux && amd64

package tlsprobe

import (
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestLoad loads the programs as the kernel allows (with its BTF when it
// has one) and as on a kernel without BTF (the sockets' addresses are then
// not read: the CO-RE reads are relocated against no types and must not
// be reached).
func TestLoad(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load eBPF programs (CI runs as root)")
	}
	for _, without := range []bool{false, true} {
		noBTF = without
		p, err := Load(1 << 16)
		noBTF = false
		if errors.Is(err, ErrNotSupported) {
			t.Skipf("the kernel refuses the programs: %v", err)
		}
		if err != nil {
			t.Fatalf("without BTF %v: %v", without, err)
		}
		if without != (p.BTFErr != nil) {
			t.Errorf("without BTF %v: BTFErr %v", without, p.BTFErr)
		}
		if _, err := p.Counters(); err != nil {
			t.Error(err)
		}
		checkExec(t, p)
		p.Close()
	}
}

// checkExec: a program started now is told by ReadExec, with its pid.
func checkExec(t *testing.T, p *Probe) {
	t.Helper()
	if p.ExecErr != nil {
		t.Logf("new programs not told: %v", p.ExecErr)
		return
	}
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	p.SetExecDeadline(time.Now().Add(5 * time.Second))
	defer p.SetExecDeadline(time.Time{})
	for {
		pid, _, err := p.ReadExec()
		if err != nil {
			t.Fatalf("the exec of pid %d was not told: %v", cmd.Process.Pid, err)
		}
		if pid == cmd.Process.Pid {
			return
		}
	}
}
