//go:build linux && amd64

package tlsprobe

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
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
	// SyscallErr says why the system call raw tracepoint could not be
	// attached (nil when it was): OpenSSL calls then find their socket
	// only when it was remembered.
	SyscallErr error
	// ExecErr says why new programs are not told as they start (the
	// sched_process_exec raw tracepoint could not be attached; nil when
	// they are): ReadExec then fails and user space finds them by scanning.
	ExecErr error
	// Multi says the uprobes are uprobe_multi links (Linux 6.6): one per
	// program and executable. Without, each probed function is a perf
	// event of its own.
	Multi bool
}

// Load loads the programs with a ring buffer of ringBytes (a power of two
// of at least a page; 0: 8 MiB) and attaches the system call and exec
// raw tracepoints. Where the kernel has uprobe_multi links (Linux 6.6),
// the uprobe programs are loaded for them: one link per program and
// executable instead of one perf event per function, detached without the
// kernel's one-at-a-time RCU waits (see Close).
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
	if features.HaveBPFLinkUprobeMulti() == nil && !noMulti {
		p.Multi = true
		for _, ps := range spec.Programs {
			if ps.Type == ebpf.Kprobe {
				ps.AttachType = ebpf.AttachTraceUprobeMulti
			}
		}
	}
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
	if l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_enter", Program: p.objs.SysEnter}); err != nil {
		p.SyscallErr = fmt.Errorf("raw tracepoint sys_enter: %w", err)
	} else {
		p.links = append(p.links, l)
	}
	if p.rd, err = ringbuf.NewReader(p.objs.Events); err != nil {
		p.Close()
		return nil, fmt.Errorf("TLS probes' ring buffer: %w", err)
	}
	if l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sched_process_exec", Program: p.objs.SchedExec}); err != nil {
		p.ExecErr = fmt.Errorf("raw tracepoint sched_process_exec: %w", err)
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
	has, err := symbols(path)
	if err != nil {
		return err
	}
	type probe struct {
		syms []string
		prog *ebpf.Program
		ret  bool // a return probe
	}
	if !has["SSL_read"] || !has["SSL_write"] {
		return ErrNoSymbol // the others are optional
	}
	present := func(syms ...string) []string {
		return slices.DeleteFunc(syms, func(s string) bool { return !has[s] })
	}
	// the socket is learnt before the first byte: where the program sets
	// it (SSL_set_fd), and during the handshake (then user space is told)
	probes := []probe{
		{present("SSL_read"), p.objs.SslReadEnter, false},
		{present("SSL_write"), p.objs.SslWriteEnter, false},
		{present("SSL_read_ex"), p.objs.SslReadExEnter, false},
		{present("SSL_write_ex"), p.objs.SslWriteExEnter, false},
		{present("SSL_do_handshake", "SSL_connect", "SSL_accept"), p.objs.SslHandshakeEnter, false},
		{present("SSL_set_fd"), p.objs.SslSetFd, false}, // entry only
		{present("SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex", "SSL_do_handshake", "SSL_connect", "SSL_accept"), p.objs.SslExitProbe, true},
	}
	var ls []link.Link
	for _, pr := range probes {
		if len(pr.syms) == 0 {
			continue
		}
		var err error
		if p.Multi {
			var l link.Link
			if pr.ret {
				l, err = ex.UretprobeMulti(pr.syms, pr.prog, nil)
			} else {
				l, err = ex.UprobeMulti(pr.syms, pr.prog, nil)
			}
			if err == nil {
				ls = append(ls, l)
			}
		} else {
			for _, sym := range pr.syms {
				var l link.Link
				if pr.ret {
					l, err = ex.Uretprobe(sym, pr.prog, nil)
				} else {
					l, err = ex.Uprobe(sym, pr.prog, nil)
				}
				if err != nil {
					break
				}
				ls = append(ls, l)
			}
		}
		if err != nil {
			closeAll(ls, p.Multi)
			if errors.Is(err, link.ErrNoSymbol) {
				return ErrNoSymbol
			}
			kind := "uprobe"
			if pr.ret {
				kind = "uretprobe"
			}
			return fmt.Errorf("%s %s: %w", kind, strings.Join(pr.syms, ","), err)
		}
	}
	p.mu.Lock()
	p.links = append(p.links, ls...)
	p.mu.Unlock()
	return nil
}

// symbols is the set of function names an ELF file defines (its dynamic
// and its static symbol tables). The files come from any container: a
// malformed one is an error, never a panic of debug/elf.
func symbols(path string) (has map[string]bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			has, err = nil, fmt.Errorf("%s: malformed ELF file: %v", path, r)
		}
	}()
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	has = map[string]bool{}
	for _, read := range []func() ([]elf.Symbol, error){f.DynamicSymbols, f.Symbols} {
		syms, err := read()
		if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
			return nil, err
		}
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Value != 0 && s.Section != elf.SHN_UNDEF {
				has[s.Name] = true
			}
		}
	}
	return has, nil
}

// AttachGo probes a Go executable's crypto/tls at the file offsets of f.
func (p *Probe) AttachGo(path string, f GoFunc) error {
	ex, err := link.OpenExecutable(path)
	if err != nil {
		return err
	}
	var ls []link.Link
	add := func(prog *ebpf.Program, offs ...uint64) error {
		if p.Multi {
			l, err := ex.UprobeMulti(nil, prog, &link.UprobeMultiOptions{Addresses: offs})
			if err != nil {
				return fmt.Errorf("uprobe at %#x: %w", offs, err)
			}
			ls = append(ls, l)
			return nil
		}
		for _, off := range offs {
			l, err := ex.Uprobe("", prog, &link.UprobeOptions{Address: off})
			if err != nil {
				return fmt.Errorf("uprobe at %#x: %w", off, err)
			}
			ls = append(ls, l)
		}
		return nil
	}
	err = add(p.objs.GoWrite, f.Write)
	if err == nil {
		err = add(p.objs.GoReadEnter, f.Read)
	}
	if err == nil && len(f.ReadRets) > 0 {
		err = add(p.objs.GoReadRet, f.ReadRets...)
	}
	if err != nil {
		closeAll(ls, p.Multi)
		return err
	}
	p.mu.Lock()
	p.links = append(p.links, ls...)
	p.mu.Unlock()
	return nil
}

// closeAll closes links, up to maxClosing at once: uprobe_multi links
// each wait for an RCU Tasks Trace grace period, which concurrent waits
// share. Each wait holds an OS thread, hence the bound (a node may have
// thousands of probed files). Perf-event links (multi false) are closed
// one after the other: the kernel serialises them anyway.
func closeAll(ls []link.Link, multi bool) {
	if !multi {
		for _, l := range ls {
			l.Close()
		}
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxClosing)
	for _, l := range ls {
		sem <- struct{}{}
		wg.Go(func() {
			l.Close()
			<-sem
		})
	}
	wg.Wait()
}

// maxClosing bounds the links closed at once.
const maxClosing = 32

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

// noMulti makes Load act as on a kernel without uprobe_multi links
// (tests).
var noMulti bool

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

// Close detaches everything and unloads the programs. The raw
// tracepoints detach at once; uprobe_multi links wait for a grace period
// each, shared when closed together (closeAll). The perf-event uprobes of
// kernels without uprobe_multi wait for their grace periods one after the
// other, under the kernel's event_mutex: seconds each at times.
func (p *Probe) Close() error {
	p.mu.Lock()
	closeAll(p.links, p.Multi)
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
