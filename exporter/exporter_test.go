package exporter

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type fakeSink struct {
	name string
	mu   sync.Mutex
	got  []string
	gate chan struct{} // when non-nil, Send waits for it
	fail bool
}

func (s *fakeSink) Name() string {
	if s.name == "" {
		return "fake"
	}
	return s.name
}

func (s *fakeSink) Send(ctx context.Context, recs []Record) error {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.fail {
		return errors.New("broker gone")
	}
	s.mu.Lock()
	for _, r := range recs {
		s.got = append(s.got, r.Key)
	}
	s.mu.Unlock()
	return nil
}

func (s *fakeSink) Close() error { return nil }

func TestFanOutDeliversInOrder(t *testing.T) {
	a, b := &fakeSink{}, &fakeSink{}
	f := New(Options{Batch: 7}, a, b)
	for i := 0; i < 100; i++ {
		f.Add(Record{Type: "t", Key: string(rune('A' + i%26))})
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if len(a.got) != 100 || len(b.got) != 100 || a.got[27] != "B" {
		t.Fatalf("got %d and %d records", len(a.got), len(b.got))
	}
	for _, s := range f.Stats() {
		if s.Sent != 100 || s.Dropped != 0 {
			t.Fatalf("%+v", s)
		}
	}
}

func TestFanOutSlowSinkDropsAndCounts(t *testing.T) {
	slow := &fakeSink{name: "slow", gate: make(chan struct{})}
	fast := &fakeSink{name: "fast"}
	f := New(Options{Queue: 10, Batch: 1, Flush: 100 * time.Millisecond}, slow, fast)
	done := make(chan struct{})
	go func() {
		for i := 0; i < 1000; i++ {
			f.Add(Record{Key: "k"}) // never blocks, although slow is stuck
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Add blocked on a stuck sink")
	}
	f.Close()
	st := f.Stats()
	fastStat, slowStat := st[0], st[1] // sorted by name
	if slowStat.Dropped < 900 || slowStat.Sent != 0 || slowStat.Dropped+slowStat.Failed != 1000 || fastStat.Sent+fastStat.Dropped != 1000 {
		t.Fatalf("stats %+v", st)
	}
	full, failed := f.Drops()
	if full == 0 || full+failed < slowStat.Dropped {
		t.Fatalf("drops %d %d", full, failed)
	}
}

func TestFanOutBlockingAndFailures(t *testing.T) {
	s := &fakeSink{gate: make(chan struct{})}
	f := New(Options{Queue: 2, Batch: 1, Block: true}, s)
	go func() {
		time.Sleep(50 * time.Millisecond)
		close(s.gate)
	}()
	for i := 0; i < 50; i++ {
		f.Add(Record{Key: "x"}) // waits for the sink instead of dropping
	}
	f.Close()
	if len(s.got) != 50 {
		t.Fatalf("blocking mode delivered %d of 50", len(s.got))
	}
	bad := &countingFail{}
	g := New(Options{Batch: 1, Block: true}, bad)
	for i := 0; i < 20; i++ {
		g.Add(Record{})
	}
	g.Close()
	if _, failed := g.Drops(); failed != 20 {
		t.Fatalf("failed %d, want 20", failed)
	}
	if bad.calls != downAfter {
		t.Fatalf("a dead sink was called %d times, want %d before it is left alone", bad.calls, downAfter)
	}
}

type countingFail struct{ calls int }

func (c *countingFail) Name() string { return "dead" }
func (c *countingFail) Send(context.Context, []Record) error {
	c.calls++
	return errors.New("down")
}
func (c *countingFail) Close() error { return nil }

// Stream records (observations) reach only the sinks that list them, in
// the apitap format, and never as tombstones.
func TestStageStreams(t *testing.T) {
	all := Output{Format: FormatApitap, Types: EventTypes[:]}
	plain := newStage(&fakeSink{}, Descriptor{Name: "plain"}, all, Env{})
	kafka := newStage(&fakeSink{}, Descriptor{Name: "kafka", Streams: []string{"observation"}}, all, Env{})
	ocsfOut := newStage(&fakeSink{}, Descriptor{Name: "kafka", Streams: []string{"observation"}}, Output{Format: FormatOCSF, Types: []string{"detection"}}, Env{})
	rec := Record{Type: "observation", Key: "ip:192.0.2.1", Value: []byte{1, 2, 3}}
	if plain.Accept(&rec) || !kafka.Accept(&rec) || ocsfOut.Accept(&rec) {
		t.Errorf("observation accepted: plain %v, kafka %v, kafka in ocsf %v; want false, true, false", plain.Accept(&rec), kafka.Accept(&rec), ocsfOut.Accept(&rec))
	}
	if empty := (Record{Type: "observation"}); kafka.Accept(&empty) {
		t.Error("an empty observation was accepted")
	}
}
