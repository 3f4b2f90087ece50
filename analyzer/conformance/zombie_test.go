package conformance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/reassembly/http1"
)

const bankV1 = `openapi: 3.0.3
info: {title: Bank, version: "1.0"}
servers: [{url: "https://api.bank.example"}]
paths:
  /v1/accounts/{accountId}:
    get: {parameters: [{name: accountId, in: path, required: true, schema: {type: integer}}], responses: {"200": {description: ok}}}
  /v1/cards:
    get: {responses: {"200": {description: ok}}}
`

const bankV2 = `openapi: 3.0.3
info: {title: Bank, version: "2.0"}
servers: [{url: "https://api.bank.example"}]
paths:
  /v2/accounts/{accountId}:
    get: {parameters: [{name: accountId, in: path, required: true, schema: {type: integer}}], responses: {"200": {description: ok}}}
  /v1/transfers:
    get: {responses: {"200": {description: ok}}}
  /v2/transfers:
    get: {responses: {"200": {description: ok}}}
  /v2/payments:
    post:
      parameters: [{name: Api-Version, in: header, schema: {type: string, enum: ["2023-01-01", "2024-06-01"]}}]
      responses: {"201": {description: created}}
  /v2/statements:
    get: {deprecated: true, responses: {"200": {description: ok}}}
  /v2/exports/{exportId}:
    get: {parameters: [{name: exportId, in: path, required: true, schema: {type: string}}], responses: {"200": {description: ok}}}
`

const paymentsV2Host = `openapi: 3.0.3
info: {title: Payments, version: "2"}
servers: [{url: "https://v2.payments.example"}]
paths:
  /charges/{chargeId}:
    get: {parameters: [{name: chargeId, in: path, required: true, schema: {type: string}}], responses: {"200": {description: ok}}}
`

// TestZombies finds every kind of zombie with what replaced it: a
// deprecated operation, one only an older spec version has, one whose
// newer version the spec documents next to it, one under a version
// segment the spec no longer has, a host with an older version label, and
// an older value of a version header.
func TestZombies(t *testing.T) {
	dir := writeSpecs(t, map[string]string{"bank-v1.yaml": bankV1, "bank-v2.yaml": bankV2, "payments.yaml": paymentsV2Host})
	cfg := NewConfig()
	cfg.Specs = []string{dir}
	cases := []struct {
		name, host, method, target string
		headers                    []http1.Header
		reason, replacement, op    string
	}{
		{"deprecated", "api.bank.example", "GET", "/v2/statements", nil, "deprecated", "", "GET /v2/statements"},
		{"only in the older spec", "api.bank.example", "GET", "/v1/cards", nil, "only_in_older_version:1.0", "", "GET /v1/cards"},
		{"older spec, replaced", "api.bank.example", "GET", "/v1/accounts/7", nil, "only_in_older_version:1.0", "GET /v2/accounts/{accountId}", "GET /v1/accounts/{accountId}"},
		{"newer version documented", "api.bank.example", "GET", "/v1/transfers", nil, "superseded", "GET /v2/transfers", "GET /v1/transfers"},
		{"version segment gone", "api.bank.example", "GET", "/v1/exports/abc", nil, "superseded", "GET /v2/exports/{exportId}", "GET /v1/exports/{exportId}"},
		{"versioned host", "v1.payments.example", "GET", "/charges/ch_1", nil, "superseded_host", "v2.payments.example GET /charges/{chargeId}", "GET /charges/{chargeId}"},
		{"version header", "api.bank.example", "POST", "/v2/payments", []http1.Header{{Name: "Api-Version", Value: "2023-01-01"}}, "superseded_version:2023-01-01", "api-version: 2024-06-01", "POST /v2/payments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := NewState(cfg, zerolog.Nop(), func(string) any { return nil })
			if err != nil {
				t.Fatal(err)
			}
			status := 200
			if c.method == "POST" {
				status = 201
			}
			x := ptx(c.host, c.method, c.target, c.headers, "", status, "")
			st.newWorker().Analyze(x, &collect{})
			if x.Notes.Conformance != Zombie {
				t.Fatalf("status %q, want zombie", x.Notes.Conformance)
			}
			var out sink
			st.Report(time.Time{}, true, &out)
			if len(out.Detections) != 1 || out.Detections[0].Class != "zombie_endpoint" {
				t.Fatalf("detections %+v", out.Detections)
			}
			d := out.Detections[0]
			got := d.Evidence[0].Value
			repl := ""
			if len(d.Evidence) > 1 {
				repl = d.Evidence[1].Value
			}
			if got != c.reason || repl != c.replacement || d.Evidence[0].Name != c.op {
				t.Errorf("zombie %s (%s) replaced by %q, want %s (%s) replaced by %q", d.Evidence[0].Name, got, repl, c.op, c.reason, c.replacement)
			}
		})
	}
	// the current versions are documented, not zombies
	st, _ := NewState(cfg, zerolog.Nop(), func(string) any { return nil })
	for _, x := range []struct{ host, method, target string }{{"api.bank.example", "GET", "/v2/accounts/1"}, {"api.bank.example", "GET", "/v2/transfers"}, {"v2.payments.example", "GET", "/charges/ch_1"}} {
		tx := ptx(x.host, x.method, x.target, nil, "", 200, "")
		st.newWorker().Analyze(tx, &collect{})
		if tx.Notes.Conformance != Documented {
			t.Errorf("%s %s: %q", x.method, x.target, tx.Notes.Conformance)
		}
	}
	tx := ptx("api.bank.example", "POST", "/v2/payments", []http1.Header{{Name: "Api-Version", Value: "2024-06-01"}}, "", 201, "")
	st.newWorker().Analyze(tx, &collect{})
	if tx.Notes.Conformance != Documented {
		t.Errorf("the newest api-version: %q", tx.Notes.Conformance)
	}
}

// TestFindingEvents: an undocumented header sent on every one of 20,000
// requests over a day, reported every 30 s of capture time, is one
// finding whose detection is updated a few times (count doubled and ten
// minutes passed), not an event per request or per interval.
func TestFindingEvents(t *testing.T) {
	dir := writeSpecs(t, map[string]string{"pets.yaml": petsV2})
	cfg := NewConfig()
	cfg.Specs = []string{dir}
	st, err := NewState(cfg, zerolog.Nop(), func(string) any { return nil })
	if err != nil {
		t.Fatal(err)
	}
	w := st.newWorker()
	var out sink
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 20000
	for i := 0; i < n; i++ {
		x := ptx("pets.example", "GET", fmt.Sprintf("/api/pets/%d", i), []http1.Header{{Name: "X-Tenant-Hint", Value: "a"}}, "", 200, `{"id":1,"name":"x"}`)
		at := start.Add(time.Duration(i) * 4320 * time.Millisecond) // a day
		x.Request.Start = at
		w.Analyze(x, &collect{})
		if i%7 == 0 {
			st.Report(at, false, &out)
		}
	}
	st.Report(start.Add(24*time.Hour), true, &out)
	var events []string
	ids := map[string]bool{}
	for _, d := range out.Detections {
		if d.Class == "undocumented_header" {
			events = append(events, fmt.Sprint(d.Count))
			ids[d.ID] = true
		}
	}
	t.Logf("undocumented_header on %d requests: %d events (counts %s)", n, len(events), strings.Join(events, " "))
	if len(events) > 17 || len(ids) != 1 || events[len(events)-1] != fmt.Sprint(n) {
		t.Errorf("%d events with %d ids: %v", len(events), len(ids), events)
	}
}
