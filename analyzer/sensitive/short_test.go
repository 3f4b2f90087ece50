package sensitive

import (
	"math/rand/v2"
	"testing"
)

// TestShortValues: the shortcut for values shorter than minToken skips
// only values the full rules find nothing in.
func TestShortValues(t *testing.T) {
	names := []string{"", "password", "pin", "api_token", "dob", "ssn", "card", "email", "ip", "phone", "order_id", "q"}
	alpha := "0123456789 @.-+()/:aZeyJ_=%"
	r := rand.New(rand.NewPCG(7, 8))
	var fast, slow Scanner
	slow.slow = true
	for n := 0; n < 200000; n++ {
		v := make([]byte, 1+r.IntN(minToken-1))
		for i := range v {
			v[i] = alpha[r.IntN(len(alpha))]
		}
		name := names[r.IntN(len(names))]
		var got, want int
		fast.Value(v, name, func(*Finding) { got++ })
		slow.Value(v, name, func(*Finding) { want++ })
		if got != want {
			t.Fatalf("%q under %q: %d findings, %d without the shortcut", v, name, got, want)
		}
	}
	// in JSON too
	var got, want int
	doc := []byte(`{"pin":1234,"dob":"1990","n":"a@b.c","x":[1,"12 34"],"password":"abc"}`)
	fast.JSON(doc, func(*Finding) { got++ })
	slow.JSON(doc, func(*Finding) { want++ })
	if got != want || want == 0 {
		t.Fatalf("JSON: %d findings, %d without the shortcut", got, want)
	}
}
