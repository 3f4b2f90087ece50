package discovery

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestLatBuckets: the binary search over latBounds puts every duration in
// the bucket its definition (latBucket) gives, at the bounds too.
func TestLatBuckets(t *testing.T) {
	var ds []time.Duration
	for _, b := range latBounds {
		ds = append(ds, b-1, b, b+1)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		ds = append(ds, time.Duration(r.Int64N(int64(latBase<<(latBuckets/2+2)))), time.Duration(r.Int64N(int64(10*time.Millisecond))))
	}
	for _, d := range ds {
		if d < 0 {
			continue
		}
		var h latHist
		h.add(d)
		if want := latBucket(d); h.n[want] != 1 {
			t.Fatalf("%v: not in bucket %d (%v)", d, want, h.n)
		}
	}
}

// TestPendingCounts: hourly usage kept as a pending count for the hour of
// the last call, and sensitive types counted by number, give the counts
// of every call, across workers.
func TestPendingCounts(t *testing.T) {
	cat := NewCatalog(NewConfig(), "t")
	o1, o2 := cat.Observer(), cat.Observer()
	hours := []int{0, 0, 1, 1, 0, 2, 2, 2}
	for i, h := range hours {
		x := tx("GET", "api.example", "/v1/things", 200)
		x.Request.Start = x.Request.Start.Add(time.Duration(h) * time.Hour)
		x.Request.End = x.Request.Start
		x.Notes.SensitiveRequest = 1<<3 | uint64(i%2) // email, card on every other call
		x.Notes.SensitiveResponse = 1 << uint(3+i%3)
		o := o1
		if i >= 6 {
			o = o2
		}
		o.Analyze(x, nil)
	}
	v := cat.View()
	if len(v.Endpoints) != 1 {
		t.Fatalf("%d endpoints", len(v.Endpoints))
	}
	j := v.Endpoints[0].JSON(v.Time)
	var got []string
	for _, u := range j.Usage {
		got = append(got, fmt.Sprintf("%s=%d", u.Hour[11:13], u.Calls))
	}
	for _, s := range j.SensitiveData {
		got = append(got, fmt.Sprintf("%s:%s=%d", s.In, s.Type, s.Calls))
	}
	want := "10=3 11=2 12=3 request:card=4 request:email=8 response:email=3 response:phone=3 response:dob=2"
	if g := strings.Join(got, " "); g != want {
		t.Errorf("got  %s\nwant %s", g, want)
	}
}
