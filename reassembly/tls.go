package reassembly

import (
	"time"

	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/reassembly/tlsdecrypt"
	"github.com/apitap/apitap/reassembly/tlshello"
)

// TLS decryption with a key log: a connection whose ClientHello was read
// (worker.go, stream.tlsData) gets a tlsdecrypt.Conn when the worker has a
// key log; from then on both directions' bytes go to it, and the plaintext
// it hands back goes to the connection's HTTP parser.

// Source says where a transaction's bytes were read in clear.
type Source uint8

const (
	SourceWire      Source = iota // in clear on the wire
	SourceTLSKeylog               // TLS on the wire, decrypted with a key log's secrets
	SourceUprobe                  // read inside the process from its TLS library (eBPF uprobes)
)

// SourceNames are the sources' names, as events write them.
var SourceNames = [...]string{"wire", "tls_keylog", "uprobe"}

func (s Source) String() string {
	if int(s) < len(SourceNames) {
		return SourceNames[s]
	}
	return "unknown"
}

// TLSInfo describes the TLS session a transaction was read from (nil for
// clear text on the wire). Its strings may be kept.
type TLSInfo struct {
	Version uint16 // negotiated version (tlsdecrypt.VersionTLS12, VersionTLS13); 0 when unknown
	Cipher  string // cipher suite (IANA name), "" when unknown
	ALPN    string // application protocol the server selected
	SNI     string // server name the client asked for
	// For SourceUprobe: the library read and the process that used it.
	Library string // "openssl", "go"
	PID     uint32
	Process string // the process's command name
}

// tlsWorker is a worker's decryption state.
type tlsWorker struct {
	env     tlsdecrypt.Env
	free    []*tlsdecrypt.Conn
	waiting []*stream // connections holding records until their secrets come
	closing bool      // the worker is closing: nothing waits any more
	// plain, when set, says the worker's input is plaintext read inside
	// processes from their TLS library (SetPlainSource)
	plain func(f *Flow) *TLSInfo
}

// SetPlainSource marks the worker's input as plaintext read inside the
// processes from their TLS library (sensor/uprobe): every transaction gets
// SourceUprobe and the TLSInfo info returns for its connection (nil when
// it knows none). info is called on the worker's goroutine.
func (w *Worker) SetPlainSource(info func(f *Flow) *TLSInfo) {
	w.tlsd.plain = info
}

// SetKeyLog turns on decryption of the TLS connections whose ClientHello
// is seen, with the secrets of k (shared by every worker). Call it before
// the first packet.
func (w *Worker) SetKeyLog(k *tlsdecrypt.KeyLog, l tlsdecrypt.Limits) {
	w.tlsd.env = tlsdecrypt.Env{Keys: k, Limits: l.WithDefaults(), Stats: &w.Stats.TLS}
}

// tlsStart starts decrypting a connection whose hello was just read: the
// bytes collected so far (the hello and what followed it) and rest, bytes
// of the same delivery beyond them, are fed to the decryptor.
func (s *stream) tlsStart(h *tlshello.Hello, rest []byte, last time.Time) {
	w := s.w
	if w.tlsd.env.Keys == nil {
		return
	}
	if n := len(w.tlsd.free); n > 0 {
		s.tlsc = w.tlsd.free[n-1]
		w.tlsd.free = w.tlsd.free[:n-1]
		s.tlsc.Reset(&w.tlsd.env, (*tlsOut)(s))
	} else {
		s.tlsc = tlsdecrypt.NewConn(&w.tlsd.env, (*tlsOut)(s))
	}
	s.tlsInfo = TLSInfo{SNI: h.SNI}
	s.conn.SetClient(s.tlsDir)
	s.tlsc.Data(tlsdecrypt.Client, s.hello, s.helloAt, last)
	if len(rest) > 0 {
		s.tlsc.Data(tlsdecrypt.Client, rest, last, last)
	}
}

// tlsSide is the decryptor's name for direction d.
func (s *stream) tlsSide(d http1.Dir) tlsdecrypt.Side {
	if d == s.tlsDir {
		return tlsdecrypt.Client
	}
	return tlsdecrypt.Server
}

// tlsFeed hands bytes of direction d of a TLS connection to its decryptor.
func (s *stream) tlsFeed(d http1.Dir, data []byte, first, last time.Time) {
	c := s.tlsc
	waiting := c.Waiting()
	c.Data(s.tlsSide(d), data, first, last)
	if !waiting && c.Waiting() {
		s.w.tlsd.waiting = append(s.w.tlsd.waiting, s)
	}
}

// tlsTick lets the connections waiting for secrets look again (now is
// capture time); those that ended meanwhile are closed once their records
// are decrypted or given up.
func (w *Worker) tlsTick(now time.Time) {
	keep := w.tlsd.waiting[:0]
	for _, s := range w.tlsd.waiting {
		if s.tlsc == nil || !s.tlsc.Waiting() {
			continue // done, or the stream was recycled
		}
		s.tlsc.Tick(now)
		if s.tlsc.Waiting() {
			keep = append(keep, s)
			continue
		}
		s.tlsEnd()
	}
	clear(w.tlsd.waiting[len(keep):])
	w.tlsd.waiting = keep
}

// tlsLinger keeps a connection that ends while its records wait for their
// secrets open, so that secrets written a little later (within KeyWait)
// still decrypt it: it reports whether the close was put off.
func (s *stream) tlsLinger(ts time.Time) bool {
	if s.tlsc == nil {
		return false
	}
	if !s.tlsc.Waiting() || s.w.tlsd.closing {
		s.tlsc.Close() // held records that can be decrypted now are
		return false
	}
	if !s.tlsClosing {
		s.tlsClosing, s.tlsCloseAt = true, ts
	}
	return true
}

// tlsEnd finishes a connection whose close was put off.
func (s *stream) tlsEnd() {
	if !s.tlsClosing {
		return
	}
	s.tlsClosing = false
	s.close(s.tlsCloseAt)
	if s.tlsGone {
		s.tlsGone = false
		s.recycle()
	}
}

// tlsFinish ends, at the worker's close, the connections still waiting.
func (w *Worker) tlsFinish() {
	for _, s := range w.tlsd.waiting {
		if s.tlsc != nil && s.tlsc.Waiting() {
			s.tlsc.Close()
			s.tlsEnd()
		}
	}
	clear(w.tlsd.waiting)
	w.tlsd.waiting = w.tlsd.waiting[:0]
}

// tlsRelease ends a connection's decryption and recycles the decryptor.
func (s *stream) tlsRelease() {
	if s.tlsc == nil {
		return
	}
	s.tlsc.Close()
	if len(s.w.tlsd.free) < maxFree {
		s.w.tlsd.free = append(s.w.tlsd.free, s.tlsc)
	}
	s.tlsc = nil
}

// tlsTx marks a transaction read from a decrypted connection.
func (s *stream) tlsTx(tx *Transaction) {
	tx.Source, tx.TLS = SourceWire, nil
	if s.w.tlsd.plain != nil {
		tx.Source, tx.TLS = SourceUprobe, s.w.tlsd.plain(&tx.Flow)
		return
	}
	if s.tlsc == nil {
		return
	}
	i := &s.tlsInfo
	i.Version, i.Cipher, i.ALPN = s.tlsc.Version(), s.tlsc.Suite(), s.tlsc.ALPN()
	tx.Source, tx.TLS = SourceTLSKeylog, i
}

// tlsOut is a stream seen as the decryptor's Output: plaintext goes to
// the connection's HTTP parser.
type tlsOut stream

func (o *tlsOut) dir(sd tlsdecrypt.Side) http1.Dir {
	if sd == tlsdecrypt.Client {
		return o.tlsDir
	}
	return 1 - o.tlsDir
}

func (o *tlsOut) Plain(sd tlsdecrypt.Side, b []byte, first, last time.Time) {
	s := (*stream)(o)
	if !s.closed && !s.done() {
		s.data(o.dir(sd), b, first, last)
	}
}

func (o *tlsOut) Gap(sd tlsdecrypt.Side, ts time.Time) {
	if s := (*stream)(o); !s.closed {
		s.gap(o.dir(sd), -1, ts)
	}
}

func (o *tlsOut) CloseDir(sd tlsdecrypt.Side, ts time.Time) {
	if s := (*stream)(o); !s.closed {
		s.closeDir(o.dir(sd), ts)
	}
}
