//go:build linux && amd64

package tlsprobe

import (
	"bytes"
	"errors"
	"fmt"
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
	needRoot(t)
	for _, without := range []bool{false, true} {
		p := load(t, 1<<16, &noBTF, without)
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
	needRoot(t)
	lib := libssl(t)
	for _, without := range []bool{false, true} {
		p := load(t, 1<<16, &noMulti, without)
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

// TestReadsOpenSSL: curl (OpenSSL) asks openssl s_server for a page over
// the loopback. The probes send what curl wrote (the request) and read
// (the answer), each with the socket the system call hook found during
// the call, and the socket's close, through uprobe_multi links (where the
// kernel has them) and through perf events (older kernels): the programs
// are loaded differently for each. (s_server reads through its SSL BIO,
// which calls OpenSSL's internal functions, not SSL_read: it is not seen.)
func TestReadsOpenSSL(t *testing.T) {
	needRoot(t)
	lib := libssl(t)
	curl, err1 := exec.LookPath("curl")
	openssl, err2 := exec.LookPath("openssl")
	if err1 != nil || err2 != nil {
		t.Skip("needs curl and openssl (.ci/run installs them)")
	}
	dir := t.TempDir()
	if out, err := exec.Command(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1",
		"-keyout", dir+"/key.pem", "-out", dir+"/cert.pem").CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	for i, without := range []bool{false, true} {
		p := load(t, 1<<20, &noMulti, without)
		if !without && !p.Multi {
			p.Close()
			continue
		}
		if err := p.AttachOpenSSL(lib); err != nil {
			p.Close()
			t.Fatal(err)
		}
		port := fmt.Sprint(24433 + i)
		srv := exec.Command(openssl, "s_server", "-www", "-quiet", "-accept", "127.0.0.1:"+port, "-cert", dir+"/cert.pem", "-key", dir+"/key.pem")
		if err := srv.Start(); err != nil {
			p.Close()
			t.Fatal(err)
		}
		path := fmt.Sprintf("/probe-%d", i)
		var out []byte
		var err error
		for try := 0; try < 50; try++ { // until the server listens
			if out, err = exec.Command(curl, "-sk", "--http1.1", "https://127.0.0.1:"+port+path).CombinedOutput(); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		srv.Process.Kill()
		srv.Wait()
		if err != nil {
			p.Close()
			t.Fatalf("curl: %v\n%s", err, out)
		}
		var wrote, read, closed bool
		fd := int32(-1)
		p.SetDeadline(time.Now().Add(5 * time.Second))
		for !(wrote && read && closed) {
			var ev Event
			if err := p.Read(&ev); err != nil {
				break
			}
			switch {
			case ev.Lib == LibOpenSSL && ev.Dir == DirWrite && bytes.HasPrefix(ev.Data, []byte("GET "+path+" HTTP/1.1")):
				wrote, fd = ev.FD >= 0, ev.FD
			case ev.Lib == LibOpenSSL && ev.Dir == DirRead && bytes.HasPrefix(ev.Data, []byte("HTTP/1.0 200 ok")):
				read = ev.FD >= 0 && ev.FD == fd
			case ev.Dir == DirClose && wrote && ev.FD == fd:
				closed = true
			}
		}
		p.Close()
		if !wrote || !read || !closed {
			t.Errorf("without uprobe_multi %v: the request written on a socket %v (fd %d), the answer read on it %v, the socket's close %v", without, wrote, fd, read, closed)
		}
	}
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load eBPF programs (CI runs as root)")
	}
}

// load loads the programs with ringBytes of ring buffer and *knob (noBTF,
// noMulti) set to v during the load; it skips the test where the kernel
// refuses them.
func load(t *testing.T, ringBytes int, knob *bool, v bool) *Probe {
	t.Helper()
	*knob = v
	p, err := Load(ringBytes)
	*knob = false
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("the kernel refuses the programs: %v", err)
	}
	if err != nil {
		t.Fatalf("load (knob %v): %v", v, err)
	}
	return p
}

// libssl is the system's OpenSSL 3 library; the test skips without one.
func libssl(t *testing.T) string {
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/lib/x86_64-linux-gnu/libssl.so.3"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("no libssl.so.3 (apt-get install libssl3)")
	return ""
}
