package correlate

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/observation"
)

// failures is a test detector: five failed logins of one client in
// capture order, each later than the one before, make a detection.
type failures struct {
	n     map[netip.Addr]int
	order []int64
}

func (f *failures) Observe(r *observation.Record, emit analyzer.Emitter) {
	f.order = append(f.order, r.At)
	if r.LoginKind != observation.LoginAttempt || r.Has(observation.FlagLoginOK) {
		return
	}
	f.n[r.Client]++
	if f.n[r.Client] == 5 {
		emit.Detection(&event.Detection{ID: "t-" + r.Client.String(), Class: "credential_stuffing", Actor: event.Actor{IP: r.Client.String()}, LastSeen: time.Unix(0, r.At)})
	}
}

func (f *failures) Flush(time.Time, analyzer.Emitter) {}

func login(sensor string, at int64, client string) []byte {
	r := observation.Record{At: at, Sensor: sensor, Pos: uint64(at), Client: netip.MustParseAddr(client), Method: "POST", Path: "/login",
		Status: 401, LoginKind: observation.LoginAttempt, Flags: observation.FlagConfirmed, Crawler: -1}
	r.ID = observation.MakeID(sensor, r.Pos, 0, 0)
	return observation.Append(nil, &r)
}

func TestProcessor(t *testing.T) {
	tt := tester.New(t)
	var mu sync.Mutex
	var got []event.Detection
	var dets []*failures
	c, err := New(Config{
		NewDetectors: func() (Detectors, error) {
			f := &failures{n: map[netip.Addr]int{}}
			dets = append(dets, f)
			return f, nil
		},
		Out: func(d *event.Detection) {
			mu.Lock()
			got = append(got, *d)
			mu.Unlock()
		},
		Storage: tt.StorageBuilder(),
		Options: []goka.ProcessorOption{goka.WithTester(tt)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	// a campaign of one address spread over three sensors, out of capture
	// order between sensors: two failures each, below any local threshold
	const client = "203.0.113.7"
	base := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC).UnixNano()
	key := "ip:" + client
	for _, m := range []struct {
		sensor string
		at     int64
	}{{"s3", 5}, {"s3", 6}, {"s1", 1}, {"s2", 3}, {"s1", 2}, {"s2", 4}} {
		tt.Consume("apitap.observations", key, login(m.sensor, base+m.at*int64(time.Second), client))
	}
	// a redelivery
	tt.Consume("apitap.observations", key, login("s1", base+1*int64(time.Second), client))
	m, _ := tt.TableValue(goka.GroupTable("apitap-correlate"), key).(*marks)
	if m == nil || len(m.sensors) != 3 {
		t.Fatalf("table value of %s: %+v, want the marks of three sensors", key, m)
	}
	c.drain()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.Received != 7 || st.Duplicates != 1 || st.Processed != 6 {
		t.Errorf("stats %+v: want 7 received, 1 duplicate, 6 processed", st)
	}
	if len(got) != 1 || got[0].ID != "t-"+client || !got[0].Central || !got[0].Confirmed {
		t.Fatalf("detections %+v: want one central, confirmed detection of %s", got, client)
	}
	// the detectors saw the records in capture order
	for _, f := range dets {
		for i := 1; i < len(f.order); i++ {
			if f.order[i] < f.order[i-1] {
				t.Errorf("out of capture order: %v", f.order)
			}
		}
	}
}

func TestMarks(t *testing.T) {
	var m marks
	r := func(sensor string, pos, flow, seq uint64) *observation.Record {
		return &observation.Record{Sensor: sensor, Pos: pos, Flow: flow, Seq: seq}
	}
	m.set(r("a", 10, 3, 1), 100)
	m.set(r("b", 4, 1, 0), 101)
	for _, tc := range []struct {
		r    *observation.Record
		off  int64
		seen bool
	}{
		// a producer's duplicate: at or before the mark, written after it
		{r("a", 10, 3, 1), 102, true}, {r("a", 10, 3, 0), 102, true}, {r("a", 9, 99, 9), 103, true},
		// newer than the mark
		{r("a", 10, 3, 2), 102, false}, {r("a", 11, 0, 0), 102, false},
		// delivered again after a move: the observation of the mark, or
		// one before it in the partition (not in the new owner's replay)
		{r("a", 10, 3, 1), 100, false}, {r("a", 9, 0, 0), 90, false},
		{r("b", 4, 1, 0), 105, true}, {r("b", 5, 0, 0), 105, false}, {r("c", 1, 0, 0), 1, false},
	} {
		if got := m.seen(tc.r, tc.off); got != tc.seen {
			t.Errorf("%s %d/%d/%d at %d: seen %v, want %v", tc.r.Sensor, tc.r.Pos, tc.r.Flow, tc.r.Seq, tc.off, got, tc.seen)
		}
	}
	// a version 2 value (no offsets) still decodes: its marks drop all at
	// or before them
	v2 := []byte{2, 1, 1, 'a', 10, 3, 1}
	old, err := marksCodec{}.Decode(v2)
	if err != nil {
		t.Fatal(err)
	}
	if om := old.(*marks); !om.seen(r("a", 10, 3, 1), 5) || om.seen(r("a", 10, 3, 2), 5) {
		t.Errorf("version 2 marks %+v", om)
	}
	b, err := marksCodec{}.Encode(&m)
	if err != nil {
		t.Fatal(err)
	}
	v, err := marksCodec{}.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(*v.(*marks)) != fmt.Sprint(m) {
		t.Errorf("codec: %v, want %v", *v.(*marks), m)
	}
	for i := range len(b) - 1 {
		if _, err := (marksCodec{}).Decode(b[:i]); err == nil {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
	for i := range maxSensorsPerActor + 5 {
		m.set(r(fmt.Sprint("s", i), 1, 0, 0), int64(i))
	}
	if len(m.sensors) != maxSensorsPerActor || len(m.offs) != maxSensorsPerActor {
		t.Errorf("%d sensors kept, bound %d", len(m.sensors), maxSensorsPerActor)
	}
}
