package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer/observation"
	"github.com/apitap/apitap/internal/testutil/eventtest"
	"github.com/apitap/apitap/sensor"
	"github.com/apitap/apitap/sensor/capture"
)

// TestPublishedObservations: with sensor.observations, every observation
// the behaviour analyzer makes is exported (type observation, key = its
// actor) and counted in the summary and the final stats event.
func TestPublishedObservations(t *testing.T) {
	cfg := sensor.Config{}.WithDefaults()
	cfg.Sensor.ID, cfg.Sensor.Workers, cfg.Sensor.Observations = "t", 2, true
	cfg.Output.Emit = []string{"stats"}
	var out bytes.Buffer
	p, err := sensor.NewPipeline(cfg, &out, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	var exported uint64
	p.Export = func(typ, key string, line []byte) {
		if typ != "observation" {
			return
		}
		var r observation.Record
		if err := observation.Decode(line, &r); err != nil || r.Key() != key || r.Sensor != "t" {
			t.Errorf("observation %q: %v %+v", key, err, r)
		}
		exported++
	}
	src, err := capture.OpenFile("../../testdata/demo/demo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := p.Run(src); err != nil {
		t.Fatal(err)
	}
	s, err := p.Close()
	if err != nil {
		t.Fatal(err)
	}
	if exported == 0 || s.Observations != exported {
		t.Fatalf("%d observations exported, the summary says %d", exported, s.Observations)
	}
	eventtest.ValidateStream(t, bytes.NewReader(out.Bytes())) // the stats schema knows observations
	var final struct {
		Final        bool
		Observations uint64
	}
	for _, line := range bytes.Split(out.Bytes(), []byte("\n")) {
		if bytes.Contains(line, []byte(`"type":"stats"`)) {
			json.Unmarshal(line, &final)
		}
	}
	if !final.Final || final.Observations != exported {
		t.Errorf("final stats event: %+v, want %d observations", final, exported)
	}
	var sum bytes.Buffer
	printSummary(&sum, s, cfg)
	if want := fmt.Sprintf("observations   %d published", exported); !bytes.Contains(sum.Bytes(), []byte(want)) {
		t.Errorf("summary lacks %q:\n%s", want, sum.String())
	}
	t.Logf("demo capture: %d observations published, %d transactions", exported, s.Reassembly.Transactions)
}
