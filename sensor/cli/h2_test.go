package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apitap/apitap/internal/testutil/eventtest"
)

// h2Event is what the HTTP/2 tests read of a transaction event.
type h2Event struct {
	Type     string          `json:"type"`
	Protocol string          `json:"protocol"`
	Method   string          `json:"method"`
	Path     string          `json:"path"`
	Status   int             `json:"status"`
	Flags    json.RawMessage `json:"flags"`
	H2       *struct {
		StreamID uint32 `json:"stream_id"`
	} `json:"h2"`
	GRPC *struct {
		Service          string `json:"service"`
		Method           string `json:"method"`
		Kind             string `json:"kind"`
		RequestMessages  int    `json:"request_messages"`
		ResponseMessages int    `json:"response_messages"`
		Status           *int   `json:"status"`
		Decoded          string `json:"decoded"`
	} `json:"grpc"`
	Request *struct {
		Body struct {
			Content string `json:"content"`
		} `json:"body"`
	} `json:"request"`
	HTTP2 map[string]uint64 `json:"http2"`
}

func readH2(t *testing.T, args ...string) []h2Event {
	t.Helper()
	code, out, errOut := runCLI(t, nil, append([]string{"read", "--emit", "transaction,stats", "--workers", "1", "--sensor-id", "h2", "--progress", "never", "--quiet"}, args...)...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	eventtest.ValidateStream(t, bytes.NewReader(out))
	var evs []h2Event
	for _, line := range bytes.Split(out, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e h2Event
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	return evs
}

// checkH2Counts: one HTTP/2 transaction per stream the clients opened, no
// HTTP/1.x one, every HTTP/2 request with its method and path.
func checkH2Counts(t *testing.T, capFile string, want int) {
	t.Helper()
	n := 0
	for _, e := range readH2(t, capFile) {
		if e.Type != "transaction" {
			continue
		}
		n++
		if e.Protocol == "http/1.x" || e.H2 == nil || e.Method == "" || e.Path == "" {
			t.Errorf("%s: %+v", filepath.Base(capFile), e)
		}
	}
	if n != want {
		t.Errorf("%s: %d transactions, the clients opened %d streams", filepath.Base(capFile), n, want)
	}
}

// TestH2RealClients: the recorded captures of real clients and servers
// (testdata/h2) give exactly one transaction per stream.
func TestH2RealClients(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "testdata", "h2", "MANIFEST.json"))
	if err != nil {
		t.Fatal(err)
	}
	var man map[string]int
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	for name, want := range man {
		t.Run(name, func(t *testing.T) { checkH2Counts(t, filepath.Join(repoRoot, "testdata", "h2", name), want) })
	}
}

// TestH2GRPCDescriptors reads the grpc-go capture with and without the
// grpc.testing descriptor set: the method catalog, streaming kinds,
// message counts and statuses, and messages with field names.
func TestH2GRPCDescriptors(t *testing.T) {
	capFile := filepath.Join(repoRoot, "testdata", "h2", "grpc_go.pcap")
	kinds := map[string]string{"UnaryCall": "unary", "StreamingOutputCall": "server_streaming", "StreamingInputCall": "client_streaming", "FullDuplexCall": "bidi_streaming"}
	for _, protos := range []bool{false, true} {
		args := []string{"--body-bytes", "200"}
		if protos {
			args = append(args, "--proto-descriptors", filepath.Join(repoRoot, "testdata", "h2", "grpc_testing.protoset"))
		}
		seen := map[string]int{}
		notFound := 0
		for _, e := range readH2(t, append(args, capFile)...) {
			if e.Type != "transaction" {
				continue
			}
			g := e.GRPC
			if e.Protocol != "grpc" || g == nil || g.Service != "grpc.testing.TestService" {
				t.Fatalf("not a gRPC call: %+v", e)
			}
			seen[g.Method]++
			if kinds[g.Method] != g.Kind {
				t.Errorf("%s: kind %s", g.Method, g.Kind)
			}
			switch g.Method {
			case "StreamingOutputCall":
				if g.ResponseMessages != 5 {
					t.Errorf("server streaming: %d responses", g.ResponseMessages)
				}
			case "StreamingInputCall":
				if g.RequestMessages != 4 {
					t.Errorf("client streaming: %d requests", g.RequestMessages)
				}
			}
			if g.Status != nil && *g.Status == 5 {
				notFound++
			}
			want := "wire"
			if protos {
				want = "descriptor"
			}
			if g.Decoded != want {
				t.Errorf("%s decoded %s, want %s", g.Method, g.Decoded, want)
			}
			if g.Method == "UnaryCall" && protos && !strings.Contains(e.Request.Body.Content, `"response_size":`) {
				t.Errorf("unary request with descriptors: %s", e.Request.Body.Content)
			}
		}
		if seen["UnaryCall"] != 40 || seen["StreamingOutputCall"] != 4 || seen["StreamingInputCall"] != 4 || seen["FullDuplexCall"] != 4 || notFound != 4 {
			t.Errorf("calls %v, NOT_FOUND %d", seen, notFound)
		}
	}
}

// TestGRPCCatalogOpenAPI: the demo's gRPC methods in the catalog (literal
// paths, the grpc object) and in the OpenAPI export (x-grpc, tags,
// application/grpc with the schemas inferred from the messages).
func TestGRPCCatalogOpenAPI(t *testing.T) {
	protos := filepath.Join(repoRoot, "testdata", "demo", "shop.protoset")
	code, out, errOut := runCLI(t, nil, "catalog", "--format", "json", "--proto-descriptors", protos, "--quiet", demoCapture)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var cat struct {
		Endpoints []struct {
			Host, Path    string
			GRPC          *struct{ Service, Method, Kind string }
			RequestSchema map[string]any `json:"request_schema"`
		}
	}
	if err := json.Unmarshal(out, &cat); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range cat.Endpoints {
		if e.Host != "payments.shop.internal:50051" {
			continue
		}
		found++
		if e.GRPC == nil || "/"+e.GRPC.Service+"/"+e.GRPC.Method != e.Path {
			t.Errorf("%s: %+v", e.Path, e.GRPC)
		}
		if e.Path == "/shop.v1.Payments/Charge" {
			props, _ := e.RequestSchema["properties"].(map[string]any)
			if props["card_number"] == nil || props["customer_email"] == nil {
				t.Errorf("Charge request schema without field names: %v", e.RequestSchema)
			}
		}
		if e.Path == "/shop.v1.Inventory/SyncStock" && e.GRPC.Kind != "bidi_streaming" {
			t.Errorf("SyncStock kind %s", e.GRPC.Kind)
		}
	}
	if found != 5 {
		t.Errorf("%d gRPC methods in the catalog, want 5", found)
	}
	code, out, errOut = runCLI(t, nil, "catalog", "--format", "openapi", "--proto-descriptors", protos, "--quiet", demoCapture)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"/shop.v1.Orders/WatchOrders:", "x-grpc:", "kind: server_streaming", "application/grpc:", "- shop.v1.Orders", "card_number:"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("OpenAPI export lacks %q", want)
		}
	}
}
