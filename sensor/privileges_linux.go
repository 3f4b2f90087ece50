//go:build linux

package sensor

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DropCapabilities gives up every capability of every thread once the
// capture sockets are open and the eBPF program attached: nothing later
// needs one (map updates go through file descriptors already held), so a
// bug in a parser can not be turned into raw network access or a kernel
// program load. no_new_privs keeps exec from gaining any back.
func DropCapabilities() error { return keepCapabilities(nil) }

// uprobeCaps are what the TLS uprobes go on needing (sensor/uprobe):
// attaching to the libraries of processes that start later (CAP_BPF,
// CAP_PERFMON, CAP_SYS_ADMIN on kernels before 5.8), and reading other
// users' /proc/PID/fd and /proc/PID/root (CAP_SYS_PTRACE,
// CAP_DAC_READ_SEARCH).
var uprobeCaps = []int{unix.CAP_BPF, unix.CAP_PERFMON, unix.CAP_SYS_ADMIN, unix.CAP_SYS_PTRACE, unix.CAP_DAC_READ_SEARCH}

// keepCapabilities gives up every capability but keep (effective and
// permitted; none inheritable) and sets no_new_privs.
func keepCapabilities(keep []int) error {
	if _, _, e := syscall.AllThreadsSyscall(syscall.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); e != 0 {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", e)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // zero: no effective, permitted or inheritable capability
	for _, c := range keep {
		data[c/32].Effective |= 1 << (c % 32)
		data[c/32].Permitted |= 1 << (c % 32)
	}
	if _, _, e := syscall.AllThreadsSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	return nil
}
