package event

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testutil/eventtest"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/grpc"
	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/reassembly/http2"
	xh2 "golang.org/x/net/http2"
)

var t0 = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

func sampleTx() *reassembly.Transaction {
	req := &http1.Request{Method: "GET", Target: "/v1/users/7?token=abc&page=2", Path: "/v1/users/7", Query: "token=abc&page=2", Host: "api.example",
		Proto: "HTTP/1.1", Start: t0, End: t0.Add(time.Millisecond),
		Headers: []http1.Header{{Name: "Host", Value: "api.example"}, {Name: "Authorization", Value: "Bearer secret.jwt.value"}, {Name: "X-Odd", Value: "tab\there \"quoted\" \x01 \xff"}}}
	resp := &http1.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1", Start: t0.Add(2 * time.Millisecond), End: t0.Add(3 * time.Millisecond),
		Headers: []http1.Header{{Name: "Content-Type", Value: "application/json"}, {Name: "Set-Cookie", Value: "sid=s3cr3t; Path=/"}},
		Body:    http1.Body{Data: []byte(`{"ssn":"123-45-6789"}`), WireBytes: 40, Encoding: "gzip"}}
	return &reassembly.Transaction{
		Flow: reassembly.Flow{ID: "00112233445566ff", Client: netip.MustParseAddrPort("10.0.0.1:5000"), Server: netip.MustParseAddrPort("[2001:db8::1]:80"),
			VLAN: []uint16{100}, Tunnel: reassembly.Tunnel{Type: "vxlan", OuterSrc: netip.MustParseAddr("172.16.0.1"), OuterDst: netip.MustParseAddr("172.16.0.2"), ID: 42}},
		Seq:      3,
		Exchange: http1.Exchange{Request: req, Response: resp, Flags: http1.FlagGap | http1.FlagTruncated},
	}
}

func TestTransactionEvent(t *testing.T) {
	e := Encoder{Sensor: "s1"}
	line := e.AppendTransaction(nil, sampleTx())
	eventtest.Validate(t, line)
	want := `{"schema":"apitap/v1","type":"transaction","time":"2026-01-15T10:00:00Z","sensor":"s1","id":"` + string(TransactionID(nil, sampleTx())) +
		`","flow":{"id":"00112233445566ff","client":{"ip":"10.0.0.1","port":5000},"server":{"ip":"2001:db8::1","port":80},"vlan":[100],"tunnel":{"type":"vxlan","outer_src":"172.16.0.1","outer_dst":"172.16.0.2","id":42},"confirmed":false},"client":"10.0.0.1","seq":3,"protocol":"http/1.x","method":"GET","host":"api.example","path":"/v1/users/7","query":"token=[REDACTED len=3]&page=2","timings":{"request_start":"2026-01-15T10:00:00Z","request_end":"2026-01-15T10:00:00.001Z","response_start":"2026-01-15T10:00:00.002Z","response_end":"2026-01-15T10:00:00.003Z","duration_us":3000},"request":{"proto":"HTTP/1.1","headers":[["Host","api.example"],["Authorization","Bearer [REDACTED len=16]"],["X-Odd","tab\there \"quoted\" \u0001 \ufffd"]],"body":{"wire_bytes":0,"captured_bytes":0,"truncated":false}},"status":200,"response":{"proto":"HTTP/1.1","reason":"OK","headers":[["Content-Type","application/json"],["Set-Cookie","sid=[REDACTED len=6]; Path=/"]],"body":{"wire_bytes":40,"captured_bytes":21,"encoding":"gzip","truncated":false,"content_type":"application/json"}},"flags":["truncated","gap"]}` + "\n"
	if string(line) != want {
		t.Fatalf("got\n%s\nwant\n%s", line, want)
	}
	if strings.Contains(string(line), "123-45-6789") || strings.Contains(string(line), "s3cr3t") || strings.Contains(string(line), "secret.jwt") {
		t.Fatal("raw sensitive value in the event")
	}
}

func TestUnmatchedAndStats(t *testing.T) {
	e := Encoder{Sensor: "s"}
	tx := sampleTx()
	tx.Response = nil
	tx.Flags = http1.FlagUnmatchedRequest
	eventtest.Validate(t, e.AppendTransaction(nil, tx))
	tx = sampleTx()
	tx.Request = nil
	tx.Flags = http1.FlagUnmatchedResponse | http1.FlagMidStreamStart
	line := e.AppendTransaction(nil, tx)
	eventtest.Validate(t, line)
	if !strings.Contains(string(line), `"time":"2026-01-15T10:00:00.002Z"`) {
		t.Errorf("an unmatched response is timed by its start: %s", line)
	}
	st := Stats{Time: t0, Final: true, Packets: 10, Decode: []Count{{"not_tcp", 2}}, Drops: []Count{{"reassembly_flows", 1}}}
	line = e.AppendStats(nil, &st)
	eventtest.Validate(t, line)
	want := `{"schema":"apitap/v1","type":"stats","time":"2026-01-15T10:00:00Z","sensor":"s","final":true,"packets":10,"bytes":0,"flows":0,"flows_open":0,"transactions":0,"decode":{"not_tcp":2},"parse_errors":{},"drops":{"reassembly_flows":1},"flags":{},"capture_errors":{},"detections":{},"http2":{}}` + "\n"
	if string(line) != want {
		t.Fatalf("got\n%s\nwant\n%s", line, want)
	}
}

// TestGRPCTransactionEvent writes an HTTP/2 gRPC stream: protocol, the h2
// and grpc objects and the HTTP/2 flags.
func TestGRPCTransactionEvent(t *testing.T) {
	tx := sampleTx()
	tx.Protocol = reassembly.ProtoGRPC
	tx.Request.Proto, tx.Response.Proto, tx.Response.Reason = "HTTP/2", "HTTP/2", ""
	tx.Flags = 0
	tx.H2 = &http2.StreamInfo{ID: 7, Flags: http2.FlagReset | http2.FlagHeadersUnresolved, ResetCode: xh2.ErrCodeCancel, ResetByClient: true, Unresolved: 2,
		ResponseTrailers: []http1.Header{{Name: "grpc-status", Value: "5"}, {Name: "grpc-message", Value: "no user 4111111111111111"}},
		GRPC: &grpc.Call{Service: "shop.v1.Users", Method: "Get", Kind: grpc.ServerStreaming, RequestMessages: 1, ResponseMessages: 3, Status: 5,
			Message: "no user 4111111111111111", Encoding: "gzip", Decoded: grpc.DecodedWire}}
	line := (&Encoder{Sensor: "s"}).AppendTransaction(nil, tx)
	eventtest.Validate(t, line)
	for _, want := range []string{`"protocol":"grpc"`, `"h2":{"stream_id":7,"reset_code":"CANCEL","reset_by":"client","unresolved_fields":2,"response_trailers":[["grpc-status","5"],`,
		`"grpc":{"service":"shop.v1.Users","method":"Get","kind":"server_streaming","kind_from_schema":false,"request_messages":1,"response_messages":3,"status":5,"status_name":"NOT_FOUND","message":`,
		`"flags":["reset","headers_unresolved"]`} {
		if !strings.Contains(string(line), want) {
			t.Errorf("missing %s in\n%s", want, line)
		}
	}
	if strings.Contains(string(line), "4111111111111111") {
		t.Errorf("raw card number in the event: %s", line)
	}
	tx.Response.Status = 0 // an HTTP/2 :status that did not resolve
	line = (&Encoder{Sensor: "s"}).AppendTransaction(nil, tx)
	eventtest.Validate(t, line)
	if strings.Contains(string(line), `"status":0`) {
		t.Errorf("status 0 written: %s", line)
	}
}

func TestBodyContentOptIn(t *testing.T) {
	e := Encoder{Sensor: "s", BodyBytes: 5}
	line := e.AppendTransaction(nil, sampleTx())
	eventtest.Validate(t, line)
	if !strings.Contains(string(line), `"content":"{\"ssn"`) {
		t.Fatalf("content missing or not cut at 5 bytes: %s", line)
	}
}

func TestAppendStringValidJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "\x00\x1f\x7f", "\xff\xfe", "é€😀", "\u2028\u2029", `"\`, "a\xc3"} {
		b := AppendString(nil, s)
		var out string
		if err := json.Unmarshal(b, &out); err != nil {
			t.Errorf("%q -> %s: %v", s, b, err)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	e := Encoder{Sensor: "s"}
	tx := sampleTx()
	tx.Request.Query = "page=2"
	tx.Request.Headers = tx.Request.Headers[:1]
	tx.Response.Headers = tx.Response.Headers[:1]
	buf := make([]byte, 0, 8192)
	if n := testing.AllocsPerRun(100, func() { buf = e.AppendTransaction(buf[:0], tx) }); n != 0 {
		t.Fatalf("%v allocations per transaction event", n)
	}
}

func BenchmarkAppendTransaction(b *testing.B) {
	e := Encoder{Sensor: "s"}
	tx := sampleTx()
	buf := make([]byte, 0, 8192)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = e.AppendTransaction(buf[:0], tx)
	}
	b.SetBytes(int64(len(buf)))
}
