package sensitive

import "regexp"

// naiveRegexps is what a first attempt looks like: one bare regular
// expression per type, run one after the other (no validation).
func naiveRegexps() []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, p := range []string{
		`\b(?:\d[ -]?){13,19}\b`,                            // card
		`\b\d{3}-\d{2}-\d{4}\b`,                             // ssn
		`\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b`,                  // iban
		`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`,    // email
		`\+?\d[\d ().-]{7,}\d`,                              // phone
		`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`,            // ip
		`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`, // jwt
		`AKIA[0-9A-Z]{16}`,                                  // aws
	} {
		out = append(out, regexp.MustCompile(p))
	}
	return out
}
