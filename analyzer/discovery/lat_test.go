package discovery

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/reassembly/http1"
)

// TestLatBuckets: the binary search over latBounds (latIndex) puts every duration in
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
		if got, want := latIndex(d), latBucket(d); got != want {
			t.Fatalf("%v: in bucket %d, not %d", d, got, want)
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

// TestHeaderBound: well-known and other header names share one bound,
// first come first kept, as when all were counted by name.
func TestHeaderBound(t *testing.T) {
	cat := NewCatalog(NewConfig(), "t")
	o := cat.Observer()
	x := tx("GET", "api.example", "/v1/things", 200)
	for i := 0; i < maxHeaders; i++ {
		x.Request.Headers = append(x.Request.Headers, http1.Header{Name: fmt.Sprintf("X-Custom-%02d", i), Value: "v"})
	}
	o.Analyze(x, nil)
	y := tx("GET", "api.example", "/v1/things", 200)
	y.Request.Headers = []http1.Header{{Name: "Accept", Value: "*/*", ID: http1.IDAccept}, {Name: "Authorization", Value: "Bearer abc", ID: http1.IDAuthorization}}
	o.Analyze(y, nil)
	v := cat.View()
	j := v.Endpoints[0].JSON(v.Time)
	if len(j.Headers) != maxHeaders || j.Headers["accept"] != 0 || j.Headers["x-custom-47"] != 1 {
		t.Errorf("%d names, accept %d, x-custom-47 %d: want the first %d names", len(j.Headers), j.Headers["accept"], j.Headers["x-custom-47"], maxHeaders)
	}
}

// TestVersionFold: version names fold as strings.EqualFold does, non-ASCII
// spellings (ſ for s) included.
func TestVersionFold(t *testing.T) {
	tr := newTrie(NewConfig(), nil)
	q := &http1.Request{Query: "a=1&api-ver\u017fion=2024-01-01"}
	h := &http1.Request{Headers: []http1.Header{{Name: "Accept-Ver\u017fion", Value: "v2"}}}
	k := &http1.Request{Headers: []http1.Header{{Name: "Api-Version", Value: "v3", ID: http1.LookupHeader("Api-Version")}}}
	if a, b, c := tr.version(q), tr.version(h), tr.version(k); a != "2024-01-01" || b != "v2" || c != "v3" {
		t.Errorf("versions %q %q %q", a, b, c)
	}
}
