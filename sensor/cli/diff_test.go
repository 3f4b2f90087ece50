package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

var demoSpec = filepath.Join(repoRoot, "testdata", "demo", "spec.yaml")

// TestDiffDemo compares the demo capture with its out-of-date spec: a
// readable report of every section, exit code 3, and the same findings as
// JSON.
func TestDiffDemo(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "diff", "--spec", demoSpec, "--quiet", demoCapture)
	if code != ExitDifferences {
		t.Fatalf("exit %d, want %d: %s", code, ExitDifferences, errOut)
	}
	for _, want := range []string{
		"Shop API 1.3", "8 operations on api.shop.example/v1",
		"Shadow endpoints (no spec documents them): 2", "api.shop.example/v1/internal/export",
		"Zombie endpoints (deprecated, only in an older version, or superseded, still called): 1", "GET /cart  Shop API 1.3  deprecated",
		"Undocumented parameters: 1", "GET /search  query  limit",
		"Undocumented status codes: 1", "POST /login  401  74 calls",
		"Schema violations: 1", `property "phone" is unsupported`,
		"Documented but never seen: 1", "GET /users/{userId}/orders",
		"Result: 6 difference(s)",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = runCLI(t, nil, "diff", "--spec", demoSpec, "--format", "json", "--quiet", "--workers", "3", demoCapture)
	if code != ExitDifferences {
		t.Fatalf("json: exit %d: %s", code, errOut)
	}
	var d struct {
		Shadow     []struct{ Path string }   `json:"shadow_endpoints"`
		Statuses   []struct{ Count int }     `json:"undocumented_statuses"`
		NeverSeen  []string                  `json:"documented_never_seen"`
		Violations []struct{ Reason string } `json:"schema_violations"`
	}
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	// GET /v1/files?path=../../.. is a path traversal probe, not a shadow API
	if len(d.Shadow) != 2 || len(d.Statuses) != 1 || d.Statuses[0].Count != 74 || len(d.NeverSeen) != 1 || len(d.Violations) != 1 {
		t.Errorf("json diff: %s", out)
	}
	if code, _, errOut := runCLI(t, nil, "diff", demoCapture); code != ExitUsage || !strings.Contains(string(errOut), "--spec") {
		t.Errorf("no spec: exit %d %s", code, errOut)
	}
}

// TestSpecFlagCatalog: with --spec, catalog entries and detections carry
// the conformance of each endpoint.
func TestSpecFlagCatalog(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "read", "--spec", demoSpec, "--workers", "1", "--progress", "never", demoCapture)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		`"class":"shadow_endpoint"`, `"class":"zombie_endpoint"`, `"class":"undocumented_status"`, `"class":"schema_violation"`,
		`"path":"/v1/internal/export","kind":"api"`, `"conformance":{"status":"shadow"`, `"conformance":{"status":"documented"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("events lack %s", want)
		}
	}
	if !strings.Contains(string(errOut), "analyzers      attack, conformance, risk, sensitive, graphql, behavior, discovery") {
		t.Errorf("summary: %s", errOut)
	}
}
