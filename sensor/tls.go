package sensor

import (
	"fmt"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/reassembly/tlsdecrypt"
	"github.com/apitap/apitap/sensor/capture"
	"github.com/apitap/apitap/sensor/uprobe"
)

// TLSConfig is seeing inside TLS (docs/tls.md).
type TLSConfig struct {
	// Keylog is an NSS key log file (as written by SSLKEYLOGFILE, Go's
	// tls.Config.KeyLogWriter or an OpenSSL keylog callback): the TLS
	// connections whose secrets it holds are decrypted and their HTTP
	// parsed (--tls-keylog). It is re-read as it grows.
	Keylog string `yaml:"keylog"`
	// KeyWait is how long (capture time) a connection whose secrets are
	// not in the key log yet holds its records, waiting for them.
	// Default 10s.
	KeyWait time.Duration `yaml:"key_wait"`
	// MaxHeldRecords and MaxHeldBytes bound what one waiting connection
	// holds (defaults 64 records, 1 MiB); past them it is given up and
	// counted (tls.sessions_no_keys, tls.held_records_given_up).
	MaxHeldRecords int `yaml:"max_held_records"`
	MaxHeldBytes   int `yaml:"max_held_bytes"`
	// MaxKeys bounds the sessions whose secrets are kept in memory; the
	// oldest are forgotten first. Default 100000.
	MaxKeys int `yaml:"max_keys"`
	// Uprobes reads the plaintext inside the node's processes, from their
	// TLS libraries, with eBPF uprobes (apitap run --tls-uprobes).
	Uprobes uprobe.Config `yaml:"uprobes"`
}

func (c TLSConfig) validate() error {
	switch {
	case c.KeyWait < 0:
		return fmt.Errorf("tls.key_wait must be positive, got %s", c.KeyWait)
	case c.MaxHeldRecords < 0 || c.MaxHeldRecords > 1<<16:
		return fmt.Errorf("tls.max_held_records must be between 1 and 65536, got %d", c.MaxHeldRecords)
	case c.MaxHeldBytes < 0 || c.MaxHeldBytes > 1<<30:
		return fmt.Errorf("tls.max_held_bytes must be between 1 and 1 GiB, got %d", c.MaxHeldBytes)
	case c.MaxKeys < 0:
		return fmt.Errorf("tls.max_keys must be positive, got %d", c.MaxKeys)
	}
	return c.Uprobes.Validate()
}

// startTLS opens the key log, when one is configured, and hands it to
// every worker.
func (p *Pipeline) startTLS() error {
	c := p.cfg.TLS
	if c.Keylog == "" {
		return nil
	}
	k, err := tlsdecrypt.OpenKeyLog(c.Keylog, tlsdecrypt.KeyLogOptions{MaxEntries: c.MaxKeys})
	if err != nil {
		return fmt.Errorf("tls.keylog: %w", err)
	}
	p.keylog = k
	l := tlsdecrypt.Limits{KeyWait: c.KeyWait, MaxHeldRecords: c.MaxHeldRecords, MaxHeldBytes: c.MaxHeldBytes}
	for _, w := range p.workers {
		w.asm.SetKeyLog(k, l)
	}
	return nil
}

// keylogStats are the key log's counters (zero without one).
func (p *Pipeline) keylogStats() tlsdecrypt.KeyLogStats {
	if p.keylog == nil {
		return tlsdecrypt.KeyLogStats{}
	}
	return p.keylog.Stats()
}

// tlsCounts are the TLS counters of a stats event: connections
// fingerprinted, decryption, the key log; nil when TLS was never seen.
func (s *Summary) tlsCounts() []event.Count {
	r := &s.Reassembly
	k := &s.KeyLog
	c := []event.Count{
		{Name: "hellos", N: r.TLSHellos},
		{Name: "hellos_unparsed", N: r.TLSUnparsed},
		{Name: "keylog_lines", N: k.Lines},
		{Name: "keylog_bad_lines", N: k.BadLines},
		{Name: "keylog_evicted", N: k.Evicted},
		{Name: "keylog_reopened", N: k.Reopened},
	}
	for _, u := range s.Uprobes {
		c = append(c, event.Count{Name: "uprobe_" + u.Name, N: u.N})
	}
	for i, n := range r.TLS.N {
		c = append(c, event.Count{Name: tlsdecrypt.CounterNames[i], N: n})
	}
	out := nonZero(c)
	if len(out) == 0 {
		return nil
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// startUprobes loads the TLS probes when tls.uprobes is on: their source
// is added to srcs (it gets a worker of its own). Where they can not run,
// the sensor goes on without them and says why (the error is returned for
// the coverage).
func startUprobes(cfg Config, srcs []capture.Source, log zerolog.Logger) ([]capture.Source, *uprobe.Manager, error) {
	if !cfg.TLS.Uprobes.Enabled {
		return srcs, nil, nil
	}
	m, err := uprobe.New(cfg.TLS.Uprobes, log)
	if err != nil {
		log.Warn().Msg(uprobe.ErrUnavailable(err) + "; going on without them")
		return srcs, nil, err
	}
	m.Start()
	return append(srcs, m.Source()), m, nil
}

// useUprobes hands the last worker (the one reading the probes' source)
// its plaintext marking and keeps the probes for the coverage.
func (p *Pipeline) useUprobes(m *uprobe.Manager, err error) {
	p.uprobeErr = err
	if m == nil {
		return
	}
	p.uprobes = m
	p.workers[len(p.workers)-1].asm.SetPlainSource(m.Source().Info)
}

// TLSCoverage is what the TLS uprobes cover (the admin API's /api/tls):
// nil when they were not asked for.
func (p *Pipeline) TLSCoverage() *uprobe.Coverage {
	switch {
	case p.uprobes != nil:
		return p.uprobes.Coverage()
	case p.uprobeErr != nil:
		return &uprobe.Coverage{Error: uprobe.ErrUnavailable(p.uprobeErr), Counters: []uprobe.Counter{{Name: "unavailable", N: 1}}}
	}
	return nil
}

// uprobeCounts are the TLS uprobes' counters for the stats event.
func (p *Pipeline) uprobeCounts() []event.Count {
	c := p.TLSCoverage()
	if c == nil {
		return nil
	}
	out := make([]event.Count, 0, len(c.Counters))
	for _, x := range c.Counters {
		out = append(out, event.Count{Name: x.Name, N: x.N})
	}
	return out
}
