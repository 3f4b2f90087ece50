package correlate

import (
	"reflect"
	"testing"

	"github.com/apitap/apitap/analyzer/observation"
)

// FuzzMarks: no table value crashes the marks codec, and what it accepts
// encodes back to marks that decode the same.
func FuzzMarks(f *testing.F) {
	var m marks
	m.set(&observation.Record{Sensor: "node-1", Pos: 10, Flow: 3, Seq: 1}, 100)
	m.set(&observation.Record{Sensor: "node-2", Pos: 4}, -1)
	b, _ := marksCodec{}.Encode(&m)
	f.Add(b)
	f.Add([]byte{2, 1, 1, 'a', 10, 3, 1})
	f.Add([]byte{marksVersion, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := marksCodec{}.Decode(b)
		if err != nil {
			return
		}
		enc, err := marksCodec{}.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		again, err := marksCodec{}.Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded marks refused: %v", err)
		}
		if !reflect.DeepEqual(v, again) {
			t.Fatalf("re-encoding changed the marks:\n%+v\n%+v", v, again)
		}
	})
}
