package sensor

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/sensor/capture"
)

// TestExportKeysWorkers: exported transactions are keyed by their flow
// with any number of workers, also when no stage-two analyzer makes the
// workers copy the transactions.
func TestExportKeysWorkers(t *testing.T) {
	def, err := analyzer.Configure(analyzer.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	y := "analyzers:\n"
	for _, n := range analyzer.Names(def) {
		y += "  " + n + ": {enabled: false}\n"
	}
	run := func(workers int) string {
		cfg := Config{Analyzers: settings(t, y)}
		cfg.Sensor.ID, cfg.Sensor.Workers = "t", workers
		cfg.Output.Emit = []string{"transaction"}
		var out, keys bytes.Buffer
		p, err := NewPipeline(cfg, &out, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		p.Export = func(typ, key string, line []byte) {
			if typ == "transaction" {
				fmt.Fprintf(&keys, "%s %q\n", key, line)
			}
		}
		src, err := capture.OpenFile("../testdata/pcaps/multi_flow.pcap")
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if err := p.Run(src); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Close(); err != nil {
			t.Fatal(err)
		}
		return keys.String()
	}
	one := run(1)
	if one == "" || strings.Contains(one, "\n ") || strings.HasPrefix(one, " ") {
		t.Fatalf("transactions exported without their flow as key:\n%s", one)
	}
	if three := run(3); three != one {
		t.Fatalf("3 workers export other keys than 1:\n%s\n---\n%s", three, one)
	}
}
