package correlate

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"

	"github.com/apitap/apitap/analyzer/discovery"
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
