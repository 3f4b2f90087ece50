package uprobe

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/apitap/apitap/reassembly"
)

// Config is the tls.uprobes section (docs/tls.md).
type Config struct {
	// Enabled turns the probes on (apitap run --tls-uprobes).
	Enabled bool `yaml:"enabled"`
	// ScanInterval is how often /proc is scanned for new processes and
	// the TLS libraries they map. Default 2s.
	ScanInterval time.Duration `yaml:"scan_interval"`
	// RingMB is the size of the ring buffer the probes write into (a power
	// of two). Default 8.
	RingMB int `yaml:"ring_mb"`
	// MaxConnections bounds the connections followed at once; past it the
	// longest idle one is ended. Default 65536.
	MaxConnections int `yaml:"max_connections"`
	// Go probes Go programs' crypto/tls too. Default true.
	Go *bool `yaml:"go"`
}

// WithDefaults fills the zero fields.
func (c Config) WithDefaults() Config {
	if c.ScanInterval == 0 {
		c.ScanInterval = 2 * time.Second
	}
	if c.RingMB == 0 {
		c.RingMB = 8
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = 65536
	}
	if c.Go == nil {
		t := true
		c.Go = &t
	}
	return c
}

// Validate checks the section.
func (c Config) Validate() error {
	switch {
	case c.ScanInterval < 0:
		return fmt.Errorf("tls.uprobes.scan_interval must be positive, got %s", c.ScanInterval)
	case c.RingMB < 0 || c.RingMB > 1024 || c.RingMB&(c.RingMB-1) != 0:
		return fmt.Errorf("tls.uprobes.ring_mb must be a power of two up to 1024, got %d", c.RingMB)
	case c.MaxConnections < 0:
		return fmt.Errorf("tls.uprobes.max_connections must be positive, got %d", c.MaxConnections)
	}
	return nil
}

// Process is what the probes cover of one process.
type Process struct {
	PID     int    `json:"pid"`
	Comm    string `json:"process"`
	Pod     string `json:"pod_uid,omitempty"` // Kubernetes pod UID from its cgroup
	Library string `json:"library"`           // "openssl", "go"
	Path    string `json:"path"`              // the library or executable probed, as the process sees it
	Version string `json:"version,omitempty"` // "OpenSSL 3.0.19", "go1.26.8"
	// Attached says the probes are on the file; Error says why not.
	Attached bool   `json:"attached"`
	Error    string `json:"error,omitempty"`
	// Connections and Bytes are what was read from the process and handed
	// to reassembly; Unresolved counts the connections whose socket could
	// not be found in /proc in time, Duplicate those read from the other
	// end (also traced) instead.
	Connections uint64 `json:"connections"`
	Bytes       uint64 `json:"bytes"`
	Unresolved  uint64 `json:"unresolved_connections,omitempty"`
	Duplicate   uint64 `json:"duplicate_connections,omitempty"`
}

// Coverage is what the probes cover: the admin API's /api/tls.
type Coverage struct {
	Enabled   bool      `json:"enabled"`
	Error     string    `json:"error,omitempty"` // why they are not running
	Counters  []Counter `json:"counters"`
	Processes []Process `json:"processes"`
}

// Counter is one named counter.
type Counter struct {
	Name string `json:"name"`
	N    uint64 `json:"n"`
}

// Manager's counters.
const (
	cLibraries    = iota // libraries and executables probed
	cAttachErrs          // files that could not be probed
	cConns               // connections handed to reassembly
	cUnresolved          // connections whose socket was not found
	cDuplicate           // connections read from the other end instead
	cClosed              // connections ended (socket gone, reused, evicted)
	cEvicted             // of which past max_connections
	cBytes               // plaintext bytes handed to reassembly
	cBytesDropped        // plaintext bytes of unresolved and duplicate connections
	cQueueDrops          // events the worker's full queue refused
	cGaps                // plaintext lost inside a connection (truncated calls, lost events)
	cExecs               // programs examined as they started (exec), before the next scan
	numCounters
)

var counterNames = [numCounters]string{"libraries", "attach_errors", "connections", "connections_unresolved", "connections_duplicate", "connections_closed", "connections_evicted", "bytes", "bytes_dropped", "queue_drops", "gaps", "execs"}

// flowKey is a TCP connection: client and server.
type flowKey struct{ client, server netip.AddrPort }

// item is what the probes' reader hands the worker's source: a
// connection's start, bytes in one direction, or its end.
type item struct {
	key        flowKey
	kind       uint8
	fromClient bool
	skip       uint32 // bytes lost before these (a gap)
	ts         time.Time
	info       *reassembly.TLSInfo
	data       []byte
}

const (
	itemOpen = iota
	itemData
	itemClose
)
