package sensor

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/identity"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/sensor/capture"
)

// allOff is the analyzers section that turns every registered analyzer
// off: the pipeline alone.
func allOff(tb testing.TB) string {
	def, err := analyzer.Configure(analyzer.Settings{})
	if err != nil {
		tb.Fatal(err)
	}
	y := "analyzers:\n"
	for _, n := range analyzer.Names(def) {
		y += "  " + n + ": {enabled: false}\n"
	}
	return y
}

// TestExportKeysWorkers: exported transactions are keyed by their flow
// with any number of workers, also when no stage-two analyzer makes the
// workers copy the transactions.
func TestExportKeysWorkers(t *testing.T) {
	y := allOff(t)
	run := func(workers int) string {
		cfg := Config{Analyzers: settings(t, y)}
		cfg.Sensor.ID, cfg.Sensor.Workers = "t", workers
		cfg.Output.Emit = []string{"transaction"}
		var keys bytes.Buffer
		readFile(t, cfg, "../testdata/pcaps/multi_flow.pcap", func(p *Pipeline) {
			p.Export = func(typ, key string, line []byte) {
				if typ == "transaction" {
					fmt.Fprintf(&keys, "%s %q\n", key, line)
				}
			}
		})
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

// BenchmarkPipeline reads the demo capture (API traffic with bodies, some
// of it hostile) with one and two workers, with the pipeline alone (every
// analyzer off) and with the default analyzers: the cost of handing
// transactions to stage two shows as the difference between the worker
// counts (compare CPU time, not wall time, on a shared machine). The
// capture is small: setting the pipeline up is part of every op.
func BenchmarkPipeline(b *testing.B) {
	off := allOff(b)
	for _, c := range []struct{ name, yaml string }{{"pipeline", off}, {"default", "analyzers: {}\n"}} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", c.name, workers), func(b *testing.B) {
				b.ReportAllocs()
				var txs uint64
				for i := 0; i < b.N; i++ {
					cfg := Config{Analyzers: settings(&testing.T{}, c.yaml)}
					cfg.Sensor.ID, cfg.Sensor.Workers = "b", workers
					cfg.Output.Emit = []string{"stats"}
					p, err := NewPipeline(cfg, io.Discard, zerolog.Nop())
					if err != nil {
						b.Fatal(err)
					}
					src, err := capture.OpenFile("../testdata/demo/demo.pcap")
					if err != nil {
						b.Fatal(err)
					}
					if err := p.Run(src); err != nil {
						b.Fatal(err)
					}
					src.Close()
					if _, err := p.Close(); err != nil {
						b.Fatal(err)
					}
					txs += p.Transactions()
				}
				b.ReportMetric(float64(txs)/float64(b.N), "tx/op")
			})
		}
	}
}

// TestTrafficMix: the summary's counts by host and method, through the
// recent-name cache and past the bound of names (then "(other)").
func TestTrafficMix(t *testing.T) {
	var m trafficMix
	want := map[string]uint64{}
	for i := 0; i < 3*maxHosts; i++ {
		host := fmt.Sprintf("h%d.example", i%(maxHosts+200))
		if i%3 == 0 {
			host = "api.example"
		}
		m.add(&reassembly.Transaction{Exchange: http1.Exchange{Request: &http1.Request{Host: host, Method: "GET"}}})
		if _, ok := want[host]; !ok && len(want) >= maxHosts {
			host = "(other)"
		}
		want[host]++
	}
	var total trafficMix
	total.merge(&m)
	if fmt.Sprint(total.hostTotal) != fmt.Sprint(want) {
		t.Fatalf("hosts %v, want %v", total.hostTotal, want)
	}
	if total.methodTotal["GET"] != 3*maxHosts || total.status[0] != 3*maxHosts {
		t.Fatalf("methods %v status %v", total.methodTotal, total.status)
	}
}

// TestPrincipalKeySigner: the blocklist counts identities per address by
// principalKey; a client signing every request (AWS, Digest) is one
// identity, not one per signature, and an opaque token is its holder.
func TestPrincipalKeySigner(t *testing.T) {
	var p identity.Parser
	key := func(authz string) uint64 {
		tx := &reassembly.Transaction{}
		tx.Request = &http1.Request{Method: "GET", Headers: []http1.Header{{Name: "Authorization", Value: authz}}}
		p.Auth(tx)
		return principalKey(&tx.Auth)
	}
	for _, pair := range [][2]string{
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=aa",
			"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=bb"},
		{`Digest username="bob", nonce="n1", response="r1"`, `Digest username="bob", nonce="n2", response="r2"`},
		{"Bearer 2YotnFZFEjr1zCsicMWpAA", "Bearer 2YotnFZFEjr1zCsicMWpAA"},
	} {
		if a, b := key(pair[0]), key(pair[1]); a == 0 || a != b {
			t.Errorf("%q and %q: keys %x and %x, want one identity", pair[0], pair[1], a, b)
		}
	}
	if a, b := key("Bearer one"), key("Bearer two"); a == b {
		t.Errorf("two tokens, one key %x", a)
	}
	// API key headers are identities too (the README counts "users or API
	// keys"); a session cookie alone is not: unknown cookies get a 200
	hdr := func(hs ...http1.Header) uint64 {
		tx := &reassembly.Transaction{}
		tx.Request = &http1.Request{Method: "GET", Headers: hs}
		p.Auth(tx)
		return principalKey(&tx.Auth)
	}
	k1, k1b := hdr(http1.Header{Name: "X-API-Key", Value: "k-0001"}), hdr(http1.Header{Name: "x-api-key", Value: "k-0001"})
	k2 := hdr(http1.Header{Name: "X-API-Key", Value: "k-0002"})
	if k1 == 0 || k1 != k1b || k1 == k2 {
		t.Errorf("API keys: %x %x %x, want one identity per key", k1, k1b, k2)
	}
	// kinds hash apart: an API key with a Bearer token's value is another identity
	if k := hdr(http1.Header{Name: "X-API-Key", Value: "2YotnFZFEjr1zCsicMWpAA"}); k == key("Bearer 2YotnFZFEjr1zCsicMWpAA") {
		t.Errorf("an API key and a token of one value: one identity %x", k)
	}
	if k := hdr(http1.Header{Name: "X-API-Key", Value: "k-0001"}, http1.Header{Name: "Authorization", Value: "Bearer 2YotnFZFEjr1zCsicMWpAA"}); k != key("Bearer 2YotnFZFEjr1zCsicMWpAA") {
		t.Errorf("Authorization and an API key: %x, want the Authorization's identity", k)
	}
	if k := hdr(http1.Header{Name: "Cookie", Value: "PHPSESSID=0123456789abcdef0123"}); k != 0 {
		t.Errorf("a session cookie alone: %x, want no identity", k)
	}
	// every accepted request with credentials computes one: no allocation
	tx := &reassembly.Transaction{}
	tx.Request = &http1.Request{Method: "GET", Headers: []http1.Header{{Name: "Authorization", Value: "Bearer 2YotnFZFEjr1zCsicMWpAA"}}}
	p.Auth(tx)
	if n := testing.AllocsPerRun(100, func() { principalKey(&tx.Auth) }); n != 0 {
		t.Errorf("principalKey allocates %v times", n)
	}
}
