//go:build linux && amd64

package tlsprobe

import (
	"errors"
	"maps"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/cilium/ebpf/link"
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

// TestLinkKinds: the system call and exec hooks are raw tracepoints (no
// tracefs; detached without the kernel's one-at-a-time waits) and, where
// the kernel has uprobe_multi, an OpenSSL library is probed by one link
// per program (7) rather than a perf event per function; without
// uprobe_multi (as on kernels before 6.6) by perf events. Detach times are
// in docs/tls.md (no wall-clock assertion here).
func TestLinkKinds(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load eBPF programs (CI runs as root)")
	}
	lib := ""
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/lib/x86_64-linux-gnu/libssl.so.3"} {
		if _, err := os.Stat(p); err == nil {
			lib = p
			break
		}
	}
	if lib == "" {
		t.Skip("no libssl.so.3 (apt-get install libssl3)")
	}
	for _, without := range []bool{false, true} {
		noMulti = without
		p, err := Load(1 << 16)
		noMulti = false
		if errors.Is(err, ErrNotSupported) {
			t.Skipf("the kernel refuses the programs: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !without && !p.Multi {
			t.Log("this kernel has no uprobe_multi links: only the perf events are checked")
			p.Close()
			continue
		}
		if p.SyscallErr != nil || p.ExecErr != nil {
			t.Fatalf("raw tracepoints: %v, %v", p.SyscallErr, p.ExecErr)
		}
		if err := p.AttachOpenSSL(lib); err != nil {
			t.Fatal(err)
		}
		kinds := map[link.Type]int{}
		for _, l := range p.links {
			info, err := l.Info()
			if err != nil {
				t.Fatal(err)
			}
			kinds[info.Type]++
		}
		want := map[link.Type]int{link.RawTracepointType: 2, link.UprobeMultiType: 7}
		if without {
			// SSL_read, _write, _read_ex, _write_ex, _do_handshake, _connect,
			// _accept: entry and return; SSL_set_fd: entry
			want = map[link.Type]int{link.RawTracepointType: 2, link.PerfEventType: 15}
		}
		if !maps.Equal(kinds, want) {
			t.Errorf("without uprobe_multi %v: links by kind %v, want %v", without, kinds, want)
		}
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	}
}
