package sensitive

import (
	"bytes"
	"testing"
)

// FuzzScan feeds arbitrary bytes to every scanning mode: no panic, and
// every finding's value lies within the input (or its decoded form).
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		`{"card_number":"4111 1111 1111 1111","user":{"email":"jane@example.com","ssn":"123-45-6789"}}`,
		`card=4111111111111111&dob=1990-05-17&password=hunter2`,
		`call (415) 555-0123 or +44 20 7946 0958; IBAN DE89 3704 0044 0532 0130 00`,
		`-----BEGIN RSA PRIVATE KEY----- AKIAIOSFODNN7EXAMPLE eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.`,
		`{"a":"\u0040\\"}`, `[[[[`, `{"`, `%4`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Scanner
		s.Custom = []CustomType{{Name: "emp", Re: naiveRegexps()[1], Validator: "ssn"}}
		check := func(f *Finding) {
			if f.Type >= numTypes || len(f.Value) == 0 {
				t.Fatalf("bad finding %+v", f)
			}
			_ = f.Where()
			_ = Mask(f)
		}
		s.JSON(b, check)
		s.Form(b, check)
		s.Text(b, func(f *Finding) {
			check(f)
			if !bytes.Contains(b, f.Value) {
				t.Fatalf("text finding %q not in the input", f.Value)
			}
		})
		s.Value(b, "password", check)
		s.Value(b, "client_secret", check)
	})
}
