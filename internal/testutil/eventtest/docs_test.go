package eventtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestDocsExamples: every complete example event in docs/events.md (a line
// that starts an event and elides nothing with "…") validates against
// the schemas, so the documentation shows what the sensor writes.
func TestDocsExamples(t *testing.T) {
	dir, err := SchemaDir()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(dir, "..", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	// an example may span lines: it ends where the JSON is complete
	sc := bufio.NewScanner(bytes.NewReader(doc))
	sc.Buffer(nil, 1<<20)
	checked, skipped := 0, 0
	var cur []byte
	start := 0
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte(`{"schema":"apitap/v1"`)):
			cur, start = append(cur[:0], line...), n
		case cur != nil && !bytes.HasPrefix(line, []byte("```")):
			cur = append(cur, line...)
		default:
			if cur != nil {
				t.Errorf("docs/events.md line %d: an example that is not complete JSON", start)
			}
			cur = nil
			continue
		}
		if !json.Valid(cur) && !bytes.Contains(cur, []byte("…")) {
			continue
		}
		if bytes.Contains(cur, []byte("…")) {
			skipped++
		} else {
			checked++
			if err := Check(cur); err != nil {
				t.Errorf("docs/events.md line %d: %v", start, err)
			}
		}
		cur = nil
	}
	t.Logf("docs/events.md: %d complete examples validated, %d abridged ones skipped", checked, skipped)
	if checked == 0 {
		t.Error("no complete example found")
	}
}
