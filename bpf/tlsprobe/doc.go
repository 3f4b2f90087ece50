// Package tlsprobe holds apitap's TLS plaintext probes: eBPF uprobes on
// the functions through which programs read and write TLS application data
// (OpenSSL and BoringSSL's SSL_read, SSL_write, SSL_read_ex, SSL_write_ex;
// Go's crypto/tls (*Conn).Read and Write), which send the bytes, before
// encryption and after decryption, to user space over a ring buffer
// (tlsprobe.c, compiled by bpf2go into the committed tlsprobe_x86_bpfel.go
// and .o; `make generate` reproduces them, a build needs no clang).
//
// It sits beside capture: sensor/uprobe finds the processes and their
// libraries, attaches them here, reads the events and feeds the plaintext
// to reassembly. This package only loads the programs, attaches them to a
// file at given places and reads events.
//
// A connection's socket: for OpenSSL the descriptor given to SSL_set_fd,
// or the first one the thread reads or writes during a call or the
// handshake (the sys_enter raw tracepoint, no kprobes), remembered per
// SSL object;
// for Go it is read from the *tls.Conn's *net.TCPConn. Where the kernel
// has BTF the programs also read the socket's addresses (CO-RE: task,
// files, file, socket, sock) into the first event of each descriptor;
// without, Load relocates those reads against no types (they do not run)
// and says so in Probe.BTFErr. A close of a descriptor TLS calls used is
// an event too (DirClose). A process that starts a new program is told on
// a ring buffer of its own (the sched/sched_process_exec tracepoint;
// ReadExec), so that user space probes it at once; without that
// tracepoint Probe.ExecErr says why. Go probes follow the amd64 register ABI (Go
// 1.17 and later); other architectures get ErrNotSupported.
//
// Concurrency: a Probe may be attached from one goroutine while another
// reads its events; Read and ReadExec may run on two goroutines, each
// is not safe for concurrent use with itself.
package tlsprobe
