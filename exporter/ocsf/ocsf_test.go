package ocsf_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apitap/apitap/exporter/ocsf"
	"github.com/apitap/apitap/internal/testgen/pcapgen"
	"github.com/apitap/apitap/sensor/cli"
)

// The required attributes of OCSF 1.3.0, as the schema defines them; the
// test has no network, so they are written down here.
//
// Sources: the OCSF schema repository (github.com/ocsf/ocsf-schema):
// events/base_event.json (metadata: required), the classification and
// occurrence traits (activity_id, category_uid, class_uid, severity_id,
// type_uid, time: required), events/findings/finding.json (finding_info:
// required), events/findings/detection_finding.json (adds no required
// attribute), events/application/api_activity.json (actor, api,
// src_endpoint: required), objects/metadata.json (product, version),
// objects/product.json (name; vendor_name was required in 1.0.0, we keep
// it), objects/finding_info.json (uid; title was required up to 1.3.0,
// we keep it), objects/api.json (operation), and the at_least_one
// constraints of objects/actor.json and objects/network_endpoint.json;
// checked against the schema browser pages of 1.3.0 for Detection Finding
// (schema.ocsf.io/1.3.0/classes/detection_finding,
// docs.tenzir.com/reference/ocsf/1-3-0/classes/detection_finding).
var (
	baseRequired    = []string{"activity_id", "category_uid", "class_uid", "metadata", "severity_id", "time", "type_uid"}
	classRequired   = map[int][]string{2004: {"finding_info"}, 6003: {"actor", "api", "src_endpoint"}}
	classCategory   = map[int]int{2004: 2, 6003: 6}
	classActivities = map[int][]int{2004: {0, 1, 2, 3, 99}, 6003: {0, 1, 2, 3, 4, 99}}
	objectRequired  = map[string][]string{
		"metadata":              {"product", "version"},
		"metadata.product":      {"name", "vendor_name"},
		"finding_info":          {"uid", "title"},
		"api":                   {"operation"},
		"http_response":         {"code"},
		"evidences[].data":      {"location"},
		"resources[]":           {"name", "type"},
		"observables[]":         {"name", "type_id"},
		"actor.user":            {"name"},
		"finding_info.analytic": {"type_id"},
	}
	atLeastOne = map[string][]string{
		"actor":                    {"process", "user", "invoked_by", "session", "app_name", "app_uid"},
		"src_endpoint":             {"ip", "uid", "name", "hostname", "svc_name", "instance_uid", "interface_uid", "interface_name"},
		"dst_endpoint":             {"ip", "uid", "name", "hostname", "svc_name", "instance_uid", "interface_uid", "interface_name"},
		"evidences[].src_endpoint": {"ip", "uid", "name", "hostname", "svc_name", "instance_uid", "interface_uid", "interface_name"},
		"evidences[].dst_endpoint": {"ip", "uid", "name", "hostname", "svc_name", "instance_uid", "interface_uid", "interface_name"},
	}
	severities   = map[float64]string{0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical", 6: "Fatal", 99: "Other"}
	confidences  = map[float64]string{0: "Unknown", 1: "Low", 2: "Medium", 3: "High", 99: "Other"}
	findingState = map[float64]string{0: "Unknown", 1: "New", 2: "In Progress", 3: "Suppressed", 4: "Resolved", 5: "Archived", 99: "Other"}
)

// get walks a dotted path; "x[]" takes every element of array x.
func get(v any, path string) []any {
	cur := []any{v}
	for _, p := range strings.Split(path, ".") {
		arr := strings.HasSuffix(p, "[]")
		p = strings.TrimSuffix(p, "[]")
		var next []any
		for _, c := range cur {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			x, ok := m[p]
			if !ok || x == nil {
				continue
			}
			if arr {
				if a, ok := x.([]any); ok {
					next = append(next, a...)
				}
				continue
			}
			next = append(next, x)
		}
		cur = next
	}
	return cur
}

func has(m map[string]any, k string) bool {
	v, ok := m[k]
	if !ok || v == nil {
		return false
	}
	if s, ok := v.(string); ok {
		return s != ""
	}
	return true
}

// validate checks one OCSF event against the lists above.
func validate(ev map[string]any) error {
	for _, k := range baseRequired {
		if !has(ev, k) {
			return fmt.Errorf("required %s missing", k)
		}
	}
	class := int(ev["class_uid"].(float64))
	req, ok := classRequired[class]
	if !ok {
		return fmt.Errorf("class_uid %d is not a mapped class", class)
	}
	for _, k := range req {
		if !has(ev, k) {
			return fmt.Errorf("class %d: required %s missing", class, k)
		}
	}
	if int(ev["category_uid"].(float64)) != classCategory[class] {
		return fmt.Errorf("category_uid %v for class %d", ev["category_uid"], class)
	}
	act := int(ev["activity_id"].(float64))
	if !slices.Contains(classActivities[class], act) {
		return fmt.Errorf("activity_id %d not in class %d's enum", act, class)
	}
	if int(ev["type_uid"].(float64)) != class*100+act {
		return fmt.Errorf("type_uid %v, want class_uid*100+activity_id = %d", ev["type_uid"], class*100+act)
	}
	if name := severities[ev["severity_id"].(float64)]; name == "" || ev["severity"] != name {
		return fmt.Errorf("severity_id %v with severity %v", ev["severity_id"], ev["severity"])
	}
	if c, ok := ev["confidence_id"].(float64); ok && confidences[c] != ev["confidence"] {
		return fmt.Errorf("confidence_id %v with confidence %v", c, ev["confidence"])
	}
	if class == 2004 {
		if s := findingState[ev["status_id"].(float64)]; s == "" || ev["status"] != s {
			return fmt.Errorf("status_id %v with status %v", ev["status_id"], ev["status"])
		}
	}
	if t, ok := ev["time"].(float64); !ok || t < 1e12 || t != float64(int64(t)) {
		return fmt.Errorf("time %v is not a timestamp_t (milliseconds)", ev["time"])
	}
	if get(ev, "metadata.version")[0] != ocsf.Version {
		return fmt.Errorf("metadata.version %v", get(ev, "metadata.version"))
	}
	for obj, keys := range objectRequired {
		for _, o := range get(ev, obj) {
			m, ok := o.(map[string]any)
			if !ok {
				return fmt.Errorf("%s is not an object", obj)
			}
			for _, k := range keys {
				if !has(m, k) {
					return fmt.Errorf("%s: required %s missing", obj, k)
				}
			}
		}
	}
	for obj, keys := range atLeastOne {
		for _, o := range get(ev, obj) {
			m := o.(map[string]any)
			if !slices.ContainsFunc(keys, func(k string) bool { return has(m, k) }) {
				return fmt.Errorf("%s needs at least one of %v", obj, keys)
			}
		}
	}
	if _, ok := ev["unmapped"].(map[string]any)["apitap"].(map[string]any); !ok {
		return fmt.Errorf("unmapped.apitap missing")
	}
	return nil
}

// TestOCSFRequiredFields converts every detection and transaction of the
// test captures (attacks, abuse, sensitive data, conformance) and checks
// each OCSF event against the required attributes, enums and constraints of
// OCSF 1.3.0; the sensitive capture's raw values must not appear.
func TestOCSFRequiredFields(t *testing.T) {
	captures := []string{"../../testdata/demo/demo.pcap", "../../testdata/pcaps/sensitive.pcap"}
	more, _ := filepath.Glob("../../testdata/pcaps/*.pcap")
	captures = append(captures, more...)
	conv := &ocsf.Converter{Version: "test"}
	classes := map[string]int{}
	counts := map[int]int{}
	for _, c := range captures {
		var stdout, stderr bytes.Buffer
		code := cli.Main([]string{"read", "--emit", "transaction,detection", "--workers", "1", "--quiet", "--sensor-id", "ocsf", c},
			&cli.IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", c, code, stderr.String())
		}
		for _, line := range bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n")) {
			var in struct{ Type, Class string }
			if json.Unmarshal(line, &in) != nil || !ocsf.Maps(in.Type) {
				continue
			}
			out, err := conv.Convert(in.Type, line)
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			var ev map[string]any
			if err := json.Unmarshal(out, &ev); err != nil {
				t.Fatal(err)
			}
			if err := validate(ev); err != nil {
				t.Fatalf("%s: %s event: %v\n%s", c, in.Type, err, out)
			}
			if strings.Contains(c, "sensitive") {
				for _, raw := range pcapgen.SensitiveValues {
					if bytes.Contains(out, []byte(raw)) {
						t.Fatalf("raw value %q in an OCSF event: %s", raw, out)
					}
				}
			}
			counts[int(ev["class_uid"].(float64))]++
			if in.Class != "" {
				classes[in.Class]++
			}
			again, _ := conv.Convert(in.Type, line)
			if !bytes.Equal(out, again) {
				t.Fatal("the same event converted twice differs")
			}
		}
	}
	if counts[2004] == 0 || counts[6003] == 0 {
		t.Fatalf("converted %v: the test would prove nothing", counts)
	}
	t.Logf("OCSF %s: %d Detection Findings (%d classes) and %d API Activities from %d captures, all with the required attributes", ocsf.Version, counts[2004], len(classes), counts[6003], len(captures))
}

// TestOCSFMalformed: bad input is an error, never a panic.
func TestOCSFMalformed(t *testing.T) {
	conv := &ocsf.Converter{}
	for _, in := range []string{"", "{", "[]", `{"time":"not a time"}`, `{"flow":7,"actor":7}`} {
		for _, typ := range []string{"detection", "transaction"} {
			if _, err := conv.Convert(typ, []byte(in)); err == nil {
				t.Errorf("%s %q: no error", typ, in)
			}
		}
	}
	if _, err := conv.Convert("stats", []byte("{}")); err == nil {
		t.Error("stats converted")
	}
}

// FuzzConvert: any input converts or fails cleanly.
func FuzzConvert(f *testing.F) {
	f.Add([]byte(`{"schema":"apitap/v1","type":"detection","time":"2026-01-15T10:00:21.0018Z","id":"x","class":"sqli","severity":"high","confidence":0.9,"actor":{"ip":"10.0.0.1","user":"u"},"endpoint":{"host":"h","method":"GET","path":"/p"},"evidence":[{"location":"query","name":"q","value":"[REDACTED]","rule":"r"}],"first_seen":"2026-01-15T10:00:21Z","last_seen":"2026-01-15T10:00:21Z","count":2,"action":"log"}`))
	f.Add([]byte(`{"schema":"apitap/v1","type":"transaction","time":"2026-01-15T10:00:21.0012Z","id":"t","flow":{"id":"f","client":{"ip":"10.0.1.37","port":40018},"server":{"ip":"10.0.2.10","port":80}},"seq":0,"method":"PATCH","host":"h","path":"/x","request":{"proto":"HTTP/1.1","headers":[["User-Agent","curl"]]},"status":500,"response":{"proto":"HTTP/1.1","reason":"E","headers":[]}}`))
	conv := &ocsf.Converter{Version: "fuzz"}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, typ := range []string{"detection", "transaction"} {
			out, err := conv.Convert(typ, in)
			if err == nil && !json.Valid(out) {
				t.Fatalf("invalid JSON out of %q", in)
			}
		}
	})
}
