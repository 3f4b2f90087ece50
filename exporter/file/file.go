package file

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"github.com/apitap/apitap/exporter"
)

// Name is the sink's name: its section under `exporters:`.
const Name = "file"

// Config is the `exporters.file` section.
type Config struct {
	Path     string `yaml:"path"`      // the file written; rotated copies are PATH.1 (newest) to PATH.N
	MaxBytes int64  `yaml:"max_bytes"` // rotate before the file grows past this; default 100 MiB; 0 after defaults: never
	MaxFiles int    `yaml:"max_files"` // rotated copies kept; default 5
	Mode     string `yaml:"mode"`      // permissions of new files, octal; default 0640
}

func defaults() *Config {
	return &Config{MaxBytes: 100 << 20, MaxFiles: 5, Mode: "0640"}
}

// Validate checks the section.
func (c *Config) Validate() error {
	if c.Path == "" {
		return fmt.Errorf("path: none given")
	}
	if c.MaxBytes < 0 {
		return fmt.Errorf("max_bytes must be positive, got %d", c.MaxBytes)
	}
	if c.MaxFiles < 0 || c.MaxFiles > 1000 {
		return fmt.Errorf("max_files must be between 0 and 1000, got %d", c.MaxFiles)
	}
	if _, err := c.perm(); err != nil {
		return err
	}
	return nil
}

func (c *Config) perm() (os.FileMode, error) {
	m, err := strconv.ParseUint(c.Mode, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("mode: want octal permissions such as 0640, got %q", c.Mode)
	}
	return os.FileMode(m), nil
}

func init() {
	exporter.Register(exporter.Descriptor{
		Name:      Name,
		NewConfig: func() any { return defaults() },
		New: func(cfg any, _ exporter.Output, _ exporter.Env) (exporter.Sink, error) {
			return Open(*cfg.(*Config))
		},
	})
}

// Sink appends records as JSON lines to a file and rotates it by size.
type Sink struct {
	c         Config
	perm      os.FileMode
	f         *os.File
	w         *bufio.Writer
	size      int64
	rotations atomic.Uint64
	bytes     atomic.Uint64
}

// Open opens (appends to) the file of c.
func Open(c Config) (*Sink, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	perm, _ := c.perm()
	s := &Sink{c: c, perm: perm}
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o750); err != nil {
		return nil, fmt.Errorf("file sink: %w", err)
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sink) open() error {
	f, err := os.OpenFile(s.c.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, s.perm)
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("file sink: %w", err)
	}
	s.f, s.size = f, st.Size()
	if s.w == nil {
		s.w = bufio.NewWriterSize(f, 256<<10)
	} else {
		s.w.Reset(f)
	}
	return nil
}

// Name implements exporter.Sink.
func (s *Sink) Name() string { return Name }

// Send implements exporter.Sink: one line per record, the file rotated
// before a line would take it past max_bytes (a longer line gets a file of
// its own).
func (s *Sink) Send(_ context.Context, recs []exporter.Record) error {
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	for _, r := range recs {
		n := int64(len(r.Value) + 1)
		if s.c.MaxBytes > 0 && s.size > 0 && s.size+n > s.c.MaxBytes {
			if err := s.rotate(); err != nil {
				return err
			}
		}
		s.w.Write(r.Value)
		if err := s.w.WriteByte('\n'); err != nil {
			return s.fail(err)
		}
		s.size += n
		s.bytes.Add(uint64(n))
	}
	if err := s.w.Flush(); err != nil {
		return s.fail(err)
	}
	return nil
}

// fail drops the file after a write error: the next Send reopens it.
func (s *Sink) fail(err error) error {
	s.f.Close()
	s.f = nil
	s.w.Reset(nil)
	return fmt.Errorf("file sink %s: %w", s.c.Path, err)
}

// rotate shifts PATH.i to PATH.i+1 (dropping the oldest), PATH to PATH.1,
// and starts a new PATH.
func (s *Sink) rotate() error {
	if err := s.w.Flush(); err != nil {
		return s.fail(err)
	}
	s.f.Close()
	s.f = nil
	if s.c.MaxFiles == 0 {
		os.Remove(s.c.Path)
	} else {
		os.Remove(s.c.Path + "." + strconv.Itoa(s.c.MaxFiles))
		for i := s.c.MaxFiles - 1; i >= 1; i-- {
			os.Rename(s.c.Path+"."+strconv.Itoa(i), s.c.Path+"."+strconv.Itoa(i+1))
		}
		if err := os.Rename(s.c.Path, s.c.Path+".1"); err != nil {
			return fmt.Errorf("file sink: rotate: %w", err)
		}
	}
	s.rotations.Add(1)
	return s.open()
}

// Close implements exporter.Sink.
func (s *Sink) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.w.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}

// Metrics implements exporter.Metered.
func (s *Sink) Metrics() []exporter.Metric {
	return []exporter.Metric{
		{Name: "apitap_file_rotations_total", Help: "Times the file sink rotated its file.", Value: float64(s.rotations.Load())},
		{Name: "apitap_file_written_bytes_total", Help: "Bytes the file sink wrote.", Value: float64(s.bytes.Load())},
	}
}
