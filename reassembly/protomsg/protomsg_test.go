package protomsg

import (
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestAppendWire(t *testing.T) {
	var w Wire
	// {1: "alice", 2: 150, 3: {1: "4111111111111111"}, 4: ["a", "b"], 5: fixed32 7, 6: bytes 0xff00}
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, "alice")
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, 150)
	var inner []byte
	inner = protowire.AppendTag(inner, 1, protowire.BytesType)
	inner = protowire.AppendString(inner, "4111111111111111")
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendBytes(b, inner)
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	b = protowire.AppendString(b, "a")
	b = protowire.AppendTag(b, 5, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 7)
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	b = protowire.AppendString(b, "b")
	b = protowire.AppendTag(b, 6, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte{0xff, 0x00})
	out, ok, cut := w.AppendWire(nil, b, 0)
	want := `{"1":"alice","2":150,"3":{"1":"4111111111111111"},"4":["a","b"],"5":7,"6":"/wA="}`
	if !ok || cut || string(out) != want {
		t.Fatalf("got %s (%v %v), want %s", out, ok, cut, want)
	}
	// a bound cuts at a whole field and stays valid JSON
	out, ok, cut = w.AppendWire(nil, b, 30)
	if !ok || !cut || !json.Valid(out) || len(out) > 30 {
		t.Fatalf("bounded: %s (%v %v)", out, ok, cut)
	}
	// text is not taken for a message, even when it parses as one
	out, _, _ = w.AppendWire(nil, append(protowire.AppendTag(nil, 1, protowire.BytesType), protowire.AppendString(nil, "hi there")...), 0)
	if string(out) != `{"1":"hi there"}` {
		t.Fatalf("text: %s", out)
	}
	if _, ok, _ := w.AppendWire(nil, []byte("not a message\xff"), 0); ok {
		t.Fatal("garbage decoded as a message")
	}
}

// TestAppendJSON decodes with a descriptor set built from real
// generated types (well-known types included).
func TestAppendJSON(t *testing.T) {
	set := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(timestamppb.File_google_protobuf_timestamp_proto),
		protodesc.ToFileDescriptorProto(structpb.File_google_protobuf_struct_proto),
	}}
	b, _ := proto.Marshal(set)
	if _, err := Parse(b); err == nil {
		t.Fatal("a set without a service accepted")
	}
	msg, _ := proto.Marshal(timestamppb.New(timestamppb.Now().AsTime().Truncate(1e9)))
	out, ok := AppendJSON(nil, msg, timestamppb.File_google_protobuf_timestamp_proto.Messages().Get(0))
	if !ok || !json.Valid(out) || out[0] != '"' {
		t.Fatalf("timestamp: %s", out)
	}
	if _, ok := AppendJSON(nil, []byte{0xff}, timestamppb.File_google_protobuf_timestamp_proto.Messages().Get(0)); ok {
		t.Fatal("garbage decoded")
	}
}

func TestSplitPath(t *testing.T) {
	for p, want := range map[string][2]string{
		"/helloworld.Greeter/SayHello": {"helloworld.Greeter", "SayHello"},
		"/Svc/M":                       {"Svc", "M"},
		"/a/b/c":                       {"", ""},
		"/x/":                          {"", ""},
		"":                             {"", ""},
	} {
		s, m, _ := SplitPath(p)
		if s != want[0] || m != want[1] {
			t.Errorf("%q: %q %q", p, s, m)
		}
	}
}

// FuzzWire renders arbitrary bytes: valid JSON whenever it reports ok,
// never longer than the bound.
func FuzzWire(f *testing.F) {
	f.Add([]byte{0x0a, 0x05, 'a', 'l', 'i', 'c', 'e', 0x10, 0x96, 0x01}, uint16(0))
	f.Add([]byte{0x0a, 0x02, 0x08, 0x01, 0x0a, 0x02, 0x08, 0x02}, uint16(10))
	f.Fuzz(func(t *testing.T, b []byte, max uint16) {
		var w Wire
		out, ok, _ := w.AppendWire(nil, b, int(max))
		if !ok || len(out) == 0 {
			if len(out) != 0 {
				t.Fatal("output without ok")
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
		if max > 0 && len(out) > int(max) {
			t.Fatalf("%d bytes, bound %d", len(out), max)
		}
	})
}
