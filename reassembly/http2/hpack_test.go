package http2

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// encodedBlocks encodes n header lists the way a client that reuses a
// connection does (x/net's encoder: the truth here), with new paths,
// repeated ones, changing values and, now and then, a table size update.
func encodedBlocks(seed uint64, n int, sizeUpdates bool) (blocks [][]byte, truth [][]hpack.HeaderField) {
	r := rand.New(rand.NewPCG(seed, 7))
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	paths := []string{"/v1/users", "/v1/orders", "/helloworld.Greeter/SayHello", "/grpc.testing.TestService/UnaryCall", "/", "/index.html"}
	for i := 0; i < n; i++ {
		buf.Reset()
		if sizeUpdates && r.IntN(40) == 0 {
			enc.SetMaxDynamicTableSize(uint32([]int{0, 256, 1024, 4096}[r.IntN(4)]))
		}
		var path string
		switch r.IntN(3) {
		case 0:
			path = fmt.Sprintf("/v1/users/%d", r.IntN(5000))
		default:
			path = paths[r.IntN(len(paths))]
		}
		fields := []hpack.HeaderField{
			{Name: ":method", Value: []string{"GET", "POST", "PUT"}[r.IntN(3)]},
			{Name: ":scheme", Value: "http"},
			{Name: ":path", Value: path},
			{Name: ":authority", Value: []string{"api.example", "10.0.0.1:8080"}[r.IntN(2)]},
			{Name: "user-agent", Value: "Go-http-client/2.0"},
			{Name: "x-request-id", Value: fmt.Sprintf("%016x", r.Uint64())},
			{Name: "authorization", Value: "Bearer abc.def", Sensitive: r.IntN(2) == 0},
		}
		if r.IntN(4) == 0 {
			fields = append(fields, hpack.HeaderField{Name: fmt.Sprintf("x-custom-%d", r.IntN(50)), Value: "v"})
		}
		for _, f := range fields {
			if err := enc.WriteField(f); err != nil {
				panic(err)
			}
		}
		blocks = append(blocks, append([]byte(nil), buf.Bytes()...))
		truth = append(truth, fields)
	}
	return
}

// TestDecoderMatchesXNet decodes whole connections and compares every
// field with what x/net's decoder reads from the same bytes.
func TestDecoderMatchesXNet(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		blocks, _ := encodedBlocks(seed, 300, true)
		ref := hpack.NewDecoder(4096, nil)
		var d decoder
		d.reset(false)
		var sc appender
		var out []Field
		for i, b := range blocks {
			want, err := ref.DecodeFull(b)
			if err != nil {
				t.Fatal(err)
			}
			out, err = d.block(b, out, &sc, 0)
			if err != nil {
				t.Fatalf("seed %d block %d: %v", seed, i, err)
			}
			if len(out) != len(want) {
				t.Fatalf("seed %d block %d: %d fields, want %d", seed, i, len(out), len(want))
			}
			for k := range out {
				if out[k].Known != bothKnown || out[k].Name != want[k].Name || out[k].Value != want[k].Value || out[k].Sensitive != want[k].Sensitive {
					t.Fatalf("seed %d block %d field %d: %+v, want %+v", seed, i, k, out[k], want[k])
				}
			}
		}
		if d.unresolved != 0 {
			t.Fatalf("seed %d: %d unresolved fields on a whole connection", seed, d.unresolved)
		}
	}
}

// TestDecoderLateJoin starts decoding in the middle of a connection: no
// field may resolve to a wrong value, and every field sent literally or
// through an entry added after the join must resolve.
func TestDecoderLateJoin(t *testing.T) {
	var total, resolved, resolvable, resolvedOfThose uint64
	for seed := uint64(0); seed < 20; seed++ {
		blocks, truth := encodedBlocks(seed, 400, false)
		join := 50 + int(seed)*7
		// a shadow decoder sees the whole connection and says where each
		// field came from (the serial number of its entry)
		var shadow decoder
		shadow.reset(false)
		var d decoder
		d.reset(true)
		var sc, sc2 appender
		var out, sh []Field
		var joinSeq uint64
		for i, b := range blocks {
			if i == join {
				joinSeq = shadow.seq
			}
			var err error
			sh, err = shadow.block(b, sh, &sc2, 0)
			if err != nil {
				t.Fatal(err)
			}
			if i < join {
				continue
			}
			out, err = d.block(b, out, &sc, 0)
			if err != nil {
				t.Fatalf("seed %d block %d: %v", seed, i, err)
			}
			if len(out) != len(truth[i]) {
				t.Fatalf("seed %d block %d: %d fields, want %d", seed, i, len(out), len(truth[i]))
			}
			for k, f := range out {
				w := truth[i][k]
				total++
				if f.Known&NameKnown != 0 && f.Name != w.Name || f.Known&ValueKnown != 0 && f.Value != w.Value {
					t.Fatalf("seed %d block %d field %d: resolved %q=%q, truth %q=%q", seed, i, k, f.Name, f.Value, w.Name, w.Value)
				}
				if f.Known == bothKnown {
					resolved++
				}
				if from := sh[k].from; from == 0 || from > joinSeq {
					resolvable++
					if f.Known&ValueKnown != 0 {
						resolvedOfThose++
					}
				}
			}
		}
	}
	t.Logf("late join: %d of %d fields resolved (%.1f%%); %d of %d resolvable values resolved", resolved, total, 100*float64(resolved)/float64(total), resolvedOfThose, resolvable)
	if resolvedOfThose != resolvable {
		t.Fatalf("%d of %d values sent literally or through entries added after the join resolved", resolvedOfThose, resolvable)
	}
}

func TestReadIntBounds(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		n    uint8
		want uint64
		err  bool
	}{
		{[]byte{10}, 5, 10, false},
		{[]byte{31, 154, 10}, 5, 1337, false},
		{[]byte{42}, 8, 42, false},
		{[]byte{31}, 5, 0, true},
		{[]byte{31, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 5, 0, true},
		{[]byte{}, 5, 0, true},
	} {
		v, _, err := readInt(tc.in, tc.n)
		if (err != nil) != tc.err || !tc.err && v != tc.want {
			t.Errorf("readInt(%x, %d) = %d, %v; want %d (err %v)", tc.in, tc.n, v, err, tc.want, tc.err)
		}
	}
}
