package observation

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"testing"
)

func sample() Record {
	return Record{ID: MakeID("s1", 7, 3, 1), At: 1700000000123456789, Sensor: "s1", Pos: 7, Flow: 3, Seq: 1,
		Client: netip.MustParseAddr("203.0.113.9"), Peer: netip.MustParseAddr("2001:db8::1"),
		User: "u:0a1b", APIKey: "k:9f", Session: "s:77", Print: 1 << 63, Shape: 42, Agent: 3, Crawler: -1, UA: "curl/8.5",
		Host: "api.example.com", Method: "POST", Path: "/v1/users/{id}", Endpoint: 99, Object: 5, ObjectID: "1234", Owner: 8, MassAssigned: "role",
		Status: 401, ReqBytes: 120, RespBytes: 33, Latency: 0.0125, Attacks: 1 << 12, Sensitive: 1 << 3,
		LoginKind: LoginAttempt, LoginUser: "u:ab", LoginSession: "", LoginForm: 11, LoginAnswer: 12, Flags: FlagHealth | FlagConfirmed}
}

func TestRoundTrip(t *testing.T) {
	for _, r := range []Record{sample(), {Crawler: -1}} {
		b := Append(nil, &r)
		var got Record
		if err := Decode(b, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	r := sample()
	b := Append(nil, &r)
	var got Record
	if err := Decode(append([]byte{9}, b[1:]...), &got); !errors.Is(err, ErrVersion) {
		t.Errorf("version 9: %v", err)
	}
	for i := range len(b) - 1 {
		if err := Decode(b[:i], &got); err == nil {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
	if err := Decode(append(b, 0), &got); !errors.Is(err, ErrBounds) {
		t.Errorf("trailing byte: %v", err)
	}
}

func TestKey(t *testing.T) {
	r := Record{Client: netip.MustParseAddr("198.51.100.1")}
	if k := r.Key(); k != "ip:198.51.100.1" {
		t.Errorf("address actor: %q", k)
	}
	r.Session = "s:1"
	if k := r.Key(); k != "session:s:1" {
		t.Errorf("session actor: %q", k)
	}
	r.User = "alice"
	if k := r.Key(); k != "user:alice" {
		t.Errorf("user actor: %q", k)
	}
}

func BenchmarkCodec(b *testing.B) {
	r := sample()
	var buf []byte
	var got Record
	b.ReportAllocs()
	for b.Loop() {
		buf = Append(buf[:0], &r)
		if err := Decode(buf, &got); err != nil {
			b.Fatal(err)
		}
	}
}

// TestInterner: records decoded through an Interner equal those decoded
// without, share their strings, and the Interner stays bounded.
func TestInterner(t *testing.T) {
	var in Interner
	r := sample()
	b := Append(nil, &r)
	var a, c Record
	if err := DecodeWith(b, &a, &in); err != nil {
		t.Fatal(err)
	}
	if err := DecodeWith(b, &c, &in); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, r) || !reflect.DeepEqual(c, r) {
		t.Fatalf("interned decode:\n got %+v\nwant %+v", a, r)
	}
	if n := testing.AllocsPerRun(100, func() { DecodeWith(b, &c, &in) }); n != 0 {
		t.Errorf("a decode of known strings allocates %v times", n)
	}
	for i := range MaxInterned + 10 {
		r.Path = fmt.Sprintf("/p/%d", i)
		if err := DecodeWith(Append(b[:0], &r), &c, &in); err != nil || c.Path != r.Path {
			t.Fatalf("path %q: %v", c.Path, err)
		}
	}
	if len(in.m) > MaxInterned {
		t.Errorf("interner holds %d strings, bound %d", len(in.m), MaxInterned)
	}
}

func BenchmarkDecodeInterned(b *testing.B) {
	r := sample()
	buf := Append(nil, &r)
	var got Record
	var in Interner
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeWith(buf, &got, &in); err != nil {
			b.Fatal(err)
		}
	}
}
