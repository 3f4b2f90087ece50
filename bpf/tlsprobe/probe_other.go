//go:build !linux || !amd64

package tlsprobe

import (
	"fmt"
	"runtime"
	"time"
)

// Probe is not available here: Load returns ErrNotSupported.
type Probe struct {
	BTFErr, SyscallErr, ExecErr error
	Multi                       bool
}

// Load reports that the probes need Linux on amd64.
func Load(int) (*Probe, error) {
	return nil, fmt.Errorf("TLS uprobes need Linux on amd64, not %s/%s: %w", runtime.GOOS, runtime.GOARCH, ErrNotSupported)
}

func (p *Probe) AttachOpenSSL(string) error    { return ErrNotSupported }
func (p *Probe) AttachGo(string, GoFunc) error { return ErrNotSupported }
func (p *Probe) Read(*Event) error             { return ErrNotSupported }
func (p *Probe) ReadExec() (int, error)        { return 0, ErrNotSupported }
func (p *Probe) SetDeadline(time.Time)         {}
func (p *Probe) SetExecDeadline(time.Time)     {}
func (p *Probe) Counters() ([NumCounters]uint64, error) {
	return [NumCounters]uint64{}, ErrNotSupported
}
func (p *Probe) Close() error { return nil }

// Links is the number of probes attached: none.
func (p *Probe) Links() int { return 0 }

// ErrDeadline is what Read returns at its deadline.
var ErrDeadline = ErrNotSupported
