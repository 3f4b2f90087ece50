package sensitive

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/aggregate"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/identity"
	"github.com/apitap/apitap/reassembly/http1"
)

// TestTLSTermination: behind a TLS terminator (the request says so with
// X-Forwarded-Proto or Forwarded, or its host or server is configured so)
// bearer tokens, API key headers, session cookies and passwords in bodies
// are expected in clear text and not reported; Basic credentials and
// credentials in the URL still are. Without termination every kind is.
func TestTLSTermination(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("svc:Pa55word!"))
	kinds := []struct {
		name string
		hdr  []http1.Header
		tgt  string
		body string
		kind string
	}{
		{"bearer", []http1.Header{{Name: "Authorization", Value: "Bearer 0123456789abcdef0123456789abcdef"}}, "/v1/orders", "", "authorization_bearer"},
		{"cookie", []http1.Header{{Name: "Cookie", Value: "theme=dark; sessionid=9f8e7d6c5b4a39281716"}}, "/v1/orders", "", "session_cookie"},
		{"api key header", []http1.Header{{Name: "X-API-Key", Value: "ak_live_0123456789abcdef"}}, "/v1/orders", "", "api_key_header"},
		{"password in a body", []http1.Header{{Name: "Content-Type", Value: "application/json"}}, "/v1/login", `{"email":"a@b.example","password":"hunter22x"}`, "body_password"},
		{"basic", []http1.Header{{Name: "Authorization", Value: basic}}, "/v1/orders", "", "authorization_basic"},
		{"api key in the query", nil, "/v1/orders?api_key=sk_live_51H8z2eKLmNoPqRsTuVwXyZ0123456789", "", "query_secret"},
	}
	behind := []struct {
		name   string
		hdr    []http1.Header
		hosts  []string
		cidrs  []string
		behind bool
	}{
		{"clear text", nil, nil, nil, false},
		{"X-Forwarded-Proto: https", []http1.Header{{Name: "X-Forwarded-Proto", Value: "https"}}, nil, nil, true},
		{"X-Forwarded-Proto: https, http", []http1.Header{{Name: "X-Forwarded-Proto", Value: "https, http"}}, nil, nil, true},
		{"X-Forwarded-Proto: http", []http1.Header{{Name: "X-Forwarded-Proto", Value: "http"}}, nil, nil, false},
		{"Forwarded: proto=https", []http1.Header{{Name: "Forwarded", Value: `for=203.0.113.7;proto=https;host=api.example`}}, nil, nil, true},
		{"X-Forwarded-Ssl: on", []http1.Header{{Name: "X-Forwarded-Ssl", Value: "on"}}, nil, nil, true},
		{"tls_terminated_hosts", nil, []string{"*.other.example", "api.example"}, nil, true},
		{"tls_terminated_hosts, another host", nil, []string{"*.other.example"}, nil, false},
		{"tls_terminated_cidrs", nil, nil, []string{"10.0.0.0/24"}, true},
	}
	for _, b := range behind {
		for _, k := range kinds {
			t.Run(b.name+"/"+k.name, func(t *testing.T) {
				cfg := NewConfig()
				cfg.TLSTerminatedHosts, cfg.TLSTerminated = b.hosts, b.cidrs
				if err := cfg.Validate(); err != nil {
					t.Fatal(err)
				}
				a, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				var col collector
				a.Analyze(mktx("POST", k.tgt, append(slices.Clone(b.hdr), k.hdr...), k.body, 200, nil, `{}`), &col)
				var got []string
				for _, d := range col.Detections {
					if d.Class == "plaintext_credentials" {
						got = append(got, d.Evidence[0].Rule)
						if d.Endpoint.Path != "" || d.Endpoint.Host != "api.example" {
							t.Errorf("a posture finding names the host only: %+v", d.Endpoint)
						}
					}
				}
				report := !b.behind || k.kind == "authorization_basic" || strings.HasPrefix(k.kind, "query_")
				if report != (len(got) == 1) {
					t.Errorf("plaintext_credentials %v, want reported=%v (kind %s)", got, report, k.kind)
				}
				for _, d := range col.Detections {
					if d.Class == "plaintext_credentials" && !slices.ContainsFunc(d.Evidence, func(e event.Evidence) bool { return e.Location == "client" && e.Name == "198.51.100.7" }) {
						t.Errorf("the client is not listed: %+v", d.Evidence)
					}
				}
			})
		}
	}
}

// TestPostureFinding: cleartext credentials are one finding per host and
// credential kind, raised once and updated every posture_interval with
// every client (bounded, busiest first, with counts), instead of one
// event per endpoint and request.
func TestPostureFinding(t *testing.T) {
	cfg := NewConfig()
	cfg.PostureClients = 4
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var col collector
	n := 0
	for k := 0; k < 600; k++ {
		client := k % 6 // six clients send Basic passwords, to many endpoints
		tx := mktx("GET", fmt.Sprintf("/v1/things/%d", k), []http1.Header{{Name: "Authorization", Value: "Basic " + base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("u%d:pw%d", client, client)))}}, "", 200, nil, `{}`)
		tx.Flow.Client = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + client)}), 4000)
		at := t0.Add(time.Duration(k) * 20 * time.Second) // 200 minutes
		tx.Request.Start, tx.Request.End, tx.Response.Start, tx.Response.End = at, at, at, at
		a.Analyze(tx, &col)
		n++
		a.Flush(at, &col)
	}
	a.Finish(t0.Add(4*time.Hour), &col)
	var events int
	for _, d := range col.Detections {
		if d.Class != "plaintext_credentials" {
			continue
		}
		events++
		if d.Severity != "high" || d.Evidence[0].Rule != "credentials:authorization_basic" {
			t.Errorf("finding %s %s", d.Severity, d.Evidence[0].Rule)
		}
	}
	last := col.Detections[len(col.Detections)-1]
	var clients []string
	for _, e := range last.Evidence[1:] {
		clients = append(clients, e.Name+"="+e.Value)
	}
	t.Logf("%d requests with Basic credentials in clear text to 600 endpoints: %d plaintext_credentials events; the last one: count %d, clients %v", n, events, last.Count, clients)
	if events > 6 { // raised once, then hourly over 200 minutes, and the end
		t.Errorf("%d events for one host and kind", events)
	}
	if last.Count != 600 {
		t.Errorf("count %d, want 600", last.Count)
	}
	if len(clients) != 5 || !strings.HasPrefix(clients[4], "others=200 ") {
		t.Errorf("clients %v: want 4 listed with counts and the others counted", clients)
	}
	for _, e := range last.Evidence {
		if strings.Contains(e.Value, "pw") {
			t.Errorf("raw password in evidence %+v", e)
		}
	}
}

// stageTwo folds as the sensor's stage two does: per FoldSpec, lazy
// occurrences counted when open and built when they open a detection.
type stageTwo struct {
	col  collector
	aggs map[string]*aggregate.Aggregator
	lazy int
}

func (s *stageTwo) agg(spec analyzer.FoldSpec) *aggregate.Aggregator {
	if s.aggs[spec.Prefix] == nil {
		s.aggs[spec.Prefix] = aggregate.FromSpec(spec)
	}
	return s.aggs[spec.Prefix]
}

func (s *stageTwo) Detection(d *event.Detection) { s.col.Detection(d) }

func (s *stageTwo) Fold(spec analyzer.FoldSpec, k analyzer.FoldKey, d *event.Detection) {
	s.agg(spec).Fold(k, d, &s.col)
}

func (s *stageTwo) FoldLazy(spec analyzer.FoldSpec, k analyzer.FoldKey, d *event.Detection, ev analyzer.Evidencer, arg []byte) {
	s.lazy++
	s.agg(spec).FoldLazy(k, d, ev, arg, &s.col)
}

func (s *stageTwo) flush(now time.Time, final bool) {
	for _, k := range slices.Sorted(maps.Keys(s.aggs)) {
		s.aggs[k].Flush(now, &s.col, final)
	}
}

// TestPostureLazyEvidence: findings handed to stage two without their
// evidence (analyzer.LazyFolder), which builds it only for an occurrence
// that opens a detection, give the detections the analyzer gives when it
// folds them itself: the same masked values and hashes, counts and
// clients. The evidence decoded from what the analyzer encoded is what
// masking its examples directly gives.
func TestPostureLazyEvidence(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("0123456789abcdef0123"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(lazy bool) (string, int) {
		cfg := NewConfig()
		cfg.PostureClients = 3
		cfg.HashKeyFile = key
		a, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s := &stageTwo{aggs: map[string]*aggregate.Aggregator{}}
		var emit analyzer.Emitter = &s.col
		if lazy {
			emit = s
		}
		for k := 0; k < 300; k++ {
			client := k % 5
			hs := []http1.Header{{Name: "Authorization", Value: "Basic " + base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("user%d:pw%d", client, client)))}}
			if k%3 == 0 {
				hs = append(hs, http1.Header{Name: "X-Api-Key", Value: fmt.Sprintf("key-%d-0123456789abcdef", client)})
			}
			tx := mktx("POST", fmt.Sprintf("/v1/login/%d", k%7), hs, fmt.Sprintf("token=tok%dabcdefabcdef0123456789", client), 200, nil, `{}`)
			tx.Flow.Client = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + client)}), 4000)
			tx.Flow.Confirmed = k%4 == 0
			at := t0.Add(time.Duration(k) * 50 * time.Second)
			tx.Request.Start, tx.Request.End, tx.Response.Start, tx.Response.End = at, at, at, at
			a.Analyze(tx, emit)
			a.Flush(at, emit)
			s.flush(at, false)
		}
		end := t0.Add(6 * time.Hour)
		a.Finish(end, emit)
		s.flush(end, true)
		var out []string
		for _, d := range s.col.Detections {
			out = append(out, fmt.Sprintf("%+v", d))
		}
		slices.Sort(out)
		return strings.Join(out, "\n"), s.lazy
	}
	cfg := NewConfig()
	cfg.HashKeyFile = key
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.reset()
	a.scanRequest(mktx("POST", "/v1/users/jane.doe@mail.example?card=4111111111111111&ssn=078-05-1120", []http1.Header{{Name: "Authorization", Value: "Basic " + base64.StdEncoding.EncodeToString([]byte("u:pw"))}},
		"", 200, nil, `{}`).Request)
	var all evRefs
	var direct []event.Evidence
	for loc := range a.ex {
		for typ := range a.ex[loc] {
			if e := &a.ex[loc][typ]; e.set {
				r := evRef{uint8(loc), Type(typ)}
				all.add(loc, Type(typ))
				direct = append(direct, evidenceOf(a.hasher, r, e.typ, e.weak, e.n, e.rule, a.arena[e.v1:e.f1], a.arena[e.v0:e.v1]))
			}
		}
	}
	if got := a.lazy.Evidence(a.encodeEvidence(all)); len(direct) < 3 || fmt.Sprint(got) != fmt.Sprint(direct) {
		t.Errorf("decoded evidence\n%v\nmasked directly\n%v", got, direct)
	}
	eager, _ := run(false)
	lazy, n := run(true)
	if n == 0 {
		t.Fatal("no lazy occurrence: the test does not test it")
	}
	if eager != lazy {
		t.Errorf("folded by the analyzer:\n%s\nlazily in stage two:\n%s", eager, lazy)
	}
	if !strings.Contains(eager, "hmac-sha256:") {
		t.Errorf("no hashed evidence:\n%s", eager)
	}
}

// TestAPIKeyHeadersAreCredentials: a request carrying any header of
// identity.APIKeyHeaders (in any casing) in clear text is a
// plaintext_credentials finding of kind api_key_header.
func TestAPIKeyHeadersAreCredentials(t *testing.T) {
	for _, name := range identity.APIKeyHeaders {
		a, err := New(NewConfig())
		if err != nil {
			t.Fatal(err)
		}
		var col collector
		a.Analyze(mktx("GET", "/v1/orders", []http1.Header{{Name: strings.ToUpper(name), Value: "ak_0123456789abcdef"}}, "", 200, nil, `{}`), &col)
		a.Finish(time.Time{}, &col)
		found := false
		for _, d := range col.Detections {
			for _, e := range d.Evidence {
				found = found || d.Class == "plaintext_credentials" && e.Rule == "credentials:api_key_header"
			}
		}
		if !found {
			t.Errorf("%s: no api_key_header finding: %v", name, classes(&col))
		}
	}
}
