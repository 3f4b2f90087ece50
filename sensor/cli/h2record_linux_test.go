package cli

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	xh2 "golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/apitap/apitap/internal/testutil/netnstest"
)

// Captures of real HTTP/2 clients and servers, recorded in a network
// namespace with tcpdump: Go's net/http (h2c with prior knowledge), curl
// (--http2-prior-knowledge and --http2, the Upgrade), and grpc-go (unary,
// server, client and bidirectional streaming, gzip, errors, deadlines).
//
// go test ./sensor/cli -run TestRecordH2 -record-h2 (as root) rewrites
// testdata/h2/*.pcap and testdata/h2/MANIFEST.json; TestLiveH2 records
// fresh ones in CI and checks the exact transaction counts on them.

var recordH2Flag = flag.Bool("record-h2", false, "record testdata/h2 captures (root, tcpdump, curl)")

// h2Ports are the servers' ports in the namespace.
const (
	h2PortPrior   = 8080  // net/http: HTTP/1.1 and h2c with prior knowledge
	h2PortUpgrade = 8081  // x/net/http2/h2c: also "Upgrade: h2c"
	h2PortGRPC    = 50051 // grpc-go
)

// TestHelperH2Servers runs the servers when re-executed in the namespace.
func TestHelperH2Servers(t *testing.T) {
	if os.Getenv("APITAP_H2_SERVERS") == "" {
		t.Skip("helper process only")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/missing"):
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":"not found"}`)
			return
		case r.URL.Path == "/api/slow":
			time.Sleep(400 * time.Millisecond)
		case r.URL.Path == "/api/trailers":
			w.Header().Set("Trailer", "X-Checksum")
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"chunks":3}`)
			w.Header().Set("X-Checksum", "c0ffee")
			return
		case r.URL.Path == "/api/report" && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip"):
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			fmt.Fprint(zw, `{"rows":[`)
			for i := 0; i < 600; i++ {
				fmt.Fprintf(zw, `{"user":"user%d@example.com","total":%d},`, i*7919%1000, i*i%99991)
			}
			fmt.Fprint(zw, `{}]}`)
			zw.Close()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q,"method":%q,"got":%d,"pad":"%s"}`, r.URL.Path, r.Method, len(body), strings.Repeat("x", 500))
	})
	prior := &http.Server{Addr: fmt.Sprintf(":%d", h2PortPrior), Handler: mux}
	prior.Protocols = new(http.Protocols)
	prior.Protocols.SetHTTP1(true)
	prior.Protocols.SetUnencryptedHTTP2(true)
	go prior.ListenAndServe()
	go (&http.Server{Addr: fmt.Sprintf(":%d", h2PortUpgrade), Handler: h2c.NewHandler(mux, &xh2.Server{})}).ListenAndServe()
	lis, err := net.Listen("tcp", fmt.Sprintf(":%d", h2PortGRPC))
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	grpc_testing.RegisterTestServiceServer(s, testService{})
	fmt.Println("serving")
	s.Serve(lis)
}

// testService implements grpc.testing.TestService.
type testService struct {
	grpc_testing.UnimplementedTestServiceServer
}

func payload(n int32) *grpc_testing.Payload {
	return &grpc_testing.Payload{Body: bytes.Repeat([]byte("p"), int(n))}
}

func (testService) UnaryCall(ctx context.Context, in *grpc_testing.SimpleRequest) (*grpc_testing.SimpleResponse, error) {
	if st := in.GetResponseStatus(); st.GetCode() != 0 {
		return nil, status.Error(codes.Code(st.GetCode()), st.GetMessage())
	}
	return &grpc_testing.SimpleResponse{Payload: payload(in.GetResponseSize()), Username: "svc-reports@shop.example"}, nil
}

func (testService) StreamingOutputCall(in *grpc_testing.StreamingOutputCallRequest, s grpc.ServerStreamingServer[grpc_testing.StreamingOutputCallResponse]) error {
	for _, p := range in.GetResponseParameters() {
		if err := s.Send(&grpc_testing.StreamingOutputCallResponse{Payload: payload(p.GetSize())}); err != nil {
			return err
		}
	}
	return nil
}

func (testService) StreamingInputCall(s grpc.ClientStreamingServer[grpc_testing.StreamingInputCallRequest, grpc_testing.StreamingInputCallResponse]) error {
	var total int32
	for {
		in, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return s.SendAndClose(&grpc_testing.StreamingInputCallResponse{AggregatedPayloadSize: total})
		}
		if err != nil {
			return err
		}
		total += int32(len(in.GetPayload().GetBody()))
	}
}

func (testService) FullDuplexCall(s grpc.BidiStreamingServer[grpc_testing.StreamingOutputCallRequest, grpc_testing.StreamingOutputCallResponse]) error {
	for {
		in, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, p := range in.GetResponseParameters() {
			if err := s.Send(&grpc_testing.StreamingOutputCallResponse{Payload: payload(p.GetSize())}); err != nil {
				return err
			}
		}
	}
}

// record runs tcpdump on iface while work runs; work returns the number
// of HTTP/2 streams (requests, calls) its clients opened.
func record(t *testing.T, iface, file string, port int, work func() int) int {
	t.Helper()
	var n int
	tail := tcpdumpRecord(t, iface, file, port, func() { n = work() })
	t.Logf("%s: %d streams; tcpdump: %s", filepath.Base(file), n, tail)
	return n
}

// dropRe finds tcpdump's count of packets the kernel dropped.
var dropRe = regexp.MustCompile(`(\d+) packets? dropped by kernel`)

// tcpdumpRecord records port on iface into file while work runs, and
// returns tcpdump's closing report. A loaded machine can make the kernel
// drop a packet before tcpdump reads it: such a capture is not the
// clients' traffic, so it is recorded again (work runs again), up to
// three times.
func tcpdumpRecord(t *testing.T, iface, file string, port int, work func()) string {
	t.Helper()
	for try := 1; ; try++ {
		tail := tcpdump1(t, iface, file, port, work)
		if m := dropRe.FindStringSubmatch(tail); m == nil || m[1] == "0" || try == 3 {
			return tail
		}
		t.Logf("%s: the kernel dropped packets (%s), recording again", filepath.Base(file), tail)
	}
}

func tcpdump1(t *testing.T, iface, file string, port int, work func()) string {
	t.Helper()
	cmd := exec.Command("tcpdump", "-i", iface, "-w", file, "-U", "--immediate-mode", "-Z", "root", "-s", "0", "-n", fmt.Sprintf("tcp port %d", port))
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.Contains(sc.Text(), "listening on") {
	}
	var tail bytes.Buffer
	done := make(chan bool)
	go func() { io.Copy(&tail, stderr); close(done) }()
	work()
	time.Sleep(500 * time.Millisecond) // the last FINs and ACKs
	cmd.Process.Signal(syscall.SIGINT)
	<-done
	cmd.Wait()
	return strings.ReplaceAll(strings.TrimSpace(tail.String()), "\n", "; ")
}

// recordH2 records the captures into dir and returns the number of
// streams each holds.
func recordH2(t *testing.T, dir string) map[string]int {
	for _, tool := range []string{"tcpdump", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (apt-get install %s; .ci/run installs it)", tool, tool)
		}
	}
	n := netnstest.New(t)
	srv := n.Exec(os.Args[0], "-test.run=^TestHelperH2Servers$")
	srv.Env = append(os.Environ(), "APITAP_H2_SERVERS=1")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	for _, p := range []int{h2PortPrior, h2PortUpgrade, h2PortGRPC} {
		netnstest.WaitTCP(t, fmt.Sprintf("%s:%d", n.PeerIP, p), 10*time.Second)
	}
	counts := map[string]int{}
	counts["go_h2c.pcap"] = record(t, n.Host, filepath.Join(dir, "go_h2c.pcap"), h2PortPrior, func() int { return goClient(t, n.PeerIP) })
	counts["curl_h2c.pcap"] = record(t, n.Host, filepath.Join(dir, "curl_h2c.pcap"), h2PortPrior, func() int { return curlClient(t, n.PeerIP, h2PortPrior, "--http2-prior-knowledge") })
	counts["curl_upgrade.pcap"] = record(t, n.Host, filepath.Join(dir, "curl_upgrade.pcap"), h2PortUpgrade, func() int { return curlClient(t, n.PeerIP, h2PortUpgrade, "--http2") })
	counts["grpc_go.pcap"] = record(t, n.Host, filepath.Join(dir, "grpc_go.pcap"), h2PortGRPC, func() int { return grpcClient(t, n.PeerIP) })
	return counts
}

// goClient: Go's net/http with HTTP/2 prior knowledge, one connection:
// repeated and new paths, JSON POSTs, a gzip body, 404s, trailers, a
// burst of concurrent streams and a request cancelled by its deadline.
func goClient(t *testing.T, ip string) int {
	tr := &http.Transport{}
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	base := fmt.Sprintf("http://%s:%d", ip, h2PortPrior)
	n := 0
	do := func(ctx context.Context, method, path, body string) {
		n++
		req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MTAwMSJ9.c2lnbmF0dXJl")
		resp, err := c.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				t.Errorf("%s %s: %v", method, path, err)
			}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Errorf("%s %s: %s, not HTTP/2", method, path, resp.Proto)
		}
	}
	ctx := context.Background()
	for i := 0; i < 60; i++ {
		switch i % 6 {
		case 0:
			do(ctx, "GET", fmt.Sprintf("/api/users/%d", 1000+i%7), "")
		case 1:
			do(ctx, "GET", fmt.Sprintf("/api/products?page=%d", i%3), "")
		case 2:
			do(ctx, "POST", "/api/orders", fmt.Sprintf(`{"sku":"SKU-%05d","qty":%d,"email":"ada@example.com"}`, i, 1+i%3))
		case 3:
			do(ctx, "GET", fmt.Sprintf("/api/orders/%d", 5000+i), "")
		case 4:
			do(ctx, "GET", "/api/report", "")
		case 5:
			do(ctx, "GET", fmt.Sprintf("/api/missing/%d", i), "")
		}
		if i == 30 {
			do(ctx, "GET", "/api/trailers", "")
			done := make(chan bool)
			for k := 0; k < 8; k++ { // concurrent streams
				n++
				go func(k int) {
					resp, err := c.Get(fmt.Sprintf("%s/api/users/%d", base, 2000+k))
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					done <- true
				}(k)
			}
			for k := 0; k < 8; k++ {
				<-done
			}
			cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			do(cctx, "GET", "/api/slow", "") // reset by the client (CANCEL)
			cancel()
		}
	}
	return n
}

// curlClient: curl with several URLs. With --http2 (the Upgrade) one
// invocation fetches them all on one connection; with
// --http2-prior-knowledge each URL gets its own invocation (curl 7.88
// fails its second request on a reused prior-knowledge connection with
// "Error in the HTTP2 framing layer").
func curlClient(t *testing.T, ip string, port int, mode string) int {
	base := fmt.Sprintf("http://%s:%d", ip, port)
	paths := []string{"/api/users/1", "/api/products?page=2", "/api/users/1", "/api/orders/77", "/api/missing/1", "/api/report", "/api/users/2", "/api/trailers"}
	run := func(args ...string) {
		if out, err := exec.Command("curl", append([]string{"-s", mode}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("curl %s %v: %v\n%s", mode, args, err, out)
		}
	}
	if mode == "--http2" {
		var args []string
		for _, p := range paths {
			args = append(args, "-o", "/dev/null", base+p)
		}
		run(args...)
	} else {
		for _, p := range paths {
			run("-o", "/dev/null", "--compressed", base+p)
		}
	}
	run("-o", "/dev/null", "-H", "Content-Type: application/json", "--data", `{"sku":"SKU-1","qty":2}`, base+"/api/orders")
	return len(paths) + 1
}

// grpcClient: grpc-go against grpc.testing.TestService on one
// connection: unary calls with deadlines (grpc-timeout values change the
// HPACK table), errors, gzip, and the three streaming kinds.
func grpcClient(t *testing.T, ip string) int {
	conn, err := grpc.NewClient(fmt.Sprintf("%s:%d", ip, h2PortGRPC), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := grpc_testing.NewTestServiceClient(conn)
	n := 0
	for i := 0; i < 40; i++ {
		n++
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(5+i)*time.Second)
		req := &grpc_testing.SimpleRequest{ResponseSize: int32(10 + 30*i), FillUsername: true,
			Payload: &grpc_testing.Payload{Body: []byte(fmt.Sprintf("customer ada%d@example.com card 4111111111111111", i))}}
		var opts []grpc.CallOption
		if i%8 == 5 {
			opts = append(opts, grpc.UseCompressor(grpcgzip.Name))
		}
		if i%10 == 7 {
			req.ResponseStatus = &grpc_testing.EchoStatus{Code: int32(codes.NotFound), Message: fmt.Sprintf("no order %d", i)}
		}
		_, err := c.UnaryCall(ctx, req, opts...)
		cancel()
		if err != nil && status.Code(err) != codes.NotFound {
			t.Errorf("unary %d: %v", i, err)
		}
		switch i % 10 {
		case 2: // server streaming: 5 responses
			n++
			st, err := c.StreamingOutputCall(context.Background(), &grpc_testing.StreamingOutputCallRequest{ResponseParameters: []*grpc_testing.ResponseParameters{{Size: 10}, {Size: 20}, {Size: 30}, {Size: 40}, {Size: 50}}})
			if err != nil {
				t.Fatal(err)
			}
			for _, err := st.Recv(); err == nil; _, err = st.Recv() {
			}
		case 4: // client streaming: 4 requests
			n++
			st, err := c.StreamingInputCall(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for k := 0; k < 4; k++ {
				st.Send(&grpc_testing.StreamingInputCallRequest{Payload: payload(int32(100 * (k + 1)))})
			}
			if _, err := st.CloseAndRecv(); err != nil {
				t.Error(err)
			}
		case 6: // bidirectional: 3 ping-pongs
			n++
			st, err := c.FullDuplexCall(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for k := 0; k < 3; k++ {
				st.Send(&grpc_testing.StreamingOutputCallRequest{ResponseParameters: []*grpc_testing.ResponseParameters{{Size: int32(8 * (k + 1))}}})
				st.Recv()
			}
			st.CloseSend()
			for _, err := st.Recv(); err == nil; _, err = st.Recv() {
			}
		}
	}
	return n
}

// TestRecordH2 rewrites testdata/h2 (with -record-h2).
func TestRecordH2(t *testing.T) {
	if !*recordH2Flag {
		t.Skip("records testdata/h2 with -record-h2 (root, tcpdump, curl)")
	}
	dir := filepath.Join(repoRoot, "testdata", "h2")
	os.MkdirAll(dir, 0o755)
	counts := recordH2(t, dir)
	b, _ := json.MarshalIndent(counts, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "MANIFEST.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	// the descriptor set of grpc.testing, as protoc --include_imports writes it
	set := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(grpc_testing.File_grpc_testing_empty_proto),
		protodesc.ToFileDescriptorProto(grpc_testing.File_grpc_testing_messages_proto),
		protodesc.ToFileDescriptorProto(grpc_testing.File_grpc_testing_test_proto),
	}}
	ps, _ := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err := os.WriteFile(filepath.Join(dir, "grpc_testing.protoset"), ps, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %v", counts)
}

// TestLiveH2 records the captures anew (CI runs as root) and checks that
// apitap reports exactly one transaction per stream the clients opened.
func TestLiveH2(t *testing.T) {
	dir := t.TempDir()
	counts := recordH2(t, dir)
	for name, want := range counts {
		checkH2Counts(t, filepath.Join(dir, name), want)
	}
}
