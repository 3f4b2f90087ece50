package sensitive

import (
	"encoding/base64"
	"fmt"
	"github.com/apitap/apitap/internal/testutil/analyzertest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

type collector = analyzertest.Collector

// classes lists class/severity/rule of the collected detections.
func classes(c *collector) string {
	var out []string
	for _, d := range c.Detections {
		out = append(out, d.Class+"/"+d.Severity+"/"+d.Evidence[0].Rule)
	}
	return strings.Join(out, " ")
}

var t0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

func mktx(method, target string, reqH []http1.Header, reqBody string, status int, respH []http1.Header, respBody string) *reassembly.Transaction {
	path, query, _ := strings.Cut(target, "?")
	return &reassembly.Transaction{
		Flow: reassembly.Flow{Client: netip.MustParseAddrPort("198.51.100.7:4000"), Server: netip.MustParseAddrPort("10.0.0.1:80")},
		Exchange: http1.Exchange{
			Request:  &http1.Request{Method: method, Host: "api.example", Path: path, Query: query, Headers: reqH, Body: http1.Body{Data: []byte(reqBody)}, Start: t0, End: t0},
			Response: &http1.Response{Status: status, Headers: respH, Body: http1.Body{Data: []byte(respBody)}, Start: t0, End: t0.Add(time.Millisecond)},
		},
	}
}

var jsonCT = []http1.Header{{Name: "Content-Type", Value: "application/json"}}

func TestDetections(t *testing.T) {
	none := "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x"}`)) + "."
	cards := `[` + strings.Repeat(`{"card":"4111111111111111"},`, 11) + `{"card":"5500000000000004"}]`
	cases := []struct {
		name string
		tx   *reassembly.Transaction
		want string
	}{
		{"email in the query", mktx("GET", "/v1/users?email=jane%40example.com", nil, "", 200, nil, ""),
			"pii_in_url/medium/email:email"},
		{"card in the path", mktx("GET", "/v1/cards/4111111111111111", []http1.Header{{Name: "X-API-Key", Value: "k-123"}}, "", 200, nil, ""),
			"pii_in_url/high/card:luhn_iin plaintext_credentials/medium/credentials:api_key_header"},
		{"password in a form", mktx("POST", "/login", []http1.Header{{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}}, "user=jane&password=hunter22", 302, nil, ""),
			"plaintext_credentials/high/password:password_field"},
		{"cards to an anonymous caller, in bulk", mktx("GET", "/export", nil, "", 200, jsonCT, cards),
			"sensitive_data/high/card:luhn_iin sensitive_data/high/card:luhn_iin"},
		{"cards in bulk to an authenticated caller", mktx("GET", "/export", []http1.Header{{Name: "Cookie", Value: "sid=abc"}}, "", 200, jsonCT, cards),
			"plaintext_credentials/medium/credentials:session_cookie sensitive_data/high/card:luhn_iin"},
		{"a key in a response", mktx("GET", "/config", []http1.Header{{Name: "Authorization", Value: "Basic " + base64.StdEncoding.EncodeToString([]byte("a:b"))}}, "", 200, jsonCT, `{"aws":"AKIAIOSFODNN7EXAMPLE"}`),
			"plaintext_credentials/high/credentials:authorization_basic info_leak/critical/secret:aws_access_key"},
		{"unsigned JWT", mktx("GET", "/me", []http1.Header{{Name: "Authorization", Value: "Bearer " + none}}, "", 200, nil, ""),
			"plaintext_credentials/medium/credentials:authorization_bearer jwt_weakness/high/jwt:jwt_unsigned"},
		{"nothing", mktx("GET", "/v1/orders/42?page=2", nil, "", 200, jsonCT, `{"id":42,"created":"2026-01-01T10:00:00Z","total":12.5}`), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := New(NewConfig())
			if err != nil {
				t.Fatal(err)
			}
			var col collector
			a.Analyze(c.tx, &col)
			if got := classes(&col); got != c.want {
				t.Errorf("detections %q, want %q", got, c.want)
			}
			for _, d := range col.Detections {
				line := string((&event.Encoder{}).AppendDetection(nil, &d))
				for _, raw := range []string{"jane%40example.com", "jane@example.com", "4111111111111111", "hunter22", "AKIAIOSFODNN7EXAMPLE", "k-123", none} {
					if strings.Contains(line, raw) {
						t.Errorf("raw %q in %s", raw, line)
					}
				}
			}
		})
	}
}

// TestNotesAndTemplate: the types found are marked for discovery, and the
// detection names the endpoint by its template.
func TestNotesAndTemplate(t *testing.T) {
	a, _ := New(NewConfig())
	var col collector
	tx := mktx("GET", "/v1/users/jane@example.com/orders/8812", nil, "", 200, jsonCT, `{"phone":"+14155550123"}`)
	a.Analyze(tx, &col)
	if tx.Notes.SensitiveRequest != event.SensitiveBit("email") || tx.Notes.SensitiveResponse != event.SensitiveBit("phone") {
		t.Errorf("notes %b %b", tx.Notes.SensitiveRequest, tx.Notes.SensitiveResponse)
	}
	if len(col.Detections) == 0 || col.Detections[0].Endpoint.Path != "/v1/users/{userEmail}/orders/{orderId}" {
		t.Fatalf("detections %+v", col.Detections)
	}
}

// TestAggregation emits a detection once, aggregates repeats, re-emits
// after repeat_interval and at the end.
func TestAggregation(t *testing.T) {
	cfg := NewConfig()
	cfg.RepeatInterval = time.Minute
	a, _ := New(cfg)
	var col collector
	for i := 0; i < 3; i++ {
		tx := mktx("GET", fmt.Sprintf("/search?email=u%d%%40example.com", i), nil, "", 200, nil, "")
		tx.Request.Start = t0.Add(time.Duration(i) * 10 * time.Second)
		a.Analyze(tx, &col)
	}
	a.Flush(t0.Add(30*time.Second), &col) // not due
	if len(col.Detections) != 1 || col.Detections[0].Count != 1 {
		t.Fatalf("after 3 repeats: %+v", col.Detections)
	}
	a.Flush(t0.Add(2*time.Minute), &col)
	if len(col.Detections) != 2 || col.Detections[1].Count != 3 || col.Detections[1].FirstSeen != t0 || col.Detections[1].ID == col.Detections[0].ID {
		t.Fatalf("after the interval: %+v", col.Detections)
	}
	tx := mktx("GET", "/search?email=z%40example.com", nil, "", 200, nil, "")
	a.Analyze(tx, &col)
	a.Finish(t0.Add(3*time.Minute), &col)
	if len(col.Detections) != 3 || col.Detections[2].Count != 4 {
		t.Fatalf("at the end: %+v", col.Detections)
	}
}

func TestConfigOptions(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	os.WriteFile(key, []byte("0123456789abcdef0123\n"), 0o600)
	cfg := NewConfig()
	cfg.HashKeyFile = key
	cfg.TLSTerminated = []string{"10.0.0.0/8"}
	cfg.Custom = []CustomConfig{{Name: "employee_id", Pattern: `EMP-[0-9]{6}`, Severity: "high"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var col collector
	a.Analyze(mktx("GET", "/staff?id=EMP-123456&email=jane%40example.com", []http1.Header{{Name: "X-API-Key", Value: "k"}}, "", 200, nil, ""), &col)
	got := classes(&col)
	if got != "pii_in_url/medium/email:email pii_in_url/high/custom:employee_id" {
		t.Errorf("detections %q (tls_terminated: no plaintext_credentials)", got)
	}
	if h := col.Detections[0].Evidence[0].Hash; !strings.HasPrefix(h, "hmac-sha256:") || len(h) != len("hmac-sha256:")+16 {
		t.Errorf("hash %q", h)
	}
	bad := NewConfig()
	bad.Custom = []CustomConfig{{Name: "x", Pattern: "(", Validator: "nope", Severity: "extreme"}}
	err = bad.Validate()
	for _, want := range []string{"pattern", "validator", "severity"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %s", err, want)
		}
	}
}

// BenchmarkAnalyze is the analyzer's cost per transaction on typical API
// traffic: a JSON request and a JSON response with some personal data.
func BenchmarkAnalyze(b *testing.B) {
	a, _ := New(NewConfig())
	body := string(jsonBody(5))
	tx := mktx("POST", "/v1/customers?page=2", []http1.Header{{Name: "Authorization", Value: "Bearer abc.def"}, {Name: "Content-Type", Value: "application/json"},
		{Name: "User-Agent", Value: "Mozilla/5.0"}, {Name: "Accept", Value: "application/json"}}, `{"name":"Jane","email":"jane@example.com","plan":"pro"}`, 200, jsonCT, body)
	var col collector
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		a.Analyze(tx, &col)
		col.Detections = col.Detections[:0]
	}
}
