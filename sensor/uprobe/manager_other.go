//go:build !linux || !amd64

package uprobe

import (
	"fmt"
	"runtime"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/bpf/tlsprobe"
)

// Manager runs the TLS probes (Linux on amd64 only).
type Manager struct{}

// New reports that the probes need Linux on amd64.
func New(Config, zerolog.Logger) (*Manager, error) {
	return nil, fmt.Errorf("TLS uprobes need Linux on amd64, not %s/%s: %w", runtime.GOOS, runtime.GOARCH, tlsprobe.ErrNotSupported)
}

func (m *Manager) Source() *Source     { return nil }
func (m *Manager) Start()              {}
func (m *Manager) Close() error        { return nil }
func (m *Manager) Coverage() *Coverage { return &Coverage{} }
func (m *Manager) Counters() []Counter { return nil }

// ErrUnavailable says why the probes could not run.
func ErrUnavailable(err error) string { return fmt.Sprintf("TLS uprobes unavailable: %v", err) }
