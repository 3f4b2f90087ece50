//go:build linux && amd64

package uprobe

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/apitap/apitap/bpf/tlsprobe"
	"github.com/apitap/apitap/reassembly"
)

// Manager runs the TLS probes: it loads them, scans /proc for processes
// and attaches to the TLS libraries and Go programs they run (each file
// once: a uprobe on a file covers every process that maps it, the later
// ones too), reads the plaintext events, finds each connection's addresses
// in /proc and hands the plaintext to its Source.
type Manager struct {
	cfg   Config
	log   zerolog.Logger
	probe *tlsprobe.Probe
	self  int
	items chan *item
	free  chan *item
	done  chan struct{}
	src   *Source
	wg    sync.WaitGroup
	ctr   [numCounters]atomic.Uint64
	// monotonic clock of the events to wall time
	wall0 time.Time
	mono0 int64

	exMu  sync.Mutex // one examine at a time (the scan's, the execs')
	mu    sync.Mutex // guards procs, files
	procs map[int]*Process
	files map[fileID]*fileState
	seen  map[int]int // pid: scans since its maps were read

	// the reader's own (one goroutine)
	conns  map[connID]*conn
	byFD   map[pidFD]*conn
	owners map[flowKey]connID
}

type pidFD struct {
	pid uint32
	fd  int32
}

type fileID struct{ dev, ino uint64 }

type fileState struct {
	lib, path, version string
	err                error
	none               bool // no TLS program: nothing attached
}

// maxFiles bounds the files remembered (probed, or known to be no TLS
// program).
const maxFiles = 65536

// connID is a TLS connection inside a process: its SSL* or *tls.Conn.
type connID struct {
	pid  uint32
	conn uint64
}

type conn struct {
	id         connID
	fd         int32
	inode      uint64
	key        flowKey
	server     bool // the process is the server
	drop       bool // unresolved or duplicate: its bytes are not used
	info       *reassembly.TLSInfo
	proc       *Process
	last       time.Time
	nextOff    [2]uint32 // next chunk offset expected in the current call
	skip       [2]uint32 // bytes lost before the next data, per direction (0 client)
	checkAfter time.Time
}

// New loads the probes: it fails (wrapping tlsprobe.ErrNotSupported where
// that is why) when the kernel, the architecture or the privileges do not
// allow them. Start begins the work.
func New(cfg Config, log zerolog.Logger) (*Manager, error) {
	cfg = cfg.WithDefaults()
	p, err := tlsprobe.Load(cfg.RingMB << 20)
	if err != nil {
		return nil, err
	}
	if p.BTFErr != nil {
		log.Warn().Err(p.BTFErr).Msg("TLS uprobes: connections' addresses are looked up in /proc (a connection that ends before it is looked up is missed)")
	}
	if p.SyscallErr != nil {
		log.Warn().Err(p.SyscallErr).Msg("TLS uprobes: without the system call raw tracepoint an OpenSSL connection's socket is found only from earlier calls")
	}
	if !p.Multi {
		log.Info().Msg("TLS uprobes: this kernel has no uprobe_multi links (Linux 6.6): each probed function is a perf event, and detaching them at shutdown may take minutes")
	}
	if p.ExecErr != nil {
		log.Warn().Err(p.ExecErr).Msg("TLS uprobes: new programs are found by the scan of /proc only (a Go program that lives less than tls.uprobes.scan_interval is missed)")
	}
	m := &Manager{
		cfg: cfg, log: log, probe: p, self: os.Getpid(),
		items: make(chan *item, 4096), free: make(chan *item, 4096), done: make(chan struct{}),
		procs: make(map[int]*Process), files: make(map[fileID]*fileState), seen: make(map[int]int),
		conns: make(map[connID]*conn), byFD: make(map[pidFD]*conn), owners: make(map[flowKey]connID),
	}
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	m.wall0, m.mono0 = time.Now(), ts.Nano()
	m.src = newSource(m.items, m.free, m.done)
	return m, nil
}

// Source is the capture source of the worker that reads the plaintext.
func (m *Manager) Source() *Source { return m.src }

// Start scans /proc once (attaching what runs now), then keeps scanning
// and reading events until Close.
func (m *Manager) Start() {
	m.scan(true)
	m.wg.Add(2)
	go m.scanLoop()
	if m.probe.ExecErr == nil {
		m.wg.Add(1)
		go m.execLoop()
	}
	ready := make(chan struct{})
	go m.readLoop(ready)
	<-ready
}

// Close detaches the probes and stops; the Source then ends (io.EOF).
func (m *Manager) Close() error {
	select {
	case <-m.done:
		return nil
	default:
	}
	close(m.done)
	m.probe.SetDeadline(time.Now())
	m.probe.SetExecDeadline(time.Now())
	m.wg.Wait()
	n, start := m.probe.Links(), time.Now()
	err := m.probe.Close()
	m.log.Debug().Int("links", n).Bool("uprobe_multi", m.probe.Multi).Dur("took", time.Since(start)).Msg("TLS uprobes detached")
	return err
}

func (m *Manager) scanLoop() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.ScanInterval)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
			m.scan(false)
		}
	}
}

// A program that starts (exec) is examined at once, told by the probes'
// sched_process_exec raw tracepoint, instead of at the next scan: a Go
// program is probed within milliseconds of its start (measured in
// docs/tls.md). A libssl is mapped by the dynamic linker after the exec:
// a process whose libssl file is probed already is covered by it, a file
// never seen is found by the next scan, which remains the fallback for
// anything missed.

func (m *Manager) execLoop() {
	defer m.wg.Done()
	for {
		pid, mono, err := m.probe.ReadExec()
		select {
		case <-m.done:
			return
		default:
		}
		if err != nil {
			if !errors.Is(err, tlsprobe.ErrDeadline) {
				m.log.Error().Err(err).Msg("TLS uprobes: new programs are found by the scan of /proc only")
				return
			}
			continue
		}
		if pid == m.self {
			continue
		}
		m.ctr[cExecs].Add(1)
		if m.examineExec(pid) {
			var ts unix.Timespec
			unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
			m.log.Debug().Int("pid", pid).Dur("after_exec", time.Duration(ts.Nano()-int64(mono))).Msg("TLS uprobes: new program covered")
		}
	}
}

// examineExec examines a process that started a new program: what it
// ran before is forgotten. Only its executable is looked at (a Go
// program): its libraries are not mapped yet. It reports whether the
// process is covered.
func (m *Manager) examineExec(pid int) bool {
	m.mu.Lock()
	delete(m.procs, pid)
	delete(m.seen, pid) // new to the next scan too (its libraries)
	m.mu.Unlock()
	if !*m.cfg.Go {
		return false
	}
	dir := "/proc/" + strconv.Itoa(pid)
	m.exMu.Lock()
	m.cover(pid, dir, "go", "", dir+"/exe")
	m.exMu.Unlock()
	m.mu.Lock()
	_, covered := m.procs[pid]
	m.mu.Unlock()
	return covered
}

// rescanEvery: processes without a TLS library have their maps read again
// every so many scans (a library loaded later with dlopen).
const rescanEvery = 10

// maxProcs bounds the processes listed in the coverage.
const maxProcs = 4096

// scan looks at every process in /proc: new ones (and, now and then, those
// without a TLS library) have their maps and executable examined.
func (m *Manager) scan(first bool) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		m.log.Error().Err(err).Msg("TLS uprobes: can not list processes")
		return
	}
	alive := make(map[int]bool, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == m.self {
			continue
		}
		alive[pid] = true
		m.mu.Lock()
		n, known := m.seen[pid]
		_, covered := m.procs[pid]
		m.seen[pid] = n + 1
		m.mu.Unlock()
		if known && (covered || (n+1)%rescanEvery != 0) {
			continue
		}
		m.examine(pid)
	}
	m.mu.Lock()
	for pid := range m.seen {
		if !alive[pid] {
			delete(m.seen, pid)
			delete(m.procs, pid)
		}
	}
	m.mu.Unlock()
	if first {
		c := m.Coverage()
		m.log.Info().Int("processes", len(c.Processes)).Uint64("files", m.ctr[cLibraries].Load()).Msg("TLS uprobes attached")
	}
}

// examine attaches to the TLS library a process maps, or to its Go
// executable, and lists the process in the coverage.
func (m *Manager) examine(pid int) {
	m.exMu.Lock()
	defer m.exMu.Unlock()
	dir := "/proc/" + strconv.Itoa(pid)
	maps, err := os.ReadFile(dir + "/maps")
	if err != nil {
		return // gone, or a kernel thread
	}
	var libs []mappedLib
	parseMaps(maps, func(l mappedLib) { libs = append(libs, l) })
	for _, l := range libs {
		m.cover(pid, dir, "openssl", l.Path, dir+"/root"+l.Path)
	}
	if len(libs) == 0 && *m.cfg.Go {
		exe, err := os.Readlink(dir + "/exe")
		if err != nil {
			return
		}
		exe = strings.TrimSuffix(exe, " (deleted)")
		m.cover(pid, dir, "go", exe, dir+"/exe")
	}
}

// cover attaches the probes of lib to the file at host (once per file)
// and, when that worked or was tried on a TLS file, lists the process.
// An empty path is the process's executable's (read when needed).
func (m *Manager) cover(pid int, dir, lib, path, host string) {
	// the file is held open while it is examined and probed, and probed
	// through the descriptor: a process that ends meanwhile (a short-lived
	// program examined at its exec) takes no path away
	fh, err := os.Open(host)
	if err != nil {
		return
	}
	defer fh.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(fh.Fd()), &st); err != nil {
		return
	}
	id := fileID{st.Dev, st.Ino}
	m.mu.Lock()
	f := m.files[id]
	m.mu.Unlock()
	if f == nil {
		if path == "" {
			exe, err := os.Readlink(dir + "/exe")
			if err != nil {
				return
			}
			path = strings.TrimSuffix(exe, " (deleted)")
		}
		if f = m.attach(lib, path, host, "/proc/self/fd/"+strconv.Itoa(int(fh.Fd()))); f == nil {
			f = &fileState{none: true}
		}
		m.mu.Lock()
		if len(m.files) < maxFiles || !f.none {
			m.files[id] = f
		}
		m.mu.Unlock()
	}
	if f.none {
		return // not a TLS program
	}
	comm, pod := readComm(pid), ""
	if cg, err := os.ReadFile(dir + "/cgroup"); err == nil {
		pod = podUID(cg)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.procs[pid] // listed already by its events: completed here
	if p == nil {
		if len(m.procs) >= maxProcs {
			return
		}
		p = &Process{PID: pid}
		m.procs[pid] = p
	}
	p.Comm, p.Pod, p.Library, p.Path, p.Version, p.Attached = comm, pod, f.lib, f.path, f.version, f.err == nil
	if f.err != nil {
		p.Error = f.err.Error()
	}
}

// attach probes one file, open at fd (host is its path from here): nil
// when it is no TLS program (a Go program without crypto/tls, any other
// executable).
func (m *Manager) attach(lib, path, host, fd string) *fileState {
	f := &fileState{lib: lib, path: path}
	switch lib {
	case "openssl":
		f.version = libVersion(host)
		f.err = m.probe.AttachOpenSSL(fd)
	case "go":
		g, err := analyseGo(fd)
		if errors.Is(err, errNotGo) || errors.Is(err, errNoTLS) {
			return nil
		}
		if g != nil {
			f.version = g.Version
		}
		if err == nil {
			err = m.probe.AttachGo(fd, g.Funcs)
		}
		f.err = err
	}
	if f.err != nil {
		m.ctr[cAttachErrs].Add(1)
		m.log.Warn().Err(f.err).Str("library", lib).Str("path", path).Msg("TLS uprobes: not attached")
	} else {
		m.ctr[cLibraries].Add(1)
		m.log.Info().Str("library", lib).Str("path", path).Str("version", f.version).Msg("TLS uprobes: attached")
	}
	return f
}

// libVersion is a libssl's version: from the library, else from the
// libcrypto beside it, else its file name.
func libVersion(host string) string {
	for _, p := range []string{host, strings.Replace(host, "libssl", "libcrypto", 1)} {
		if b, err := os.ReadFile(p); err == nil {
			if v := opensslVersion(b); v != "" {
				return v
			}
		}
	}
	return filepath.Base(host)
}

func readComm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

// readerNice is the nice value of the thread reading the probes' events.
const readerNice = -10

// maintenance is how often the reader looks for connections whose socket
// is gone.
const maintenance = time.Second

func (m *Manager) readLoop(ready chan<- struct{}) {
	defer m.wg.Done()
	// A connection's addresses are read from /proc while its process has
	// the socket: the reader runs on a thread of its own, ahead of the
	// sensor's other threads when the machine is busy (before the
	// capabilities are dropped: raising a priority needs CAP_SYS_NICE).
	runtime.LockOSThread()
	if err := unix.Setpriority(unix.PRIO_PROCESS, 0, readerNice); err != nil {
		m.log.Debug().Err(err).Msg("TLS uprobes: reader priority not raised")
	}
	close(ready)
	var ev tlsprobe.Event
	next := time.Now().Add(maintenance)
	for {
		m.probe.SetDeadline(next)
		err := m.probe.Read(&ev)
		select {
		case <-m.done:
			return
		default:
		}
		switch {
		case err == nil:
			m.event(&ev)
		case errors.Is(err, tlsprobe.ErrDeadline):
		default:
			m.log.Error().Err(err).Msg("TLS uprobes: reading events stopped")
			return
		}
		if now := time.Now(); !now.Before(next) {
			m.sweep(now)
			next = now.Add(maintenance)
		}
	}
}

func (m *Manager) wallTime(mono uint64) time.Time {
	return m.wall0.Add(time.Duration(int64(mono) - m.mono0))
}

// event hands one probe event on: a new connection is resolved first.
func (m *Manager) event(ev *tlsprobe.Event) {
	if int(ev.PID) == m.self {
		return // the sensor's own TLS (exporters): never read back
	}
	if ev.Dir == tlsprobe.DirClose {
		if c := m.byFD[pidFD{ev.PID, ev.FD}]; c != nil {
			m.end(c)
		}
		return
	}
	id := connID{ev.PID, ev.Conn}
	c := m.conns[id]
	now := time.Now()
	if c != nil && ev.FD >= 0 && ev.FD != c.fd {
		m.end(c) // the object was freed and reused for another socket
		c = nil
	}
	if c == nil {
		c = m.resolve(ev, now)
	}
	c.last = now
	if ev.Dir == tlsprobe.DirOpen {
		return
	}
	if c.drop {
		m.ctr[cBytesDropped].Add(uint64(len(ev.Data)))
		return
	}
	// which direction: the process's writes go from its side
	fromClient := (ev.Dir == tlsprobe.DirWrite) != c.server
	d := 0
	if !fromClient {
		d = 1
	}
	if ev.Off != c.nextOff[d] && ev.Off != 0 { // chunks of the call lost
		c.skip[d] += ev.Off - c.nextOff[d]
	}
	c.nextOff[d] = ev.Off + uint32(len(ev.Data))
	if c.nextOff[d] >= ev.Len {
		c.nextOff[d] = 0
	} else if int(ev.Off)+len(ev.Data) >= maxCallBytes {
		c.skip[d] += ev.Len - c.nextOff[d] // past what one call sends
		c.nextOff[d] = 0
	}
	it := m.item()
	it.key, it.kind, it.fromClient, it.ts, it.info = c.key, itemData, fromClient, m.wallTime(ev.Time), c.info
	it.skip, c.skip[d] = c.skip[d], 0
	if it.skip > 0 {
		m.ctr[cGaps].Add(1)
	}
	it.data = append(it.data[:0], ev.Data...)
	if !m.send(it) {
		c.skip[d] += uint32(len(ev.Data)) + it.skip
		return
	}
	m.ctr[cBytes].Add(uint64(len(ev.Data)))
	m.mu.Lock()
	c.proc.Bytes += uint64(len(ev.Data))
	m.mu.Unlock()
}

// maxCallBytes is what the probes send of one call (tlsprobe.c MAX_CHUNKS
// x CHUNK).
const maxCallBytes = 64 << 10

func (m *Manager) item() *item {
	select {
	case it := <-m.free:
		return it
	default:
		return &item{}
	}
}

// send queues an item for the worker, false (counted) when its queue is
// full.
func (m *Manager) send(it *item) bool {
	select {
	case m.items <- it:
		return true
	default:
		m.ctr[cQueueDrops].Add(1)
		return false
	}
}

// resolve finds a new connection's addresses: the socket behind its file
// descriptor (/proc/PID/fd), that socket in the process's network
// namespace (/proc/PID/net/tcp, tcp6), and which side listens. A
// connection that can not be resolved, or whose other end is already
// followed, is kept with drop set so that it is looked up once.
func (m *Manager) resolve(ev *tlsprobe.Event, now time.Time) *conn {
	c := &conn{id: connID{ev.PID, ev.Conn}, fd: ev.FD, last: now}
	m.evict()
	m.conns[c.id] = c
	if ev.FD >= 0 {
		k := pidFD{ev.PID, ev.FD}
		if old := m.byFD[k]; old != nil {
			m.end(old) // its close was not seen
		}
		m.byFD[k] = c
	}
	c.proc = m.process(int(ev.PID), ev.Lib, ev.Comm)
	dir := "/proc/" + strconv.Itoa(int(ev.PID))
	ok := false
	if ev.Local.IsValid() && ev.Remote.IsValid() && ev.Remote.Port() != 0 {
		// read from the kernel's socket by the probe (BTF)
		ok = true
		c.server = m.isServer(dir, ev.Local)
		c.key = flowKey{client: ev.Local, server: ev.Remote}
		if c.server {
			c.key = flowKey{client: ev.Remote, server: ev.Local}
		}
	} else if ev.FD >= 0 {
		if link, err := os.Readlink(dir + "/fd/" + strconv.Itoa(int(ev.FD))); err == nil {
			c.inode, ok = socketInode(link)
		}
		if ok {
			ok = m.findSocket(dir, c)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !ok {
		m.log.Debug().Uint32("pid", ev.PID).Int32("fd", ev.FD).Dur("lag", time.Since(m.wallTime(ev.Time))).Msg("TLS uprobes: connection not found in /proc")
		c.drop = true
		c.proc.Unresolved++
		m.ctr[cUnresolved].Add(1)
		return c
	}
	if o, dup := m.owners[c.key]; dup && o != c.id {
		m.log.Debug().Uint32("pid", ev.PID).Int32("fd", ev.FD).Str("client", c.key.client.String()).Msg("TLS uprobes: connection read from its other end")
		c.drop = true
		c.proc.Duplicate++
		m.ctr[cDuplicate].Add(1)
		return c
	}
	m.owners[c.key] = c.id
	m.log.Debug().Uint32("pid", ev.PID).Int32("fd", ev.FD).Dur("lag", time.Since(m.wallTime(ev.Time))).Str("client", c.key.client.String()).Str("server", c.key.server.String()).Msg("TLS uprobes: connection")
	c.proc.Connections++
	m.ctr[cConns].Add(1)
	c.info = &reassembly.TLSInfo{Library: ev.Lib.String(), PID: ev.PID, Process: c.proc.Comm}
	it := m.item()
	it.key, it.kind, it.ts, it.info, it.data = c.key, itemOpen, m.wallTime(ev.Time), c.info, it.data[:0]
	m.send(it)
	return c
}

// findSocket looks the connection's socket up in the process's network
// namespace.
func (m *Manager) findSocket(dir string, c *conn) bool {
	var found *tcpEntry
	var e tcpEntry
	listens := map[uint16]bool{}
	for _, f := range []string{"/net/tcp", "/net/tcp6"} {
		b, err := os.ReadFile(dir + f)
		if err != nil {
			continue
		}
		parseNetTCP(b, func(x *tcpEntry) bool {
			if x.State == tcpListen {
				listens[x.Local.Port()] = true
			}
			if x.Inode == c.inode && found == nil {
				e, found = *x, &e
			}
			return true
		})
	}
	if found == nil || !e.Remote.IsValid() || e.Remote.Port() == 0 {
		return false
	}
	c.server = listens[e.Local.Port()]
	if c.server {
		c.key = flowKey{client: e.Remote, server: e.Local}
	} else {
		c.key = flowKey{client: e.Local, server: e.Remote}
	}
	return true
}

// isServer says whether local is the listening end of a connection: a
// socket of the process's network namespace listens on its port; when the
// process is gone already, whether the port is outside the ephemeral range.
func (m *Manager) isServer(dir string, local netip.AddrPort) bool {
	found, server := false, false
	for _, f := range []string{"/net/tcp", "/net/tcp6"} {
		b, err := os.ReadFile(dir + f)
		if err != nil {
			continue
		}
		found = true
		parseNetTCP(b, func(x *tcpEntry) bool {
			if x.State == tcpListen && x.Local.Port() == local.Port() {
				server = true
				return false
			}
			return true
		})
		if server {
			return true
		}
	}
	if found {
		return false
	}
	lo, hi := ephemeralPorts()
	return local.Port() < lo || local.Port() > hi
}

// ephemeralPorts is the range of ports connecting sockets get
// (net.ipv4.ip_local_port_range).
func ephemeralPorts() (lo, hi uint16) {
	lo, hi = 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			a, err1 := strconv.ParseUint(f[0], 10, 16)
			z, err2 := strconv.ParseUint(f[1], 10, 16)
			if err1 == nil && err2 == nil {
				lo, hi = uint16(a), uint16(z)
			}
		}
	}
	return lo, hi
}

// process is the coverage entry of a pid that sent events (listed by the
// scan, or started since and covered by a file already probed).
func (m *Manager) process(pid int, lib tlsprobe.Library, comm []byte) *Process {
	m.mu.Lock()
	p := m.procs[pid]
	m.mu.Unlock()
	if p != nil {
		return p
	}
	p = &Process{PID: pid, Library: lib.String(), Attached: true, Comm: readComm(pid)}
	if p.Comm == "" { // gone already: the thread's name, from the probe
		p.Comm = string(comm)
	}
	if cg, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup"); err == nil {
		p.Pod = podUID(cg)
	}
	m.mu.Lock()
	if q := m.procs[pid]; q != nil {
		p = q
	} else if len(m.procs) < maxProcs {
		m.procs[pid] = p
	}
	m.mu.Unlock()
	return p
}

// end ends a connection: the worker gets its FINs.
func (m *Manager) end(c *conn) {
	if m.conns[c.id] == c {
		delete(m.conns, c.id)
	}
	if k := (pidFD{c.id.pid, c.fd}); m.byFD[k] == c {
		delete(m.byFD, k)
	}
	m.ctr[cClosed].Add(1)
	m.log.Debug().Uint32("pid", c.id.pid).Int32("fd", c.fd).Bool("dropped", c.drop).Str("client", c.key.client.String()).Msg("TLS uprobes: connection ended")
	if c.drop {
		return
	}
	m.mu.Lock()
	if m.owners[c.key] == c.id {
		delete(m.owners, c.key)
	}
	m.mu.Unlock()
	it := m.item()
	it.key, it.kind, it.ts, it.info, it.data = c.key, itemClose, time.Now(), c.info, it.data[:0]
	m.send(it)
}

// evict ends the longest idle connection when the table is full.
func (m *Manager) evict() {
	if len(m.conns) < m.cfg.MaxConnections {
		return
	}
	var old *conn
	for _, c := range m.conns {
		if old == nil || c.last.Before(old.last) {
			old = c
		}
	}
	m.ctr[cEvicted].Add(1)
	m.end(old)
}

// sweep ends the connections idle for a second whose socket is gone
// (closed, or the process ended).
func (m *Manager) sweep(now time.Time) {
	for _, c := range m.conns {
		if now.Sub(c.last) < maintenance || now.Before(c.checkAfter) {
			continue
		}
		c.checkAfter = now.Add(maintenance)
		link, err := os.Readlink("/proc/" + strconv.Itoa(int(c.id.pid)) + "/fd/" + strconv.Itoa(int(c.fd)))
		if ino, ok := socketInode(link); err == nil && ok && (ino == c.inode || c.inode == 0) {
			continue
		}
		m.end(c)
	}
}

// Coverage is a snapshot of what the probes cover (safe from any
// goroutine).
func (m *Manager) Coverage() *Coverage {
	c := &Coverage{Enabled: true, Counters: m.Counters()}
	m.mu.Lock()
	for _, p := range m.procs {
		c.Processes = append(c.Processes, *p)
	}
	m.mu.Unlock()
	sort.Slice(c.Processes, func(i, j int) bool { return c.Processes[i].PID < c.Processes[j].PID })
	return c
}

// Counters are the manager's and the probes' counters (the probes' are
// prefixed probe_).
func (m *Manager) Counters() []Counter {
	var out []Counter
	for i := range m.ctr {
		out = append(out, Counter{counterNames[i], m.ctr[i].Load()})
	}
	if pc, err := m.probe.Counters(); err == nil {
		for i, n := range pc {
			out = append(out, Counter{"probe_" + tlsprobe.CounterNames[i], n})
		}
	}
	return out
}

// ErrUnavailable says why the probes could not run (New's error, for a
// clear message).
func ErrUnavailable(err error) string {
	switch {
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EPERM):
		return fmt.Sprintf("TLS uprobes need root (CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE, or CAP_SYS_ADMIN): %v", err)
	case errors.Is(err, tlsprobe.ErrNotSupported):
		return fmt.Sprintf("TLS uprobes are not supported by this kernel: %v", err)
	}
	return fmt.Sprintf("TLS uprobes unavailable: %v", err)
}
