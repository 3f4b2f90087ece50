package behavior

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/apitap/apitap/analyzer/observation"
)

// TestCentralSameDetections: the scenario traffic through one sensor's
// analyzer, and the same traffic published as records (encoded, decoded)
// and run through Central, find the same scenarios with the same
// classes and addresses; the records carry no raw credential.
func TestCentralSameDetections(t *testing.T) {
	cfg := NewConfig()
	cfg.Allowlist = []string{"ua:Googlebot"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	reqs := background(rand.New(rand.NewPCG(1, 9)))
	sc := scenarios()
	for _, s := range sc {
		reqs = append(reqs, s.reqs...)
	}
	_, local := run(t, cfg, reqs)

	// the sensor: detectors off, records published
	sort.SliceStable(reqs, func(i, j int) bool { return reqs[i].at < reqs[j].at })
	tr := NewTracker(cfg, "node-1")
	var wire [][]byte
	tr.PublishObservations(func(r *observation.Record) {
		r.Sensor, r.Pos = "node-1", uint64(len(wire))
		r.ID = observation.MakeID(r.Sensor, r.Pos, 0, 0)
		wire = append(wire, observation.Append(nil, r))
	}, false)
	w := tr.NewAnalyzer()
	var none collector
	for _, r := range reqs {
		w.Analyze(r.tx(), &none)
	}
	if len(none.Detections) != 0 {
		t.Fatalf("correlation central: the sensor detected %d", len(none.Detections))
	}
	if len(wire) != len(reqs) {
		t.Fatalf("%d records for %d transactions", len(wire), len(reqs))
	}
	for i, b := range wire {
		for _, raw := range [][]byte{[]byte("eyJ"), []byte(`"password"`), []byte("@corp.example")} {
			if bytes.Contains(b, raw) {
				t.Fatalf("record %d carries a raw value (%s): %q", i, raw, b)
			}
		}
	}

	// the correlator
	c, err := NewCentral(cfg, "apitap-correlate")
	if err != nil {
		t.Fatal(err)
	}
	var central collector
	var r observation.Record
	for _, b := range wire {
		if err := observation.Decode(b, &r); err != nil {
			t.Fatal(err)
		}
		c.Observe(&r, &central)
	}
	key := func(class, ip string) string { return class + " " + ip }
	set := func(dets collector) []string {
		var out []string
		for _, d := range dets.Detections {
			if d.Actor.IP != "" && !slices.Contains(out, key(d.Class, d.Actor.IP)) {
				out = append(out, key(d.Class, d.Actor.IP))
			}
		}
		sort.Strings(out)
		return out
	}
	l, g := set(collector{Detections: local}), set(central)
	if strings.Join(l, "\n") != strings.Join(g, "\n") {
		t.Errorf("detections by class and address differ:\nlocal   %v\ncentral %v", l, g)
	}
	lc, gc := map[string]int{}, map[string]int{}
	for _, d := range local {
		lc[d.Class]++
	}
	for _, d := range central.Detections {
		gc[d.Class]++
	}
	if fmt.Sprint(lc) != fmt.Sprint(gc) {
		t.Errorf("detections by class differ: local %v, central %v", lc, gc)
	}
	t.Logf("%d transactions, %d local detections, %d central: %v", len(reqs), len(local), len(central.Detections), gc)
}
