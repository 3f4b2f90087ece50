package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/internal/testutil/eventtest"
)

var demoCapture = filepath.Join(repoRoot, "testdata", "demo", "demo.pcap")

// TestCatalogGolden writes the demo's catalog as JSON, compares it byte for
// byte with testdata/golden/demo.catalog.json and checks that one worker
// and three give the same catalog (with every response scanned: sampling
// decisions are per worker).
func TestCatalogGolden(t *testing.T) {
	noSampling := filepath.Join(t.TempDir(), "all.yaml")
	os.WriteFile(noSampling, []byte("analyzers:\n  sensitive:\n    sample_every: 1\n"), 0o644)
	var one []byte
	for _, workers := range []string{"1", "3"} {
		code, out, errOut := runCLI(t, nil, "catalog", "--format", "json", "--workers", workers, "--config", noSampling, "--sensor-id", "golden", "--quiet", demoCapture)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if one == nil {
			one = out
			continue
		}
		if !bytes.Equal(one, out) {
			t.Fatalf("--workers %s gives another catalog than --workers 1", workers)
		}
	}
	code, first, errOut := runCLI(t, nil, "catalog", "--format", "json", "--workers", "1", "--sensor-id", "golden", "--quiet", demoCapture)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden := filepath.Join(repoRoot, "testdata", "golden", "demo.catalog.json")
	if *update {
		if err := os.WriteFile(golden, first, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./sensor/cli -run TestCatalogGolden -update)", err)
	}
	if !bytes.Equal(first, want) {
		t.Errorf("catalog differs from %s (run with -update if the change is intended)", golden)
	}
}

// TestCatalogOpenAPI exports the demo as OpenAPI 3.1 (YAML and JSON) and
// validates both with kin-openapi.
func TestCatalogOpenAPI(t *testing.T) {
	for _, format := range []string{"openapi", "openapi-json"} {
		code, out, errOut := runCLI(t, nil, "catalog", "--format", format, "--quiet", demoCapture)
		if code != ExitOK {
			t.Fatalf("%s: exit %d: %s", format, code, errOut)
		}
		if err := discovery.ValidateOpenAPI(out); err != nil {
			t.Fatalf("%s: kin-openapi rejects the export: %v", format, err)
		}
		for _, want := range []string{"3.1.0", "/v1/users/{userId}", "/v2/accounts/{accountId}", "bearerJWT", "basicAuth"} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("%s: export lacks %q", format, want)
			}
		}
	}
	code, out, errOut := runCLI(t, nil, "catalog", "--format", "openapi", "--host", "auth.partner.example", "--quiet", demoCapture)
	if code != ExitOK || bytes.Contains(out, []byte("/v1/users")) || !bytes.Contains(out, []byte("/oauth/token")) {
		t.Errorf("--host: exit %d: %s\n%s", code, errOut, out)
	}
	if code, _, errOut := runCLI(t, nil, "catalog", "--host", "nope.example", "--quiet", demoCapture); code != ExitUsage || !strings.Contains(string(errOut), "api.shop.example") {
		t.Errorf("unknown --host: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, nil, "catalog", "--format", "xml", demoCapture); code != ExitUsage || !strings.Contains(string(errOut), "--format") {
		t.Errorf("bad --format: exit %d: %s", code, errOut)
	}
}

// TestDemoCatalogTable is what make demo shows: the catalog as a table
// after the summary, and endpoint events that match their schema.
func TestDemoCatalogTable(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "read", "--sensor-id", "demo", "--progress", "never", demoCapture)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	eventtest.ValidateStream(t, bytes.NewReader(out))
	// GET /v1/files was only called by a path traversal probe: it is no
	// endpoint; the scanner's misses are probes too
	if n := bytes.Count(out, []byte(`"type":"endpoint"`)); n != 20 {
		t.Errorf("%d endpoint events, want 20", n)
	}
	for _, want := range []string{
		// 11 HTTP endpoints, 5 gRPC methods and one of them again under
		// the server's address (a connection joined mid-stream whose
		// :authority did not resolve), 3 GraphQL and WebSocket endpoints
		// on graph.shop.example
		"catalog: 20 endpoint(s) on 5 host(s)",
		"HOST", "TEMPLATE", "AUTH", "STATUS",
		"api.shop.example              GET     /v1/orders/{orderId}",
		"payments.shop.internal:50051  POST    /shop.v1.Orders/WatchOrders",
		"bearer_jwt:69", "401:74 200:1",
		"10 probes (payloads, scanners)",
	} {
		if !strings.Contains(string(errOut), want) {
			t.Errorf("summary lacks %q:\n%s", want, errOut)
		}
	}
}

// TestDemoAttacks: the demo capture's attacks appear as detections with
// their payloads as evidence (personal values masked).
func TestDemoAttacks(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "read", "--emit", "detection", "--workers", "1", "--progress", "never", "--quiet", demoCapture)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	eventtest.ValidateStream(t, bytes.NewReader(out))
	for _, want := range []string{
		`"class":"sqli"`, `"value":"' UNION SELECT username,password FROM users--"`,
		`"class":"xss"`, `"class":"path_traversal"`, `"value":"../../../../etc/passwd"`,
		`"class":"scanner"`, `"rule":"user_agent:nikto"`,
		`"path":"/shop.v1.Payments/Charge"},"evidence":[{"location":"body","name":"5","value":"' OR '1'='1' --"`, // in a gRPC message
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("detections lack %s", want)
		}
	}
}

// TestCatalogBase merges the demo capture into its out-of-date spec, as
// YAML and as JSON: the result matches the golden files byte for byte
// (testdata/golden/catalog-base.*; -update rewrites them), validates with
// kin-openapi, keeps the spec's comments, order and formatting, and a
// second merge on the same traffic changes nothing. --only-new lists the
// additions.
func TestCatalogBase(t *testing.T) {
	for _, c := range []struct{ base, golden string }{
		{demoSpec, "catalog-base.yaml"},
		{filepath.Join(repoRoot, "testdata", "catalog", "shop-spec.json"), "catalog-base.json"},
	} {
		t.Run(c.golden, func(t *testing.T) {
			dir := t.TempDir()
			first := filepath.Join(dir, "first"+filepath.Ext(c.golden))
			if code, _, errOut := runCLI(t, nil, "catalog", "--base", c.base, "-o", first, "--quiet", demoCapture); code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			out, err := os.ReadFile(first)
			if err != nil {
				t.Fatal(err)
			}
			if err := discovery.ValidateOpenAPI(out); err != nil {
				t.Fatalf("kin-openapi rejects the merged spec: %v", err)
			}
			base, _ := os.ReadFile(c.base)
			for _, keep := range []string{"# The shop API as its team published it", `"title": "Shop API"`} {
				if bytes.Contains(base, []byte(keep)) && !bytes.Contains(out, []byte(keep)) {
					t.Errorf("the merge lost %q", keep)
				}
			}
			for _, want := range []string{"/admin/stats", "/internal/export", "x-apitap-observed", "limit", "phone", "401"} {
				if !bytes.Contains(out, []byte(want)) {
					t.Errorf("merged spec lacks %q", want)
				}
			}
			golden := filepath.Join(repoRoot, "testdata", "golden", c.golden)
			if *update {
				os.WriteFile(golden, out, 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./sensor/cli -run TestCatalogBase -update)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("merged spec differs from %s (run with -update if the change is intended)", golden)
			}
			second := filepath.Join(dir, "second"+filepath.Ext(c.golden))
			if code, _, errOut := runCLI(t, nil, "catalog", "--base", first, "-o", second, "--quiet", demoCapture); code != ExitOK {
				t.Fatalf("second merge: exit %d: %s", code, errOut)
			}
			if again, _ := os.ReadFile(second); !bytes.Equal(again, out) {
				t.Errorf("a second merge of the same traffic changed the spec")
			}
			if code, news, _ := runCLI(t, nil, "catalog", "--base", first, "--only-new", "--quiet", demoCapture); code != ExitOK || !strings.Contains(string(news), "nothing new") {
				t.Errorf("--only-new after a merge: exit %d: %s", code, news)
			}
		})
	}
	code, out, errOut := runCLI(t, nil, "catalog", "--base", demoSpec, "--only-new", "--quiet", demoCapture)
	if code != ExitOK {
		t.Fatalf("--only-new: exit %d: %s", code, errOut)
	}
	golden := filepath.Join(repoRoot, "testdata", "golden", "catalog-only-new.txt")
	if *update {
		os.WriteFile(golden, out, 0o644)
	}
	if want, _ := os.ReadFile(golden); !bytes.Equal(out, want) {
		t.Errorf("--only-new differs from %s:\n%s", golden, out)
	}
	if code, _, errOut := runCLI(t, nil, "catalog", "--only-new", demoCapture); code != ExitUsage || !strings.Contains(string(errOut), "--base") {
		t.Errorf("--only-new without --base: exit %d: %s", code, errOut)
	}
}
