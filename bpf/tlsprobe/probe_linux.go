//go:build linux && amd64

package tlsprobe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
)

// Probe is the loaded programs, their ring buffer and what is attached.
type Probe struct {
	objs  tlsprobeObjects
	rd    *ringbuf.Reader
	rec   ringbuf.Record
	xrd   *ringbuf.Reader // execs
	xrec  ringbuf.Record
	mu    sync.Mutex
	links []link.Link
	// BTFErr says why the programs do not read the sockets' addresses
	// (nil when they do): user space then finds them in /proc.
	BTFErr error
	// SyscallErr says why the syscall tracepoints could not be attached
	// (nil when they were): OpenSSL calls then find their socket only
	// when it was remembered.
	SyscallErr error
	// ExecErr says why new programs are not told as they start (the
	// sched_process_exec tracepoint could not be attached; nil when they
	// are): ReadExec then fails and user space finds them by scanning.
	ExecErr error
}

// syscalls whose first argument is the socket an SSL call reads or writes.
var syscalls = []string{"read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg"}

// Load loads the programs with a ring buffer of ringBytes (a power of two
// of at least a page; 0: 8 MiB) and attaches the syscall tracepoints.
func Load(ringBytes int) (*Probe, error) {
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		return nil, fmt.Errorf("eBPF ring buffers (Linux 5.8): %w", err)
	}
	if err := features.HaveProgramType(ebpf.Kprobe); err != nil {
		return nil, fmt.Errorf("uprobe programs: %w", err)
	}
	rlimit.RemoveMemlock() // kernels before 5.11 charge maps to RLIMIT_MEMLOCK
	spec, err := loadTlsprobe()
	if err != nil {
		return nil, err
	}
	if ringBytes > 0 {
		spec.Maps["events"].MaxEntries = uint32(ringBytes)
	}
	p := &Probe{}
	// With the kernel's BTF the programs read each connection's addresses
	// from its socket; without, those reads are left out (relocated
	// against no types, in code that does not run) and user space finds
	// the addresses in /proc.
	var opts *ebpf.CollectionOptions
	if _, err := btf.LoadKernelSpec(); err != nil || noBTF {
		p.BTFErr = fmt.Errorf("kernel BTF: %w", err)
		if err == nil {
			p.BTFErr = errors.New("kernel BTF not used")
		}
		empty, err := emptyBTF()
		if err != nil {
			return nil, err
		}
		opts = &ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: empty}}
	} else if err := spec.Variables["read_sockets"].Set(uint32(1)); err != nil {
		return nil, err
	}
	if err := spec.LoadAndAssign(&p.objs, opts); err != nil {
		return nil, fmt.Errorf("load TLS probes: %w", err)
	}
	for _, sc := range syscalls {
		l, err := link.Tracepoint("syscalls", "sys_enter_"+sc, p.objs.SysEnterFd, nil)
		if err != nil {
			p.SyscallErr = fmt.Errorf("syscall tracepoint %s (is tracefs mounted? mount -t tracefs nodev /sys/kernel/tracing): %w", sc, err)
			break
		}
		p.links = append(p.links, l)
	}
	if p.SyscallErr == nil {
		l, err := link.Tracepoint("syscalls", "sys_enter_close", p.objs.SysEnterClose, nil)
		if err != nil {
			p.SyscallErr = fmt.Errorf("syscall tracepoint close: %w", err)
		} else {
			p.links = append(p.links, l)
		}
	}
	if p.rd, err = ringbuf.NewReader(p.objs.Events); err != nil {
		p.Close()
		return nil, fmt.Errorf("TLS probes' ring buffer: %w", err)
	}
	if l, err := link.Tracepoint("sched", "sched_process_exec", p.objs.SchedExec, nil); err != nil {
		p.ExecErr = fmt.Errorf("tracepoint sched/sched_process_exec (is tracefs mounted? mount -t tracefs nodev /sys/kernel/tracing): %w", err)
	} else if p.xrd, err = ringbuf.NewReader(p.objs.Execs); err != nil {
		l.Close()
		p.ExecErr = fmt.Errorf("the execs ring buffer: %w", err)
	} else {
		p.links = append(p.links, l)
	}
	return p, nil
}

// AttachOpenSSL probes SSL_read, SSL_write (and their _ex forms where the
// library has them) in the shared library or executable at path: every
// process that maps that file is covered, the later ones too.
func (p *Probe) AttachOpenSSL(path string) error {
	ex, err := link.OpenExecutable(path)
	if err != nil {
		return err
	}
	type probe struct {
		sym      string
		enter    *ebpf.Program
		optional bool
	}
	var ls []link.Link
	fail := func(err error) error {
		for _, l := range ls {
			l.Close()
		}
		return err
	}
	for _, pr := range []probe{
		{"SSL_read", p.objs.SslReadEnter, false},
		{"SSL_write", p.objs.SslWriteEnter, false},
		{"SSL_read_ex", p.objs.SslReadExEnter, true},
		{"SSL_write_ex", p.objs.SslWriteExEnter, true},
		// the socket is learnt before the first byte: where the program
		// sets it, and during the handshake (then user space is told)
		{"SSL_do_handshake", p.objs.SslHandshakeEnter, true},
		{"SSL_connect", p.objs.SslHandshakeEnter, true},
		{"SSL_accept", p.objs.SslHandshakeEnter, true},
		{"SSL_set_fd", p.objs.SslSetFd, true},
	} {
		l, err := ex.Uprobe(pr.sym, pr.enter, nil)
		if errors.Is(err, link.ErrNoSymbol) {
			if pr.optional {
				continue
			}
			return fail(ErrNoSymbol)
		}
		if err != nil {
			return fail(fmt.Errorf("uprobe %s: %w", pr.sym, err))
		}
		ls = append(ls, l)
		if pr.sym == "SSL_set_fd" {
			continue // entry only
		}
		r, err := ex.Uretprobe(pr.sym, p.objs.SslExitProbe, nil)
		if err != nil {
			return fail(fmt.Errorf("uretprobe %s: %w", pr.sym, err))
		}
		ls = append(ls, r)
	}
	p.mu.Lock()
	p.links = append(p.links, ls...)
	p.mu.Unlock()
	return nil
}

// AttachGo probes a Go executable's crypto/tls at the file offsets of f.
func (p *Probe) AttachGo(path string, f GoFunc) error {
	ex, err := link.OpenExecutable(path)
	if err != nil {
		return err
	}
	var ls []link.Link
	add := func(prog *ebpf.Program, off uint64) error {
		l, err := ex.Uprobe("", prog, &link.UprobeOptions{Address: off})
		if err != nil {
			return fmt.Errorf("uprobe at %#x: %w", off, err)
		}
		ls = append(ls, l)
		return nil
	}
	err = add(p.objs.GoWrite, f.Write)
	if err == nil {
		err = add(p.objs.GoReadEnter, f.Read)
	}
	for _, r := range f.ReadRets {
		if err == nil {
			err = add(p.objs.GoReadRet, r)
		}
	}
	if err != nil {
		for _, l := range ls {
			l.Close()
		}
		return err
	}
	p.mu.Lock()
	p.links = append(p.links, ls...)
	p.mu.Unlock()
	return nil
}

// header is the size of an event before its data (struct event).
const header = int(unsafe.Offsetof(tlsprobeEvent{}.Data))

// emptyBTF is a type set with no kernel structure in it.
func emptyBTF() (*btf.Spec, error) {
	b, err := btf.NewBuilder([]btf.Type{&btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}}, nil)
	if err != nil {
		return nil, err
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		return nil, err
	}
	return btf.LoadSpecFromReader(bytes.NewReader(raw))
}

// noBTF makes Load act as on a kernel without BTF (tests).
var noBTF bool

// Read waits for the next event (until the deadline, when set: then it
// returns os.ErrDeadlineExceeded). ev.Data is valid until the next Read.
func (p *Probe) Read(ev *Event) error {
	for {
		if err := p.rd.ReadInto(&p.rec); err != nil {
			return err
		}
		b := p.rec.RawSample
		if len(b) < header {
			continue
		}
		le := binary.LittleEndian
		ev.Time, ev.Conn = le.Uint64(b), le.Uint64(b[8:])
		ev.PID, ev.TID = le.Uint32(b[16:]), le.Uint32(b[20:])
		ev.FD = int32(le.Uint32(b[24:]))
		ev.Len, ev.Off = le.Uint32(b[28:]), le.Uint32(b[32:])
		n := le.Uint32(b[36:])
		ev.Dir, ev.Lib = Dir(b[40]), Library(b[41])
		ev.Local, ev.Remote = netip.AddrPort{}, netip.AddrPort{}
		ev.Comm = b[80:96]
		if i := bytes.IndexByte(ev.Comm, 0); i >= 0 {
			ev.Comm = ev.Comm[:i]
		}
		switch le.Uint16(b[42:]) {
		case 2: // AF_INET
			ev.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[48:52])), le.Uint16(b[44:]))
			ev.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[64:68])), le.Uint16(b[46:]))
		case 10: // AF_INET6
			ev.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[48:64])).Unmap(), le.Uint16(b[44:]))
			ev.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[64:80])).Unmap(), le.Uint16(b[46:]))
		}
		if int(n) > len(b)-header {
			continue
		}
		ev.Data = b[header : header+int(n)]
		return nil
	}
}

// ReadExec waits for the next process that starts a new program and
// returns its pid and when it did (CLOCK_MONOTONIC, ns), until the
// deadline when set: then it returns os.ErrDeadlineExceeded. It fails at
// once when ExecErr is set.
func (p *Probe) ReadExec() (pid int, mono uint64, err error) {
	if p.xrd == nil {
		return 0, 0, p.ExecErr
	}
	for {
		if err := p.xrd.ReadInto(&p.xrec); err != nil {
			return 0, 0, err
		}
		if b := p.xrec.RawSample; len(b) >= 12 {
			return int(binary.LittleEndian.Uint32(b[8:])), binary.LittleEndian.Uint64(b), nil
		}
	}
}

// SetDeadline makes Read return os.ErrDeadlineExceeded at t.
func (p *Probe) SetDeadline(t time.Time) { p.rd.SetDeadline(t) }

// SetExecDeadline makes ReadExec return os.ErrDeadlineExceeded at t.
func (p *Probe) SetExecDeadline(t time.Time) {
	if p.xrd != nil {
		p.xrd.SetDeadline(t)
	}
}

// ErrDeadline is what Read returns at its deadline.
var ErrDeadline = os.ErrDeadlineExceeded

// Counters sums the programs' counters over the CPUs.
func (p *Probe) Counters() ([NumCounters]uint64, error) {
	var out [NumCounters]uint64
	for i := range out {
		var per []uint64
		if err := p.objs.Counters.Lookup(uint32(i), &per); err != nil {
			return out, err
		}
		for _, v := range per {
			out[i] += v
		}
	}
	return out, nil
}

// Links is the number of probes and tracepoints attached.
func (p *Probe) Links() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Close detaches everything and unloads the programs.
func (p *Probe) Close() error {
	p.mu.Lock()
	// each detach waits for the kernel's RCU grace periods under its
	// event_mutex (perf_uprobe_destroy, perf_trace_destroy), one after the
	// other: closing them at once gains nothing (measured)
	for _, l := range p.links {
		l.Close()
	}
	p.links = nil
	p.mu.Unlock()
	if p.rd != nil {
		p.rd.Close()
	}
	if p.xrd != nil {
		p.xrd.Close()
	}
	return p.objs.Close()
}
