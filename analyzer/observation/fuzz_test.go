package observation

import (
	"reflect"
	"testing"
)

// FuzzDecode: no input crashes Decode, and what it accepts encodes back to
// a record that decodes the same.
func FuzzDecode(f *testing.F) {
	r := sample()
	f.Add(Append(nil, &r))
	f.Add(Append(nil, &Record{}))
	f.Add([]byte{Version})
	f.Fuzz(func(t *testing.T, b []byte) {
		var got, interned Record
		var in Interner
		err := Decode(b, &got)
		if ierr := DecodeWith(b, &interned, &in); (ierr == nil) != (err == nil) || err == nil && !reflect.DeepEqual(got, interned) {
			t.Fatalf("interned decode differs: %v %v", err, ierr)
		}
		if err != nil {
			return
		}
		var again Record
		if err := Decode(Append(nil, &got), &again); err != nil {
			t.Fatalf("re-encoded record refused: %v", err)
		}
		if !reflect.DeepEqual(got, again) {
			t.Fatalf("re-encoding changed the record:\n%+v\n%+v", got, again)
		}
	})
}
