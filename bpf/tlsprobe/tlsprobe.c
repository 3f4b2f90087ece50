//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// apitap's TLS plaintext probes: uprobes on the functions through which
// programs read and write TLS application data, before encryption and
// after decryption, sending what they move to user space over a ring
// buffer.
//
//   OpenSSL / BoringSSL: SSL_read, SSL_write, SSL_read_ex, SSL_write_ex
//     (entry saves the arguments, keyed by thread; the return probe sends
//     the bytes the call moved). The socket is found from the read/write
//     system calls the thread makes during the call (the raw tracepoint
//     sys_enter, no kprobes), and remembered per SSL object for calls served from
//     OpenSSL's buffers.
//   Go crypto/tls (register ABI, amd64): (*Conn).Write at its entry (the
//     buffer is complete), (*Conn).Read at its entry (arguments saved,
//     keyed by goroutine: R14 holds the g) and at every RET instruction of
//     the function (uretprobes break Go's stack handling). The socket is
//     read from the Conn: its net.Conn interface holds a *net.TCPConn,
//     whose netFD's poll.FD has Sysfd after a 16-byte fdMutex.
//
// No kernel structure is read: no BTF or CO-RE is needed.

#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <linux/in6.h>

char __license[] SEC("license") = "Dual BSD/GPL";

#define CHUNK      8192  // bytes per event (a per-CPU value holds at most 32 KiB)
#define MAX_CHUNKS 8     // events per call: 64 KiB, the rest is counted as truncated

#define DIR_READ  0 // the process received the bytes from its peer
#define DIR_WRITE 1 // the process sent them
#define DIR_CLOSE 2 // no bytes: the process closed the socket fd
#define DIR_OPEN  3 // no bytes: a handshake on the socket fd completed
#define DIR_HANDSHAKE 4 // (a call in progress only)

#define LIB_OPENSSL 1
#define LIB_GO      2

// counters (index into `counters`)
#define C_CALLS     0 // calls that moved bytes
#define C_EVENTS    1 // events sent
#define C_BYTES     2 // bytes sent
#define C_LOST      3 // events the full ring buffer refused
#define C_TRUNCATED 4 // bytes beyond MAX_CHUNKS*CHUNK of one call, not sent
#define C_READ_ERR  5 // user memory that could not be read
#define C_NO_FD     6 // calls whose socket was not found
#define C_EXEC_LOST 7 // new programs the full execs ring buffer refused
#define NUM_COUNTERS 8

struct event {
	__u64 ts;   // bpf_ktime_get_ns (CLOCK_MONOTONIC)
	__u64 conn; // SSL* or *tls.Conn: the connection inside the process
	__u32 pid;  // thread group id
	__u32 tid;
	__s32 fd;   // the socket, -1 when unknown
	__u32 len;  // bytes the call moved
	__u32 off;  // offset of these bytes in the call's
	__u32 n;    // bytes in data
	__u8 dir;
	__u8 lib;
	__u16 family; // AF_INET, AF_INET6: the addresses below are set; 0: not read
	__u16 lport;  // the process's end (host order)
	__u16 rport;  // the peer's
	__u8 laddr[16]; // IPv4 in the first 4 bytes
	__u8 raddr[16];
	char comm[16]; // the thread's command name
	__u8 data[2 * CHUNK]; // twice CHUNK: sizes masked with 2*CHUNK-1 satisfy the verifier
};

// an OpenSSL call in progress, by thread (pid_tgid)
struct call {
	__u64 buf;
	__u64 conn;
	__u64 lenp; // SSL_*_ex: where the call writes the byte count
	__s32 fd;   // the first socket the thread touched during the call, or -1
	__s32 known; // the socket the connection used last time, or -1
	__u8 dir;
	__u8 ex;
	__u8 pad[6];
};

// a Go (*Conn).Read in progress, by goroutine
struct gokey {
	__u32 tgid;
	__u32 pad;
	__u64 g;
};

struct gocall {
	__u64 buf;
	__u64 conn;
	__s32 fd;
	__u32 pad;
};

struct connkey {
	__u32 tgid;
	__u32 pad;
	__u64 conn;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

struct exec_event {
	__u64 ts; // bpf_ktime_get_ns (CLOCK_MONOTONIC)
	__u32 pid;
	__u32 pad;
};

// the pid of each process that starts a new program (exec), for user
// space to look at it at once rather than at its next scan of /proc
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 10);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct call);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct gokey);
	__type(value, struct gocall);
} gocalls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct connkey);
	__type(value, __s32);
} connfd SEC(".maps");

// the sockets TLS calls used, by process: their close is sent as an event
// (a socket number and an SSL object are both reused after it)
struct fdkey {
	__u32 tgid;
	__s32 fd;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct fdkey);
	__type(value, __u8);
} tlsfds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NUM_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

// Kernel structures, relocated by CO-RE against the running kernel's BTF
// (only the fields read): the socket behind a file descriptor.
struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

struct task_struct {
	struct files_struct *files;
} __attribute__((preserve_access_index));

struct file {
	void *private_data;
} __attribute__((preserve_access_index));

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
} __attribute__((preserve_access_index));

struct socket {
	struct sock *sk;
} __attribute__((preserve_access_index));

// set by the loader: 1 when the kernel has BTF (the addresses are read
// here), 0 when user space must find them in /proc
volatile const __u32 read_sockets = 0;

static __always_inline void count(__u32 i, __u64 n) {
	__u64 *v = bpf_map_lookup_elem(&counters, &i);
	if (v)
		*v += n;
}

// sock_addrs reads the addresses of the TCP socket at fd of the current
// process into e (family 0 when it is not one).
static __always_inline void sock_addrs(__s32 fd, struct event *e) {
	e->family = 0;
	if (!read_sockets || fd < 0)
		return;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	if (!fdt || (__u32)fd >= BPF_CORE_READ(fdt, max_fds))
		return;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) != 0 || !f)
		return;
	struct socket *so = BPF_CORE_READ(f, private_data);
	if (!so)
		return;
	struct sock *sk = BPF_CORE_READ(so, sk);
	if (!sk)
		return;
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (fam == 2) { // AF_INET
		bpf_core_read(e->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->raddr, 4, &sk->__sk_common.skc_daddr);
	} else if (fam == 10) { // AF_INET6
		bpf_core_read(e->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	} else {
		return;
	}
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->family = fam;
}

// send sends the len bytes at buf in events of up to CHUNK bytes.
static __always_inline void send(__u64 conn, __s32 fd, __u64 buf, __u32 len, __u8 dir, __u8 lib) {
	__u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return;
	__u64 id = bpf_get_current_pid_tgid();
	e->ts = bpf_ktime_get_ns();
	e->conn = conn;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->fd = fd;
	e->len = len;
	e->dir = dir;
	e->lib = lib;
	e->family = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (fd >= 0) {
		// the first event of a socket (until its close) carries its
		// addresses
		struct fdkey fk = {.tgid = e->pid, .fd = fd};
		__u8 one = 1;
		if (bpf_map_update_elem(&tlsfds, &fk, &one, BPF_NOEXIST) == 0 || len == 0)
			sock_addrs(fd, e);
	}
	if (len == 0) { // DIR_OPEN: the header alone
		e->off = 0;
		e->n = 0;
		if (bpf_ringbuf_output(&events, e, offsetof(struct event, data), 0) != 0)
			count(C_LOST, 1);
		return;
	}
	count(C_CALLS, 1);
	if (fd < 0)
		count(C_NO_FD, 1);
#pragma unroll
	for (int i = 0; i < MAX_CHUNKS; i++) {
		__u32 off = i * CHUNK;
		if (off >= len)
			return;
		__u32 n = len - off;
		if (n > CHUNK)
			n = CHUNK;
		asm volatile("" : "+r"(n)); // keep clang from dropping the mask below
		n &= 2 * CHUNK - 1;         // (no change: tells the verifier the bound)
		e->off = off;
		e->n = n;
		if (bpf_probe_read_user(e->data, n, (void *)(buf + off)) != 0) {
			count(C_READ_ERR, 1);
			return;
		}
		if (bpf_ringbuf_output(&events, e, offsetof(struct event, data) + n, 0) != 0) {
			count(C_LOST, 1);
			return;
		}
		count(C_EVENTS, 1);
		count(C_BYTES, n);
	}
	if (len > MAX_CHUNKS * CHUNK)
		count(C_TRUNCATED, len - MAX_CHUNKS * CHUNK);
}

// ---- OpenSSL / BoringSSL

static __always_inline int ssl_enter(struct pt_regs *ctx, __u8 dir, __u8 ex) {
	__u64 id = bpf_get_current_pid_tgid();
	struct call c = {};
	c.conn = PT_REGS_PARM1(ctx);
	c.buf = PT_REGS_PARM2(ctx);
	c.lenp = ex ? PT_REGS_PARM4(ctx) : 0;
	c.dir = dir;
	c.ex = ex;
	c.fd = -1;
	c.known = -1;
	struct connkey k = {.tgid = id >> 32, .conn = c.conn};
	__s32 *fd = bpf_map_lookup_elem(&connfd, &k);
	if (fd)
		c.known = *fd;
	bpf_map_update_elem(&calls, &id, &c, BPF_ANY);
	return 0;
}

static __always_inline int ssl_exit(struct pt_regs *ctx) {
	__u64 id = bpf_get_current_pid_tgid();
	struct call *p = bpf_map_lookup_elem(&calls, &id);
	if (!p)
		return 0;
	struct call c = *p;
	bpf_map_delete_elem(&calls, &id);
	long ret = PT_REGS_RC(ctx);
	// a socket seen during this call wins over the remembered one (an
	// SSL object freed and allocated again for another connection); it is
	// remembered even when the call moved nothing (a non-blocking read)
	if (c.fd >= 0) {
		struct connkey k = {.tgid = id >> 32, .conn = c.conn};
		bpf_map_update_elem(&connfd, &k, &c.fd, BPF_ANY);
	} else {
		c.fd = c.known;
	}
	if (c.dir == DIR_HANDSHAKE) {
		// the connection's socket is known before its first byte moves:
		// user space looks its addresses up while the process has it
		if ((int)ret == 1 && c.fd >= 0)
			send(c.conn, c.fd, 0, 0, DIR_OPEN, LIB_OPENSSL);
		return 0;
	}
	__u64 len = 0;
	if (c.ex) {
		if ((int)ret != 1)
			return 0;
		if (bpf_probe_read_user(&len, sizeof(len), (void *)c.lenp) != 0)
			return 0;
	} else {
		if ((int)ret <= 0)
			return 0;
		len = (__u32)(int)ret;
	}
	if (len == 0 || len > 0x7fffffff)
		return 0;
	send(c.conn, c.fd, c.buf, (__u32)len, c.dir, LIB_OPENSSL);
	return 0;
}

SEC("uprobe/SSL_read")
int ssl_read_enter(struct pt_regs *ctx) { return ssl_enter(ctx, DIR_READ, 0); }

SEC("uprobe/SSL_write")
int ssl_write_enter(struct pt_regs *ctx) { return ssl_enter(ctx, DIR_WRITE, 0); }

SEC("uprobe/SSL_read_ex")
int ssl_read_ex_enter(struct pt_regs *ctx) { return ssl_enter(ctx, DIR_READ, 1); }

SEC("uprobe/SSL_write_ex")
int ssl_write_ex_enter(struct pt_regs *ctx) { return ssl_enter(ctx, DIR_WRITE, 1); }

SEC("uprobe/SSL_do_handshake")
int ssl_handshake_enter(struct pt_regs *ctx) { return ssl_enter(ctx, DIR_HANDSHAKE, 0); }

// SSL_set_fd(ssl, fd): the socket of a connection before any call on it
SEC("uprobe/SSL_set_fd")
int ssl_set_fd(struct pt_regs *ctx) {
	struct connkey k = {.tgid = bpf_get_current_pid_tgid() >> 32, .conn = PT_REGS_PARM1(ctx)};
	__s32 fd = (__s32)PT_REGS_PARM2(ctx);
	if (fd >= 0)
		bpf_map_update_elem(&connfd, &k, &fd, BPF_ANY);
	return 0;
}

SEC("uretprobe/SSL_rw")
int ssl_exit_probe(struct pt_regs *ctx) { return ssl_exit(ctx); }

// System calls, seen through the raw tracepoint sys_enter: one program for
// every call, which keeps those it wants by number (x86_64). Raw
// tracepoints, unlike the syscalls/sys_enter_* tracepoints of perf, need
// no tracefs and detach without waiting, one after the other under the
// kernel's event_mutex, for an RCU Tasks Trace grace period each (at
// times seconds: minutes for a sensor to stop). A 32-bit program's calls
// have other numbers (its read is 3, close here) and arguments in other
// registers: they are skipped by its code segment, as the syscall
// tracepoints skipped them (a 64-bit program making 32-bit calls with int
// 0x80 is not told apart; it does not use the probed libraries that way).
#define USER32_CS 0x23 // __USER32_CS: the code segment of 32-bit programs
#define NR_READ 0
#define NR_WRITE 1
#define NR_CLOSE 3
#define NR_READV 19
#define NR_WRITEV 20
#define NR_SENDTO 44
#define NR_RECVFROM 45
#define NR_SENDMSG 46
#define NR_RECVMSG 47

// read, write, readv, writev, recvfrom, sendto, recvmsg, sendmsg: the
// first socket a thread touches inside an SSL call is its connection's.
static __always_inline void sys_enter_fd(__u64 fd) {
	__u64 id = bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &id);
	if (c && c->fd < 0)
		c->fd = (__s32)fd;
}

// close: a socket TLS calls used is closed; user space ends its
// connection (the number may come back for another one at once).
static __always_inline void sys_enter_close(__u64 fd) {
	__u64 id = bpf_get_current_pid_tgid();
	struct fdkey k = {.tgid = id >> 32, .fd = (__s32)fd};
	if (!bpf_map_lookup_elem(&tlsfds, &k))
		return;
	bpf_map_delete_elem(&tlsfds, &k);
	__u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return;
	e->ts = bpf_ktime_get_ns();
	e->conn = 0;
	e->pid = k.tgid;
	e->tid = (__u32)id;
	e->fd = k.fd;
	e->len = 0;
	e->off = 0;
	e->n = 0;
	e->dir = DIR_CLOSE;
	e->lib = 0;
	e->family = 0;
	e->comm[0] = 0;
	if (bpf_ringbuf_output(&events, e, offsetof(struct event, data), 0) != 0)
		count(C_LOST, 1);
}

// sys_enter(struct pt_regs *regs, long id): the first argument is in rdi.
SEC("raw_tracepoint/sys_enter")
int sys_enter(struct bpf_raw_tracepoint_args *ctx) {
	long nr = (long)ctx->args[1];
	if (nr != NR_CLOSE && nr != NR_READ && nr != NR_WRITE && nr != NR_READV && nr != NR_WRITEV &&
	    nr != NR_SENDTO && nr != NR_RECVFROM && nr != NR_SENDMSG && nr != NR_RECVMSG)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	__u64 fd = 0, cs = 0;
	if (bpf_probe_read_kernel(&cs, sizeof(cs), &regs->cs) != 0 || cs == USER32_CS)
		return 0;
	if (bpf_probe_read_kernel(&fd, sizeof(fd), &regs->rdi) != 0)
		return 0;
	if (nr == NR_CLOSE)
		sys_enter_close(fd);
	else
		sys_enter_fd(fd);
	return 0;
}

// ---- Go crypto/tls (amd64 register ABI)

static __always_inline __s32 go_fd(__u64 conn) {
	__u64 data = 0, netfd = 0;
	__s64 sysfd = -1;
	// tls.Conn.conn (net.Conn interface: itab, data) -> *net.TCPConn
	if (bpf_probe_read_user(&data, 8, (void *)(conn + 8)) != 0 || !data)
		return -1;
	// net.TCPConn{conn{fd *netFD}} -> netFD{pfd poll.FD{fdmu fdMutex (16 bytes), Sysfd int}}
	if (bpf_probe_read_user(&netfd, 8, (void *)data) != 0 || !netfd)
		return -1;
	if (bpf_probe_read_user(&sysfd, 8, (void *)(netfd + 16)) != 0)
		return -1;
	if (sysfd < 0 || sysfd > 0x7fffffff)
		return -1;
	return (__s32)sysfd;
}

SEC("uprobe/go_tls_write")
int go_write(struct pt_regs *ctx) {
	__u64 conn = ctx->rax, buf = ctx->rbx, len = ctx->rcx;
	if (len == 0 || len > 0x7fffffff)
		return 0;
	send(conn, go_fd(conn), buf, (__u32)len, DIR_WRITE, LIB_GO);
	return 0;
}

SEC("uprobe/go_tls_read")
int go_read_enter(struct pt_regs *ctx) {
	struct gokey k = {.tgid = bpf_get_current_pid_tgid() >> 32, .g = ctx->r14};
	struct gocall c = {.buf = ctx->rbx, .conn = ctx->rax};
	c.fd = go_fd(c.conn);
	bpf_map_update_elem(&gocalls, &k, &c, BPF_ANY);
	return 0;
}

SEC("uprobe/go_tls_read_ret")
int go_read_ret(struct pt_regs *ctx) {
	struct gokey k = {.tgid = bpf_get_current_pid_tgid() >> 32, .g = ctx->r14};
	struct gocall *p = bpf_map_lookup_elem(&gocalls, &k);
	if (!p)
		return 0;
	struct gocall c = *p;
	bpf_map_delete_elem(&gocalls, &k);
	__s64 n = (__s64)ctx->rax;
	if (n <= 0 || n > 0x7fffffff)
		return 0;
	send(c.conn, c.fd, c.buf, (__u32)n, DIR_READ, LIB_GO);
	return 0;
}

// A process started a new program (a raw tracepoint, not a kprobe): its
// pid goes to user space, which probes the program at once when it is a
// Go program with crypto/tls (a program that lives less than the scan
// interval is otherwise missed). The exec is done: the current task is
// the process, under its pid.
SEC("raw_tracepoint/sched_process_exec")
int sched_exec(struct bpf_raw_tracepoint_args *ctx) {
	struct exec_event *e = bpf_ringbuf_reserve(&execs, sizeof(*e), 0);
	if (!e) {
		count(C_EXEC_LOST, 1);
		return 0;
	}
	e->ts = bpf_ktime_get_ns();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
