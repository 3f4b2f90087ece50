package correlate

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"

	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/exporter/kafka"
)

func TestCatalogMerger(t *testing.T) {
	tt := tester.New(t)
	p, err := NewCatalog(CatalogConfig{Options: []goka.ProcessorOption{goka.WithTester(tt)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	ev := func(sensor string, calls int, first, last, extra string) []byte {
		return []byte(`{"schema":"apitap/v1","type":"endpoint","sensor":"` + sensor + `","id":"ep-1","host":"api","method":"GET","path":"/v1/users/{id}","kind":"api","calls":` +
			itoa(calls) + `,"params":[{"name":"id","in":"path","type":"integer","count":` + itoa(calls) + `,"presence":1}` + extra + `],"status_codes":{"200":` + itoa(calls) +
			`},"auth":{"types":{"bearer_jwt":` + itoa(calls) + `}},"sensitive_data":[],"consumers":{"ips":1,"users":1},"first_seen":"` + first + `","last_seen":"` + last + `"}`)
	}
	tt.Consume("apitap.inventory", "ep-1", ev("a", 3, "2026-12-06T10:00:01Z", "2026-12-06T10:00:05Z", ""))
	tt.Consume("apitap.inventory", "ep-1", ev("b", 2, "2026-12-06T10:00:00Z", "2026-12-06T10:00:04Z", `,{"name":"expand","in":"query","type":"string","count":1,"presence":0.5}`))
	tt.Consume("apitap.inventory", "ep-1", ev("a", 4, "2026-12-06T10:00:01Z", "2026-12-06T10:00:06Z", "")) // a's newer total
	tt.Consume("apitap.inventory", "ep-1", []byte(`{"type":"stats","sensor":"a"}`))
	m, _ := tt.TableValue(goka.GroupTable("apitap-catalog"), "ep-1").(perSensor)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 {
		t.Fatalf("table value %v: want the latest event of two sensors", m)
	}
	var eps []*discovery.EndpointJSON
	for _, s := range []string{"a", "b"} {
		v, err := perSensorCodec{}.Decode(mustJSON(t, m))
		if err != nil {
			t.Fatal(err)
		}
		var ep discovery.EndpointJSON
		if err := jsonUnmarshal(v.(perSensor)[s], &ep); err != nil {
			t.Fatal(err)
		}
		eps = append(eps, &ep)
	}
	got := MergeEndpoints(eps)
	if got.Calls != 6 || got.StatusCodes["200"] != 6 || got.Auth.Types["bearer_jwt"] != 6 || got.FirstSeen != "2026-12-06T10:00:00Z" || got.LastSeen != "2026-12-06T10:00:06Z" {
		t.Errorf("merged: calls %d, status %v, auth %v, first %s, last %s", got.Calls, got.StatusCodes, got.Auth.Types, got.FirstSeen, got.LastSeen)
	}
	if len(got.Params) != 2 || got.Params[0].Name != "id" || got.Params[0].Count != 6 || got.Params[1].Name != "expand" || got.Params[1].Presence != 1.0/6 {
		t.Errorf("merged params: %+v", got.Params)
	}
	if got.Sensor != "" || got.Type != "" {
		t.Errorf("envelope kept: %q %q", got.Sensor, got.Type)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func mustJSON(t *testing.T, m perSensor) []byte {
	b, err := perSensorCodec{}.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// TestCatalogCompacted: a merger that starts after the inventory topic
// was compacted (a new group, a merger that was down) reads only the
// latest event per key. Keyed by endpoint id and sensor (kafka.InventoryKey)
// every sensor's latest event of an endpoint survives and the merged
// calls are the sum; keyed by the id alone (sensors before) only the last
// writer's would.
func TestCatalogCompacted(t *testing.T) {
	ev := func(sensor string, calls int, at string) []byte {
		return []byte(`{"schema":"apitap/v1","type":"endpoint","time":"` + at + `","sensor":"` + sensor + `","id":"ep-1","host":"api","method":"GET","path":"/v1/items","kind":"api","calls":` +
			itoa(calls) + `,"params":[],"status_codes":{"200":` + itoa(calls) + `},"auth":{"types":{"none":` + itoa(calls) + `}},"sensitive_data":[],"consumers":{"ips":1,"users":0},"first_seen":"2026-12-06T10:00:00Z","last_seen":"` + at + `"}`)
	}
	writes := []struct {
		sensor string
		calls  int
		at     string
	}{{"a", 3, "2026-12-06T10:00:01Z"}, {"b", 2, "2026-12-06T10:00:02Z"}, {"c", 5, "2026-12-06T10:00:03Z"}, {"a", 4, "2026-12-06T10:00:04Z"}}
	for _, tc := range []struct {
		name  string
		key   func(sensor string) string
		calls uint64
	}{
		{"id and sensor", func(s string) string { return kafka.InventoryKey("ep-1", s) }, 4 + 2 + 5},
		{"id alone", func(string) string { return "ep-1" }, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// what compaction keeps: the latest value of each key
			latest := map[string][]byte{}
			var keys []string
			for _, w := range writes {
				k := tc.key(w.sensor)
				if _, ok := latest[k]; !ok {
					keys = append(keys, k)
				}
				latest[k] = ev(w.sensor, w.calls, w.at)
			}
			tt := tester.New(t)
			p, err := NewCatalog(CatalogConfig{Options: []goka.ProcessorOption{goka.WithTester(tt)}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()
			for _, k := range keys {
				tt.Consume("apitap.inventory", k, latest[k])
			}
			var vals []perSensor
			for _, k := range keys {
				m, _ := tt.TableValue(goka.GroupTable("apitap-catalog"), k).(perSensor)
				vals = append(vals, m)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			eps := mergeTable(vals)
			if len(eps) != 1 || eps[0].Calls != tc.calls {
				t.Fatalf("merged after compaction: %d endpoints, calls %v; want one with %d calls", len(eps), eps, tc.calls)
			}
			t.Logf("keyed by %s: %d of 3 sensors' latest events kept by compaction, merged calls %d", tc.name, len(keys), eps[0].Calls)
		})
	}
}
