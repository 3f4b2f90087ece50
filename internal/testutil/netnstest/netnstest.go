//go:build linux

// Package netnstest creates throw-away network namespaces joined to the
// root namespace by a veth pair, for tests that capture real traffic. It is
// used by tests only. Tests skip, saying why, when not run as root.
package netnstest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"
)

// Netns is a network namespace joined to the root namespace by a veth
// pair: the root side is Host (an interface to capture on), the namespace
// side Peer.
type Netns struct {
	Name, Host, Peer string
	HostIP, PeerIP   string
}

func sh(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func New(t testing.TB) *Netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces and capture (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2)")
	}
	// Concurrent test processes (go test runs packages in parallel) must
	// not pick the same subnet: choose under a lock, skipping subnets that
	// are assigned already.
	lock, err := os.OpenFile(os.TempDir()+"/apitap-netnstest.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	used, _ := exec.Command("ip", "-4", "addr").Output()
	id := os.Getpid() % 10000
	sub := ""
	for k := 0; k < 250; k++ {
		c := fmt.Sprintf("10.%d.%d.", 200+k/250, (id+k)%250)
		if !strings.Contains(string(used), " "+c) {
			sub = c
			break
		}
	}
	if sub == "" {
		t.Fatal("no free 10.200.x.0/24 subnet for the test namespace")
	}
	n := &Netns{Name: fmt.Sprintf("apitap-t%d", id), Host: fmt.Sprintf("atp%dh", id), Peer: fmt.Sprintf("atp%dp", id),
		HostIP: sub + "1", PeerIP: sub + "2"}
	exec.Command("ip", "netns", "del", n.Name).Run()
	exec.Command("ip", "link", "del", n.Host).Run()
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", n.Host).Run()
		exec.Command("ip", "netns", "del", n.Name).Run()
	})
	sh(t, "ip", "netns", "add", n.Name)
	sh(t, "ip", "link", "add", n.Host, "type", "veth", "peer", "name", n.Peer)
	sh(t, "ip", "link", "set", n.Peer, "netns", n.Name)
	sh(t, "ip", "addr", "add", n.HostIP+"/24", "dev", n.Host)
	sh(t, "ip", "link", "set", n.Host, "up")
	sh(t, "ip", "netns", "exec", n.Name, "ip", "addr", "add", n.PeerIP+"/24", "dev", n.Peer)
	sh(t, "ip", "netns", "exec", n.Name, "ip", "link", "set", n.Peer, "up")
	sh(t, "ip", "netns", "exec", n.Name, "ip", "link", "set", "lo", "up")
	return n
}

// Exec runs a command inside the namespace.
func (n *Netns) Exec(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Start starts cmd (a server: nginx, HAProxy, python) in a process group
// of its own and stops the whole group when the test ends: SIGTERM, and
// SIGKILL after five seconds. Killing only the process that was started
// leaves the workers a master forked (nginx's, HAProxy's) running, in a
// namespace that is then deleted: they outlived the tests and took later
// tests' uprobes on their libraries.
func Start(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Stop(cmd) })
}

// Stop stops the process group of a command started by Start and waits
// for the command. The leader is waited for without being reaped
// (WNOWAIT) until the group has been killed: a reaped leader's pid, and
// with it the group id, could already be another process's.
func Stop(cmd *exec.Cmd) {
	pid := cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGTERM)
	exited := make(chan struct{})
	go func() {
		var info unix.Siginfo
		for unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
		}
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
	}
	// the workers a master forked, if any outlived it, and the master
	// itself after the grace time
	syscall.Kill(-pid, syscall.SIGKILL)
	<-exited
	cmd.Wait()
}

// ServeHTTP serves a small JSON API on addr until the process is killed:
// any path answers 200 with a 3 KB JSON body, paths under /missing 404.
// Tests run it in a namespace by re-executing their test binary.
func ServeHTTP(addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/missing") {
			w.WriteHeader(404)
		}
		fmt.Fprintf(w, `{"path":%q,"method":%q,"got":%d,"pad":"%s"}`, r.URL.Path, r.Method, len(body), strings.Repeat("x", 3000))
	})
	fmt.Println("listening", (&http.Server{Addr: addr, Handler: mux}).ListenAndServe())
}

// StartServer runs ServeHTTP on addr inside the namespace, by re-executing
// the test binary with only the helper test helper selected (a test that
// calls ServeHTTP(os.Getenv("APITAP_HELPER_ADDR")) and skips when it is
// unset). It is killed when the test ends.
func (n *Netns) StartServer(t testing.TB, addr, helper string) {
	t.Helper()
	srv := n.Exec(os.Args[0], "-test.run=^"+helper+"$")
	srv.Env = append(os.Environ(), "APITAP_HELPER_ADDR="+addr)
	Start(t, srv)
	WaitTCP(t, addr, 10*time.Second)
}

// WaitTCP waits until addr accepts connections.
func WaitTCP(t testing.TB, addr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not accept connections: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Inject sends every frame of a pcap file out of iface (an AF_PACKET
// write, as tcpreplay does). Tests run it inside a namespace by
// re-executing their test binary, so that the frames arrive on the root
// side of the veth as received traffic.
func Inject(iface, pcapFile string) error {
	f, err := os.Open(pcapFile)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return err
	}
	h, err := afpacket.NewTPacket(afpacket.OptInterface(iface))
	if err != nil {
		return err
	}
	defer h.Close()
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			return nil
		}
		if err := h.WritePacketData(data); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}
