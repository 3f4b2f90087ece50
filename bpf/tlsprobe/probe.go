package tlsprobe

import (
	"errors"
	"net/netip"

	"github.com/cilium/ebpf"
)

// ErrNotSupported wraps kernels, architectures and privileges that do not
// allow the probes.
var ErrNotSupported = ebpf.ErrNotSupported

// Dir says which way an event's bytes went.
type Dir uint8

const (
	DirRead  Dir = 0 // the process received them from its peer
	DirWrite Dir = 1 // the process sent them
	// DirClose: no bytes; the process closed the socket FD, which a TLS
	// call used (its connection ended; the number may be reused at once)
	DirClose Dir = 2
	// DirOpen: no bytes; a handshake completed on the socket FD (OpenSSL):
	// its addresses can be looked up before the first byte moves
	DirOpen Dir = 3
)

// Library is the TLS library an event came from.
type Library uint8

const (
	LibOpenSSL Library = 1 // OpenSSL or BoringSSL (SSL_read / SSL_write)
	LibGo      Library = 2 // Go's crypto/tls
)

func (l Library) String() string {
	switch l {
	case LibOpenSSL:
		return "openssl"
	case LibGo:
		return "go"
	}
	return "unknown"
}

// Event is a piece of plaintext a process moved through its TLS library:
// a call moved Len bytes, of which Data are those from Off (calls of more
// than 16 KiB come as several events; past 64 KiB the rest is not sent and
// is counted).
type Event struct {
	Time uint64 // CLOCK_MONOTONIC nanoseconds
	Conn uint64 // the connection object in the process (SSL*, *tls.Conn)
	PID  uint32
	TID  uint32
	FD   int32 // the socket; -1 when not found
	Len  uint32
	Off  uint32
	Dir  Dir
	Lib  Library
	// Local and Remote are the socket's addresses (the process's end
	// first), read by the probe from the kernel's socket on the first
	// event of a file descriptor and on DirOpen; invalid otherwise, or
	// without the kernel's BTF (Probe.BTFErr).
	Local, Remote netip.AddrPort
	Comm          []byte // the thread's command name; valid until the next Read
	Data          []byte // valid until the next Read
}

// The probes' counters (Counters).
const (
	CounterCalls     = iota // calls that moved bytes
	CounterEvents           // events sent
	CounterBytes            // bytes sent
	CounterLost             // events the full ring buffer refused
	CounterTruncated        // bytes of calls beyond 64 KiB, not sent
	CounterReadErrs         // user memory that could not be read
	CounterNoFD             // calls whose socket was not found
	CounterExecLost         // new programs (exec) not told: the execs ring buffer was full
	NumCounters
)

// CounterNames name the counters.
var CounterNames = [NumCounters]string{"calls", "events", "bytes", "lost", "truncated_bytes", "read_errors", "no_fd", "exec_lost"}

// GoFunc is where to probe a Go binary's crypto/tls: file offsets of the
// entries of (*Conn).Read and (*Conn).Write and of the RET instructions of
// (*Conn).Read.
type GoFunc struct {
	Read, Write uint64
	ReadRets    []uint64
}

// ErrNoSymbol says the file has no SSL_read or SSL_write.
var ErrNoSymbol = errors.New("no SSL_read/SSL_write symbol")
