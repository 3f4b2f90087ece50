package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/exporter"
)

func recs(from, n int) []exporter.Record {
	var out []exporter.Record
	for i := from; i < from+n; i++ {
		out = append(out, exporter.Record{Type: "detection", Key: fmt.Sprintf("k%d", i%3), Value: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	return out
}

func drainAll(t *testing.T, s *Spool) []string {
	t.Helper()
	var got []string
	for s.Len() > 0 {
		r, err := s.Peek(7)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range r {
			got = append(got, string(x.Value))
		}
		s.Commit()
		if len(r) == 0 && s.Len() > 0 {
			t.Fatalf("Peek returned nothing with %d records left", s.Len())
		}
	}
	return got
}

func TestSpoolOrderSegmentsAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{SegmentBytes: 200, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(recs(0, 50)); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 5 {
		t.Fatalf("%d segments, want rotation", len(segs))
	}
	// read 10, give 5 back, then crash (close without committing the rest)
	r, _ := s.Peek(10) // stops at the end of the first segment
	if len(r) == 0 || len(r) > 10 || string(r[0].Value) != `{"n":0}` || r[0].Key != "k0" || r[0].Type != "detection" {
		t.Fatalf("peek %+v", r[0])
	}
	s.Commit()
	s.Peek(5)
	s.Rewind()
	s.Close()
	s2, err := Open(dir, Options{SegmentBytes: 200, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	got := drainAll(t, s2)
	// the reopened spool goes on after the records committed before
	if got[len(got)-1] != `{"n":49}` || len(got) != 50-len(r) {
		t.Fatalf("after reopen: %d records, last %s", len(got), got[len(got)-1])
	}
	for i := 1; i < len(got); i++ {
		var a, b int
		fmt.Sscanf(got[i-1], `{"n":%d}`, &a)
		fmt.Sscanf(got[i], `{"n":%d}`, &b)
		if b != a+1 {
			t.Fatalf("order broken at %d: %s then %s", i, got[i-1], got[i])
		}
	}
	if s2.Len() != 0 || s2.Bytes() != 0 {
		t.Fatalf("drained spool: len %d bytes %d", s2.Len(), s2.Bytes())
	}
	s2.Close()
	if left, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(left) != 0 {
		t.Fatalf("a drained spool left %v", left)
	}
}

func TestSpoolBoundDropsOldest(t *testing.T) {
	s, err := Open(t.TempDir(), Options{SegmentBytes: 300, MaxBytes: 1200})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if err := s.Append(recs(i*10, 10)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Bytes() > 1200 || s.Lost == 0 {
		t.Fatalf("bytes %d lost %d", s.Bytes(), s.Lost)
	}
	got := drainAll(t, s)
	if uint64(len(got))+s.Lost != 200 || got[len(got)-1] != `{"n":199}` {
		t.Fatalf("kept %d + lost %d != 200, last %s", len(got), s.Lost, got[len(got)-1])
	}
}

func TestSpoolCorruptTail(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, Options{})
	s.Append(recs(0, 10))
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	b, _ := os.ReadFile(segs[0])
	os.WriteFile(segs[0], b[:len(b)-3], 0o600) // torn last record
	s2, _ := Open(dir, Options{})
	got := drainAll(t, s2)
	if len(got) != 9 || s2.Corrupt != 1 {
		t.Fatalf("%d records, %d corrupt", len(got), s2.Corrupt)
	}
}

// flaky is a sink that is down until up is closed.
type flaky struct {
	mu  sync.Mutex
	up  chan struct{}
	got []string
}

func (f *flaky) Name() string { return "flaky" }
func (f *flaky) Send(ctx context.Context, r []exporter.Record) error {
	select {
	case <-f.up:
	default:
		return errors.New("connection refused")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range r {
		f.got = append(f.got, string(x.Value))
	}
	return nil
}
func (f *flaky) Close() error { return nil }

// TestSinkOutage: the inner sink is down for a while; every record arrives
// once it is back, in order, none lost; then a restart with records left
// on disk replays them first.
func TestSinkOutage(t *testing.T) {
	dir := t.TempDir()
	f := &flaky{up: make(chan struct{})}
	sp, _ := Open(dir, Options{})
	s := NewSink(f, sp, zerolog.Nop())
	fan := exporter.New(exporter.Options{Block: true, Batch: 10}, s)
	for i := 0; i < 300; i++ {
		fan.Add(recs(i, 1)[0])
	}
	time.Sleep(100 * time.Millisecond)
	if n, _, _, _ := s.Stats(); n == 0 {
		t.Fatal("nothing spooled while the sink is down")
	}
	close(f.up)
	for i := 300; i < 400; i++ {
		fan.Add(recs(i, 1)[0])
	}
	fan.Close()
	if len(f.got) != 400 {
		t.Fatalf("delivered %d of 400", len(f.got))
	}
	for i, v := range f.got {
		if v != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("record %d is %s", i, v)
		}
	}
	// restart with a spool left behind
	sp2, _ := Open(dir, Options{})
	sp2.Append(recs(1000, 5))
	sp2.Close()
	g := &flaky{up: make(chan struct{})}
	close(g.up)
	sp3, _ := Open(dir, Options{})
	s3 := NewSink(g, sp3, zerolog.Nop())
	s3.Send(context.Background(), recs(2000, 1))
	s3.Close()
	if len(g.got) != 6 || g.got[0] != `{"n":1000}` || g.got[5] != `{"n":2000}` {
		t.Fatalf("restart: %v", g.got)
	}
}

// FuzzSegment opens arbitrary bytes as a spool segment: reading must end
// (corrupt records are skipped and counted), never panic or loop.
func FuzzSegment(f *testing.F) {
	dir := f.TempDir()
	s, _ := Open(dir, Options{})
	s.Append(recs(0, 3))
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	good, _ := os.ReadFile(segs[0])
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{0xA7, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, "00000000000000000001.seg"), data, 0o600)
		sp, err := Open(d, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; sp.Len() > 0; i++ {
			if i > len(data)+2 {
				t.Fatalf("reading does not end: %d records left", sp.Len())
			}
			r, err := sp.Peek(5)
			if err != nil {
				t.Fatal(err)
			}
			_ = r
			sp.Commit()
		}
		sp.Close()
	})
}

// TestEvictLowPriorityFirst fills a small spool with transactions and a
// few blocklist entries and critical detections: when it overflows, the
// oldest low-priority records go first and the important ones survive.
func TestEvictLowPriorityFirst(t *testing.T) {
	sp, err := Open(t.TempDir(), Options{MaxBytes: 8 << 10, SegmentBytes: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	pad := strings.Repeat("x", 150)
	var important []string
	for i := 0; i < 200; i++ {
		rec := exporter.Record{Type: "transaction", Key: "f", Value: []byte(fmt.Sprintf(`{"seq":%d,"pad":"%s"}`, i, pad))}
		switch i % 25 {
		case 3:
			rec = exporter.Record{Type: "blocklist", Key: fmt.Sprintf("ip:192.0.2.%d", i), Value: []byte(fmt.Sprintf(`{"n":%d}`, i))}
			important = append(important, string(rec.Value))
		case 7:
			rec = exporter.Record{Type: "detection", Key: "ip:x", Value: []byte(fmt.Sprintf(`{"n":%d,"severity":"critical"}`, i))}
			important = append(important, string(rec.Value))
		case 9:
			rec = exporter.Record{Type: "detection", Key: "ip:x", Value: []byte(fmt.Sprintf(`{"n":%d,"severity":"low","pad":"%s"}`, i, pad))}
		}
		if err := sp.Append([]exporter.Record{rec}); err != nil {
			t.Fatal(err)
		}
	}
	if sp.Bytes() > 8<<10 {
		t.Fatalf("spool holds %d bytes, bound 8 KiB", sp.Bytes())
	}
	var recs []exporter.Record
	for sp.Len() > 0 {
		batch, err := sp.Peek(1000)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, batch...)
		sp.Commit()
	}
	var got []string
	for _, r := range recs {
		if r.Type == "blocklist" || strings.Contains(string(r.Value), "critical") {
			got = append(got, string(r.Value))
		}
	}
	if strings.Join(got, " ") != strings.Join(important, " ") {
		t.Fatalf("important records kept:\n%v\nwant\n%v", got, important)
	}
	if sp.Lost == 0 || sp.LostLow != sp.Lost || int(sp.Lost)+len(recs) != 200 {
		t.Fatalf("lost %d (low %d), kept %d of 200", sp.Lost, sp.LostLow, len(recs))
	}
	t.Logf("kept %d of 200 records (all %d important ones), lost %d low-priority ones", len(recs), len(important), sp.Lost)
}
