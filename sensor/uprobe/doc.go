// Package uprobe reads HTTPS in clear inside the node's processes (apitap
// run --tls-uprobes, docs/tls.md): it loads the eBPF programs of
// bpf/tlsprobe, examines each program as it starts (the probes'
// sched_process_exec raw tracepoint sends its pid) and scans /proc for the
// rest, and attaches them once per file
// to the TLS libraries (OpenSSL and BoringSSL's libssl) and Go programs
// (crypto/tls, found in the symbol table or the pclntab of a stripped
// binary, with Read's RET instructions found by disassembly) those
// processes run, reads the plaintext the probes send over their ring
// buffer, and finds each connection's addresses: read from the kernel's
// socket by the probe where the kernel has BTF, else from the socket
// inode behind the file descriptor (/proc/PID/fd) in the process's network
// namespace (/proc/PID/net/tcp and tcp6). A connection whose two ends are
// both traced is read from the first end seen.
//
// The plaintext reaches the pipeline as a capture source (Source) of raw
// IP frames between the connection's real addresses, with a handshake,
// sequence numbers of its own and FINs when the socket is closed, read by
// a worker of its own: reassembly and the HTTP parser treat it as
// packets, and every transaction it gives is marked
// reassembly.SourceUprobe with the library, pid and command name
// (Source.Info).
//
// The Manager's goroutines (scan, execs, reader) own their state; Coverage and
// Counters are safe from any goroutine; Source belongs to the worker that
// reads it.
package uprobe
