// Package spool keeps exporter records on disk while a sink is down: an
// append-only queue of segment files, each record framed with its length
// and a CRC-32C, delivered in order and deleted once the sink took them.
// It sits between the exporter's fan-out and a sink (see exporter.Spooled).
//
// Bounded: when the spool would exceed its size, the oldest segments lose
// their low-priority records first (transactions, stats, endpoints, low
// and medium detections; blocklist entries and high and critical
// detections stay), then the oldest segment is deleted; every record
// removed is counted as lost. A spool left by a stopped
// sensor is read again, from its oldest record, when the next one starts
// (at-least-once: records delivered just before a crash may come twice;
// event ids let consumers deduplicate). A torn or corrupt tail ends its
// segment and is counted.
//
// Concurrency: a Spool is not safe for concurrent use; callers serialise.
package spool

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/apitap/apitap/exporter"
)

const (
	magic     = 0xA7
	headerLen = 9 // magic, length, crc
	maxRecord = 16 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options bound a Spool.
type Options struct {
	MaxBytes     int64  // whole spool; default 1 GiB
	SegmentBytes int64  // one segment file; default 64 MiB
	Fsync        string // "always" (after every append), "segment" (on rotation; default), "never"
}

type segment struct {
	seq       uint64
	size      int64
	records   int
	compacted bool // low-priority records removed (the spool was full)
}

// Spool is an on-disk FIFO of records.
type Spool struct {
	dir  string
	opts Options
	segs []segment // oldest first; the last one is being appended to
	w    *os.File
	bw   *bufio.Writer
	// reading: position in segs[0]
	r       *os.File
	br      *bufio.Reader
	readOff int64
	readN   int // records of segs[0] already read (not yet committed)
	pending []int64
	// counters
	Lost    uint64 // records deleted because the spool was full
	LostLow uint64 // of those, low-priority records removed while important ones were kept
	Corrupt uint64 // torn or corrupt records skipped
	total   int64
	count   int
}

// Open opens (or creates) the spool in dir, finding segments a previous
// run left.
func Open(dir string, opts Options) (*Spool, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 1 << 30
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 64 << 20
	}
	if opts.SegmentBytes > opts.MaxBytes {
		opts.SegmentBytes = opts.MaxBytes
	}
	switch opts.Fsync {
	case "":
		opts.Fsync = "segment"
	case "always", "segment", "never":
	default:
		return nil, fmt.Errorf("spool fsync: want always, segment or never, got %q", opts.Fsync)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, opts: opts}
	names, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		seq, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(n), ".seg"), 10, 64)
		if err != nil {
			continue
		}
		st, err := os.Stat(n)
		if err != nil {
			return nil, err
		}
		recs, err := countRecords(n)
		if err != nil {
			return nil, err
		}
		s.segs = append(s.segs, segment{seq: seq, size: st.Size(), records: recs})
		s.total += st.Size()
		s.count += recs
	}
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i].seq < s.segs[j].seq })
	s.loadOffset()
	return s, nil
}

// offsetFile remembers, across runs, how far the oldest segment was read.
func (s *Spool) offsetFile() string { return filepath.Join(s.dir, "offset") }

func (s *Spool) loadOffset() {
	b, err := os.ReadFile(s.offsetFile())
	if err != nil || len(s.segs) == 0 {
		return
	}
	var seq uint64
	var off int64
	if _, err := fmt.Sscanf(string(b), "%d %d", &seq, &off); err != nil || seq != s.segs[0].seq || off > s.segs[0].size {
		return
	}
	// count the records before off: they were delivered
	f, err := os.Open(s.path(seq))
	if err != nil {
		return
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var pos int64
	n := 0
	for pos < off {
		_, size, err := readRecord(br)
		if err != nil {
			break
		}
		pos += size
		n++
	}
	if pos == off {
		s.readOff, s.readN = off, n
	}
}

func (s *Spool) saveOffset() {
	if len(s.segs) == 0 {
		os.Remove(s.offsetFile())
		return
	}
	os.WriteFile(s.offsetFile(), []byte(fmt.Sprintf("%d %d\n", s.segs[0].seq, s.readOff)), 0o600)
}

func (s *Spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d.seg", seq))
}

// countRecords counts the valid records of a segment file.
func countRecords(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	n := 0
	for {
		if _, _, err := readRecord(br); err != nil {
			return n, nil
		}
		n++
	}
}

// Len is the number of records in the spool; Bytes its size on disk.
func (s *Spool) Len() int     { return s.count - s.readN }
func (s *Spool) Bytes() int64 { return s.total }

func encode(r *exporter.Record) []byte {
	p := make([]byte, 0, 3+len(r.Type)+len(r.Key)+len(r.Value))
	p = append(p, byte(len(r.Type)))
	p = append(p, r.Type...)
	p = binary.BigEndian.AppendUint16(p, uint16(len(r.Key)))
	p = append(p, r.Key...)
	return append(p, r.Value...)
}

func decode(p []byte) (exporter.Record, error) {
	var r exporter.Record
	if len(p) < 1 || len(p) < 1+int(p[0])+2 {
		return r, errors.New("short record")
	}
	tl := int(p[0])
	r.Type = string(p[1 : 1+tl])
	p = p[1+tl:]
	kl := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	if len(p) < kl {
		return r, errors.New("short key")
	}
	r.Key = string(p[:kl])
	r.Value = append([]byte(nil), p[kl:]...)
	return r, nil
}

// readRecord reads one framed record; io.EOF at a clean end, another
// error for a torn or corrupt record.
func readRecord(br *bufio.Reader) ([]byte, int64, error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		if err == io.EOF {
			return nil, 0, io.EOF
		}
		return nil, 0, errors.New("torn record header")
	}
	n := binary.BigEndian.Uint32(h[1:5])
	if h[0] != magic || n > maxRecord {
		return nil, 0, errors.New("corrupt record header")
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		return nil, 0, errors.New("torn record")
	}
	if crc32.Checksum(p, castagnoli) != binary.BigEndian.Uint32(h[5:9]) {
		return nil, 0, errors.New("checksum mismatch")
	}
	return p, int64(headerLen) + int64(n), nil
}

// Append adds records at the tail.
func (s *Spool) Append(recs []exporter.Record) error {
	for i := range recs {
		p := encode(&recs[i])
		if len(p) > maxRecord {
			s.Lost++
			continue
		}
		size := int64(headerLen + len(p))
		if s.w == nil || s.segs[len(s.segs)-1].size+size > s.opts.SegmentBytes {
			if err := s.rotate(); err != nil {
				return err
			}
		}
		for s.total+size > s.opts.MaxBytes && len(s.segs) > 1 {
			s.evict()
		}
		var h [headerLen]byte
		h[0] = magic
		binary.BigEndian.PutUint32(h[1:5], uint32(len(p)))
		binary.BigEndian.PutUint32(h[5:9], crc32.Checksum(p, castagnoli))
		if _, err := s.bw.Write(h[:]); err != nil {
			return err
		}
		if _, err := s.bw.Write(p); err != nil {
			return err
		}
		last := &s.segs[len(s.segs)-1]
		last.size += size
		last.records++
		s.total += size
		s.count++
	}
	if err := s.bw.Flush(); err != nil {
		return err
	}
	if s.opts.Fsync == "always" {
		return s.w.Sync()
	}
	return nil
}

func (s *Spool) rotate() error {
	if s.w != nil {
		if err := s.bw.Flush(); err != nil {
			return err
		}
		if s.opts.Fsync != "never" {
			s.w.Sync()
		}
		s.w.Close()
	}
	seq := uint64(1)
	if len(s.segs) > 0 {
		seq = s.segs[len(s.segs)-1].seq + 1
	}
	f, err := os.OpenFile(s.path(seq), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.w, s.bw = f, bufio.NewWriterSize(f, 256<<10)
	s.segs = append(s.segs, segment{seq: seq})
	return nil
}

// important records are kept longest when the spool is full: blocklist
// entries and high or critical detections.
func important(p []byte) bool {
	r, err := decode(p)
	if err != nil {
		return false
	}
	switch r.Type {
	case "blocklist":
		return true
	case "detection":
		return bytes.Contains(r.Value, []byte(`"severity":"high"`)) || bytes.Contains(r.Value, []byte(`"severity":"critical"`))
	}
	return false
}

// evict makes room: first the oldest segment not yet compacted loses its
// low-priority records (transactions, stats, endpoints, low and medium
// detections), then, when every full segment holds only important
// records, the oldest segment goes. Every record removed is counted.
func (s *Spool) evict() {
	for i := range s.segs[:len(s.segs)-1] { // not the one being written
		if s.segs[i].compacted || i == 0 && (s.r != nil || s.readN > 0) {
			continue // the head being read is dropped whole when it must go
		}
		if s.compact(i) {
			return
		}
	}
	s.dropOldest()
}

// compact rewrites segment i with its important records only; it reports
// whether it freed space.
func (s *Spool) compact(i int) bool {
	seg := &s.segs[i]
	seg.compacted = true
	path := s.path(seg.seq)
	in, err := os.Open(path)
	if err != nil {
		return false
	}
	defer in.Close()
	tmp := path + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return false
	}
	bw := bufio.NewWriter(out)
	br := bufio.NewReader(in)
	var size int64
	kept := 0
	for {
		p, n, err := readRecord(br)
		if err != nil {
			break
		}
		if !important(p) {
			continue
		}
		var h [headerLen]byte
		h[0] = magic
		binary.BigEndian.PutUint32(h[1:5], uint32(len(p)))
		binary.BigEndian.PutUint32(h[5:9], crc32.Checksum(p, castagnoli))
		bw.Write(h[:])
		bw.Write(p)
		size += n
		kept++
	}
	if bw.Flush() != nil || out.Close() != nil || os.Rename(tmp, path) != nil {
		os.Remove(tmp)
		return false
	}
	dropped := seg.records - kept
	s.Lost += uint64(dropped)
	s.LostLow += uint64(dropped)
	s.count -= dropped
	s.total -= seg.size - size
	freed := seg.size > size
	seg.size, seg.records = size, kept
	return freed
}

// dropOldest deletes the oldest segment (the spool is full).
func (s *Spool) dropOldest() {
	old := s.segs[0]
	if s.r != nil {
		s.r.Close()
		s.r, s.br = nil, nil
	}
	lost := old.records - s.readN
	s.Lost += uint64(max(lost, 0))
	s.count -= old.records
	s.total -= old.size
	s.readOff, s.readN, s.pending = 0, 0, s.pending[:0]
	os.Remove(s.path(old.seq))
	s.segs = s.segs[1:]
}

// Peek returns up to n records from the head without removing them; call
// Commit after the sink took them. Peek again without Commit continues
// after the records already peeked.
func (s *Spool) Peek(n int) ([]exporter.Record, error) {
	var out []exporter.Record
	for len(out) < n && len(s.segs) > 0 {
		if s.r == nil {
			if s.w != nil && len(s.segs) == 1 {
				if err := s.bw.Flush(); err != nil {
					return out, err
				}
			}
			f, err := os.Open(s.path(s.segs[0].seq))
			if err != nil {
				return out, fmt.Errorf("spool: %w", err)
			}
			if _, err := f.Seek(s.readOff, io.SeekStart); err != nil {
				f.Close()
				return out, err
			}
			s.r, s.br = f, bufio.NewReaderSize(f, 256<<10)
		}
		p, size, err := readRecord(s.br)
		if err != nil {
			atEnd := err == io.EOF
			if !atEnd {
				s.Corrupt++
			}
			if len(s.segs) == 1 && s.w != nil && atEnd {
				// the segment being written: nothing more for now
				s.r.Close()
				s.r, s.br = nil, nil
				return out, nil
			}
			if len(s.pending) > 0 || len(out) > 0 {
				return out, nil // commit what was read before moving on
			}
			// segment done (or its tail is damaged): remove it
			s.r.Close()
			s.r, s.br = nil, nil
			s.finishHead()
			continue
		}
		r, derr := decode(p)
		s.pending = append(s.pending, size)
		if derr != nil {
			s.Corrupt++
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// Commit removes the records returned by the Peeks since the last Commit.
func (s *Spool) Commit() {
	for _, size := range s.pending {
		s.readOff += size
		s.readN++
	}
	s.pending = s.pending[:0]
	if len(s.segs) > 0 && s.readN >= s.segs[0].records && (s.w == nil || len(s.segs) > 1) {
		if s.r != nil {
			s.r.Close()
			s.r, s.br = nil, nil
		}
		s.finishHead()
	}
}

// Rewind forgets the records peeked since the last Commit (the sink did
// not take them): the next Peek returns them again.
func (s *Spool) Rewind() {
	s.pending = s.pending[:0]
	if s.r != nil {
		s.r.Close()
		s.r, s.br = nil, nil
	}
}

// finishHead deletes the fully read oldest segment.
func (s *Spool) finishHead() {
	head := s.segs[0]
	s.count -= head.records
	s.total -= head.size
	os.Remove(s.path(head.seq))
	s.segs = s.segs[1:]
	s.readOff, s.readN = 0, 0
}

// Close flushes and closes the files. Records not yet delivered stay for
// the next run, with how far the oldest segment was read; an empty spool
// leaves nothing behind.
func (s *Spool) Close() error {
	if s.r != nil {
		s.r.Close()
	}
	defer func() {
		if s.Len() == 0 {
			for _, g := range s.segs {
				os.Remove(s.path(g.seq))
			}
			s.segs = nil
		}
		s.saveOffset()
	}()
	if s.w != nil {
		if err := s.bw.Flush(); err != nil {
			return err
		}
		if s.opts.Fsync != "never" {
			s.w.Sync()
		}
		return s.w.Close()
	}
	return nil
}
