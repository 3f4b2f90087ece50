package attack

import (
	"testing"

	"github.com/apitap/apitap/reassembly/http1"
)

// TestSmugglingParserFlag: a framing ambiguity only the HTTP parser saw
// (a Transfer-Encoding with whitespace before its colon is not a header it
// keeps) is reported as request smuggling.
func TestSmugglingParserFlag(t *testing.T) {
	w := newWorker(newTestState(t))
	var c collector
	tx := mk("POST", "/v1/orders", "", nil, `{"a":1}`, "application/json")
	tx.Flags |= http1.FlagRequestSmuggling
	w.Analyze(tx, &c)
	if len(c.Detections) != 1 || c.Detections[0].Class != "request_smuggling" {
		t.Fatalf("detections: %+v", c.Detections)
	}
}
