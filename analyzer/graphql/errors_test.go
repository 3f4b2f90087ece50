package graphql

import (
	"testing"

	"github.com/apitap/apitap/analyzer/graphql/gqlreq"
)

var errorBodies = []string{
	`{"data":{"user":{"id":"1","email":"a@example.com"}}}`,
	`{"errors":[{"message":"Cannot query field \"emial\" on type \"User\". Did you mean \"email\"?"}]}`,
	`{"Errors":[{"message":"Did you mean \"email\"?"}],"data":null}`,
	`{"\u0065rrors":[{"message":"Did you mean \"email\"?"}]}`,
	`[{"data":{"a":1}},{"errors":[{"message":"java.lang.NullPointerException at com.example.Resolver"}]}]`,
	`{"data":{"errors":"a field of the data, not the errors"}}`,
	`{"data":{"note":"unicode \u00e9"}}`,
	``,
	`{`,
}

// TestMayHaveErrors: a body the pre-check rules out has no errors for
// ParseResponse either (the analyzer reports only on errors).
func TestMayHaveErrors(t *testing.T) {
	p := gqlreq.NewParser(gqlreq.Limits{})
	want := map[string]bool{errorBodies[0]: false, errorBodies[1]: true, errorBodies[2]: true, errorBodies[3]: true, errorBodies[4]: true}
	for _, b := range errorBodies {
		got := mayHaveErrors([]byte(b))
		if w, ok := want[b]; ok && got != w {
			t.Errorf("%s: mayHaveErrors %v, want %v", b, got, w)
		}
		if r, ok := p.ParseResponse([]byte(b)); ok && !got && (r.Errors > 0 || r.Suggestions || r.Verbose) {
			t.Errorf("%s: ruled out, but ParseResponse found %+v", b, r)
		}
	}
}

func FuzzMayHaveErrors(f *testing.F) {
	for _, b := range errorBodies {
		f.Add([]byte(b))
	}
	p := gqlreq.NewParser(gqlreq.Limits{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if mayHaveErrors(b) {
			return
		}
		if r, ok := p.ParseResponse(b); ok && (r.Errors > 0 || r.Suggestions || r.Verbose) {
			t.Fatalf("%q: ruled out, but ParseResponse found %+v", b, r)
		}
	})
}
