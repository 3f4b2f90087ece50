package tlsdecrypt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Which secrets a key log entry holds (Secrets.Has).
const (
	HasMaster    uint8 = 1 << iota // CLIENT_RANDOM: the TLS 1.2 master secret
	HasClientHS                    // CLIENT_HANDSHAKE_TRAFFIC_SECRET
	HasServerHS                    // SERVER_HANDSHAKE_TRAFFIC_SECRET
	HasClientApp                   // CLIENT_TRAFFIC_SECRET_0
	HasServerApp                   // SERVER_TRAFFIC_SECRET_0
)

// secret indexes in Secrets.s, in the order of the Has bits.
const (
	secMaster = iota
	secClientHS
	secServerHS
	secClientApp
	secServerApp
	numSecrets
)

var labels = [numSecrets]string{
	"CLIENT_RANDOM",
	"CLIENT_HANDSHAKE_TRAFFIC_SECRET",
	"SERVER_HANDSHAKE_TRAFFIC_SECRET",
	"CLIENT_TRAFFIC_SECRET_0",
	"SERVER_TRAFFIC_SECRET_0",
}

// maxSecret is the longest secret kept (SHA-384's output; the master
// secret is 48 bytes too).
const maxSecret = 48

// Secrets are the key log's secrets of one session (one client random).
// They print as "[redacted]" so that a stray log line can not leak them.
type Secrets struct {
	Has uint8 // which secrets are present (HasMaster, ...)
	n   [numSecrets]uint8
	s   [numSecrets][maxSecret]byte
}

func (s *Secrets) get(i int) []byte { return s.s[i][:s.n[i]] }

// String implements fmt.Stringer without the secrets.
func (Secrets) String() string { return "[redacted]" }

// GoString implements fmt.GoStringer without the secrets.
func (Secrets) GoString() string { return "tlsdecrypt.Secrets{[redacted]}" }

// Format keeps every fmt verb from printing the secrets.
func (Secrets) Format(f fmt.State, _ rune) { io.WriteString(f, "[redacted]") }

// KeyLogOptions bound a KeyLog.
type KeyLogOptions struct {
	// MaxEntries bounds the sessions (client randoms) kept; the oldest go
	// first. Default 100000 (about 30 MB).
	MaxEntries int
	// RefreshEvery is the least wall time between two re-reads of the
	// file when a secret is missing. Default 100ms.
	RefreshEvery time.Duration
}

// KeyLog holds the secrets of an NSS key log by client random. It is safe
// for concurrent use.
type KeyLog struct {
	path  string
	opt   KeyLogOptions
	mu    sync.RWMutex
	m     map[[32]byte]*Secrets
	fifo  [][32]byte // insertion order, for eviction (ring from head)
	head  int
	rmu   sync.Mutex // the file reader's state
	f     *os.File   // kept open: a sensor that drops its privileges can still read it
	off   int64
	mtime time.Time // of the file when it was read to its end
	part  []byte    // a line not ended yet
	buf   []byte
	last  atomic.Int64 // wall clock (UnixNano) of the last refresh
	stats struct {
		lines, bad, evicted, reopened, refreshes, errors atomic.Uint64
	}
}

// KeyLogStats count what a KeyLog read.
type KeyLogStats struct {
	Entries   uint64 // sessions held now
	Lines     uint64 // secret lines read
	BadLines  uint64 // lines that are neither a known secret nor a comment
	Evicted   uint64 // sessions forgotten for MaxEntries
	Reopened  uint64 // times the file shrank or was replaced and was read again from its start
	Refreshes uint64 // re-reads that found new bytes
	Errors    uint64 // re-reads that failed (the file vanished, ...)
}

// NewKeyLog returns an empty key log, filled with Write (tests, and
// programs that hold their secrets in memory).
func NewKeyLog(opt KeyLogOptions) *KeyLog {
	if opt.MaxEntries <= 0 {
		opt.MaxEntries = 100000
	}
	if opt.RefreshEvery <= 0 {
		opt.RefreshEvery = 100 * time.Millisecond
	}
	return &KeyLog{opt: opt, m: make(map[[32]byte]*Secrets)}
}

// OpenKeyLog reads the key log at path; later lookups of missing secrets
// re-read it as it grows (or from its start when it is replaced by
// another file, or truncated). The file may be empty, it must be readable;
// it is kept open until Close.
func OpenKeyLog(path string, opt KeyLogOptions) (*KeyLog, error) {
	k := NewKeyLog(opt)
	k.path = path
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("TLS key log: %w", err)
	}
	k.f = f
	if err := k.Refresh(); err != nil {
		f.Close()
		return nil, err
	}
	return k, nil
}

// Close closes the key log's file; the secrets read stay.
func (k *KeyLog) Close() error {
	k.rmu.Lock()
	defer k.rmu.Unlock()
	if k.f == nil {
		return nil
	}
	err := k.f.Close()
	k.f, k.path = nil, ""
	return err
}

// Path is the file the key log is read from ("" for an in-memory one).
func (k *KeyLog) Path() string { return k.path }

// Write parses key log lines (an io.Writer, as Go's tls.Config.KeyLogWriter
// wants). A line may be split across calls.
func (k *KeyLog) Write(p []byte) (int, error) {
	k.rmu.Lock()
	k.feed(p)
	k.rmu.Unlock()
	return len(p), nil
}

// maxLine bounds a key log line (the longest valid one is under 250 bytes).
const maxLine = 1024

// feed parses bytes appended to the log (rmu held).
func (k *KeyLog) feed(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(k.part)+len(p) > maxLine {
				k.stats.bad.Add(1)
				k.part = append(k.part[:0], 0) // the rest of this line is junk
				return
			}
			k.part = append(k.part, p...)
			return
		}
		line := p[:i]
		if len(k.part) > 0 {
			if len(k.part)+i <= maxLine && k.part[0] != 0 {
				k.part = append(k.part, line...)
				k.line(k.part)
			} else {
				k.stats.bad.Add(1)
			}
			clear(k.part)
			k.part = k.part[:0]
		} else {
			k.line(line)
		}
		p = p[i+1:]
	}
}

// line parses one line: "LABEL <client random hex> <secret hex>".
func (k *KeyLog) line(b []byte) {
	b = bytes.TrimRight(b, "\r")
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] == '#' {
		return
	}
	sp := bytes.IndexByte(b, ' ')
	if sp < 0 {
		k.stats.bad.Add(1)
		return
	}
	label, rest := b[:sp], b[sp+1:]
	which := -1
	for i, l := range labels {
		if string(label) == l {
			which = i
			break
		}
	}
	if which < 0 {
		// other secrets (exporter, early traffic, RSA pre-master) are
		// valid lines this package has no use for
		if knownOther(label) {
			return
		}
		k.stats.bad.Add(1)
		return
	}
	sp = bytes.IndexByte(rest, ' ')
	if sp != 64 || len(rest)-sp-1 > 2*maxSecret || (len(rest)-sp-1)%2 != 0 {
		k.stats.bad.Add(1)
		return
	}
	var cr [32]byte
	var sec [maxSecret]byte
	if _, err := hex.Decode(cr[:], rest[:64]); err != nil {
		k.stats.bad.Add(1)
		return
	}
	n, err := hex.Decode(sec[:], rest[65:])
	if err != nil || n < 16 || which == secMaster && n != 48 {
		k.stats.bad.Add(1)
		clear(sec[:])
		return
	}
	k.stats.lines.Add(1)
	k.mu.Lock()
	e := k.m[cr]
	if e == nil {
		e = k.add(cr)
	}
	e.Has |= 1 << which
	e.n[which] = uint8(n)
	copy(e.s[which][:], sec[:n])
	k.mu.Unlock()
	clear(sec[:])
}

// Resumption: a resumed TLS 1.2 session (abbreviated handshake) reuses
// the master secret of the session it resumes, and clients need not log
// it again (Go's does not). Conns that found a TLS 1.2 master secret
// remember it under the session's id and ticket, as Wireshark does, so
// that the sessions resuming it are decrypted too. The keys are hashes,
// in the same table (and bound) as the client randoms.

// resumeKey is the table key of a session id (kind 's') or ticket ('t').
func resumeKey(kind byte, b []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{kind, 'r', 'e', 's'})
	h.Write(b)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// remember keeps master under key.
func (k *KeyLog) remember(key [32]byte, master []byte) {
	if len(master) != 48 {
		return
	}
	k.mu.Lock()
	e := k.m[key]
	if e == nil {
		e = k.add(key)
	}
	e.Has |= HasMaster
	e.n[secMaster] = 48
	copy(e.s[secMaster][:], master)
	k.mu.Unlock()
}

// add makes an entry for key, evicting the oldest when full (mu held).
func (k *KeyLog) add(key [32]byte) *Secrets {
	if len(k.m) >= k.opt.MaxEntries {
		k.evict()
	}
	e := &Secrets{}
	k.m[key] = e
	if len(k.fifo) < k.opt.MaxEntries {
		k.fifo = append(k.fifo, key)
	} else {
		k.fifo[k.head] = key
		k.head = (k.head + 1) % len(k.fifo)
	}
	return e
}

// evict forgets the oldest session (mu held).
func (k *KeyLog) evict() {
	if len(k.fifo) == 0 {
		return
	}
	old := k.fifo[k.head]
	if e := k.m[old]; e != nil {
		*e = Secrets{}
		delete(k.m, old)
		k.stats.evicted.Add(1)
	}
}

var otherLabels = []string{"CLIENT_EARLY_TRAFFIC_SECRET", "EARLY_EXPORTER_SECRET", "EXPORTER_SECRET", "RSA"}

// knownOther says a label is a secret of the format this package does not
// need: exporter and early secrets, RSA pre-master secrets, and the
// traffic secrets after key updates (CLIENT_TRAFFIC_SECRET_N, as OpenSSL
// writes them; Conn derives them).
func knownOther(label []byte) bool {
	for _, l := range otherLabels {
		if string(label) == l {
			return true
		}
	}
	return bytes.HasPrefix(label, []byte("CLIENT_TRAFFIC_SECRET_")) || bytes.HasPrefix(label, []byte("SERVER_TRAFFIC_SECRET_"))
}

// Lookup copies the secrets of the session with client random cr into s
// and reports whether they include every secret of want. When they do not
// and the key log is a file, it is re-read first if it was not for
// RefreshEvery.
func (k *KeyLog) Lookup(cr *[32]byte, want uint8, s *Secrets) bool {
	if k.get(cr, want, s) {
		return true
	}
	if k.path == "" {
		return false
	}
	now := time.Now().UnixNano()
	if now-k.last.Load() < int64(k.opt.RefreshEvery) || !k.rmu.TryLock() {
		return false // read lately, or being read by another worker now
	}
	k.refresh()
	k.rmu.Unlock()
	return k.get(cr, want, s)
}

func (k *KeyLog) get(cr *[32]byte, want uint8, s *Secrets) bool {
	k.mu.RLock()
	e := k.m[*cr]
	if e != nil {
		*s = *e
	}
	k.mu.RUnlock()
	if e == nil {
		*s = Secrets{}
		return false
	}
	return s.Has&want == want
}

// Refresh reads what was appended to the file since the last read (all of
// it when the file was replaced or shrank).
func (k *KeyLog) Refresh() error {
	k.rmu.Lock()
	defer k.rmu.Unlock()
	return k.refresh()
}

// refresh is Refresh with rmu held.
func (k *KeyLog) refresh() error {
	if k.f == nil {
		return nil
	}
	k.last.Store(time.Now().UnixNano())
	fi, err := k.f.Stat()
	if err != nil {
		k.stats.errors.Add(1)
		return fmt.Errorf("TLS key log: %w", err)
	}
	if pfi, err := os.Stat(k.path); err == nil && !os.SameFile(pfi, fi) {
		// replaced (rotated, or written anew by rename): read the new file
		f, err := os.Open(k.path)
		if err != nil {
			k.stats.errors.Add(1)
			return fmt.Errorf("TLS key log: %w", err)
		}
		if fi, err = f.Stat(); err != nil {
			f.Close()
			k.stats.errors.Add(1)
			return fmt.Errorf("TLS key log: %w", err)
		}
		k.f.Close()
		k.f, k.off, k.part = f, 0, k.part[:0]
		k.stats.reopened.Add(1)
	}
	if fi.Size() < k.off || fi.Size() == k.off && !k.mtime.IsZero() && !fi.ModTime().Equal(k.mtime) {
		// truncated (or rewritten to the same size): read it again
		k.off, k.part = 0, k.part[:0]
		k.stats.reopened.Add(1)
	}
	if fi.Size() == k.off {
		return nil
	}
	if k.buf == nil {
		k.buf = make([]byte, 64<<10)
	}
	k.stats.refreshes.Add(1)
	for {
		n, err := k.f.ReadAt(k.buf, k.off)
		k.feed(k.buf[:n])
		clear(k.buf[:n])
		k.off += int64(n)
		if errors.Is(err, io.EOF) || n == 0 {
			k.mtime = time.Time{}
			if k.off == fi.Size() {
				k.mtime = fi.ModTime()
			}
			return nil
		}
		if err != nil {
			k.stats.errors.Add(1)
			return fmt.Errorf("TLS key log: %w", err)
		}
	}
}

// Stats returns the key log's counters.
func (k *KeyLog) Stats() KeyLogStats {
	k.mu.RLock()
	n := len(k.m)
	k.mu.RUnlock()
	return KeyLogStats{
		Entries:   uint64(n),
		Lines:     k.stats.lines.Load(),
		BadLines:  k.stats.bad.Load(),
		Evicted:   k.stats.evicted.Load(),
		Reopened:  k.stats.reopened.Load(),
		Refreshes: k.stats.refreshes.Load(),
		Errors:    k.stats.errors.Load(),
	}
}
