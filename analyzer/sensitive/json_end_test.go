package sensitive

import (
	"math/rand/v2"
	"testing"
)

// TestEndString: the quote search agrees with a byte-by-byte walk.
func TestEndString(t *testing.T) {
	walk := func(b []byte, i int) (int, bool) {
		esc := false
		for ; i < len(b); i++ {
			switch b[i] {
			case '\\':
				esc = true
				i++
			case '"':
				return i, esc
			}
		}
		return -1, esc
	}
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte(`ab\"`)
	for n := 0; n < 200000; n++ {
		b := make([]byte, r.IntN(24))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		i := 0
		if len(b) > 0 {
			i = r.IntN(len(b))
		}
		wj, we := walk(b, i)
		gj, ge := endString(b, i)
		if wj != gj || we != ge {
			t.Fatalf("%q from %d: got %d,%v want %d,%v", b, i, gj, ge, wj, we)
		}
	}
}
