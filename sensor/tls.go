package sensor

import (
	"fmt"
	"sort"
	"time"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/reassembly/tlsdecrypt"
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
	return nil
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
