package analyzertest

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// Collector is an analyzer.Emitter that keeps copies of the detections.
type Collector struct {
	Detections []event.Detection
}

// Detection implements analyzer.Emitter.
func (c *Collector) Detection(d *event.Detection) { c.Detections = append(c.Detections, *d) }

// Reset forgets what was collected.
func (c *Collector) Reset() { c.Detections = c.Detections[:0] }

// Classes lists the classes collected, in order.
func (c *Collector) Classes() []string {
	out := make([]string, 0, len(c.Detections))
	for i := range c.Detections {
		out = append(out, c.Detections[i].Class)
	}
	return out
}

// Count counts the detections of class.
func (c *Collector) Count(class string) int {
	n := 0
	for i := range c.Detections {
		if c.Detections[i].Class == class {
			n++
		}
	}
	return n
}

// Has says whether a detection of class was collected.
func (c *Collector) Has(class string) bool { return slices.Contains(c.Classes(), class) }

// T0 is the capture time transactions start at unless At says otherwise.
var T0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

// Tx builds a transaction: NewTx("GET", "/v1/users/1?expand=orders"), then
// the setters, then Build. Without Status there is no response.
type Tx struct {
	tx   reassembly.Transaction
	req  http1.Request
	resp *http1.Response
}

// NewTx starts a request for target (path and optional query) to host
// api.example from 203.0.113.5:40000 to 10.0.0.1:80 at T0.
func NewTx(method, target string) *Tx {
	b := &Tx{}
	path, query, _ := strings.Cut(target, "?")
	b.req = http1.Request{Method: method, Target: target, Path: path, Query: query, Host: "api.example", Proto: "HTTP/1.1", Start: T0, End: T0}
	b.tx.Flow = reassembly.Flow{Client: netip.MustParseAddrPort("203.0.113.5:40000"), Server: netip.MustParseAddrPort("10.0.0.1:80"), Confirmed: true}
	return b
}

// Host sets the Host header's value.
func (b *Tx) Host(h string) *Tx { b.req.Host = h; return b }

// Header adds a request header.
func (b *Tx) Header(name, value string) *Tx {
	b.req.Headers = append(b.req.Headers, http1.Header{Name: name, Value: value})
	return b
}

// Body sets the request body and its Content-Type.
func (b *Tx) Body(contentType, body string) *Tx {
	b.req.Body.Data = []byte(body)
	b.req.Body.WireBytes = int64(len(body))
	return b.Header("Content-Type", contentType)
}

// Status adds a response with status s.
func (b *Tx) Status(s int) *Tx {
	if b.resp == nil {
		b.resp = &http1.Response{Proto: "HTTP/1.1", Start: b.req.End, End: b.req.End}
	}
	b.resp.Status = s
	return b
}

// RespHeader adds a response header (a 200 response if there is none).
func (b *Tx) RespHeader(name, value string) *Tx {
	if b.resp == nil {
		b.Status(200)
	}
	b.resp.Headers = append(b.resp.Headers, http1.Header{Name: name, Value: value})
	return b
}

// RespBody sets the response body and its Content-Type (a 200 response if
// there is none).
func (b *Tx) RespBody(contentType, body string) *Tx {
	if b.resp == nil {
		b.Status(200)
	}
	b.resp.Body.Data = []byte(body)
	b.resp.Body.WireBytes = int64(len(body))
	return b.RespHeader("Content-Type", contentType)
}

// From sets the client address and port ("198.51.100.7:51000").
func (b *Tx) From(addrPort string) *Tx {
	b.tx.Flow.Client = netip.MustParseAddrPort(addrPort)
	return b
}

// To sets the server address and port.
func (b *Tx) To(addrPort string) *Tx {
	b.tx.Flow.Server = netip.MustParseAddrPort(addrPort)
	return b
}

// At sets the capture time of the request (and of the response, d later).
func (b *Tx) At(t time.Time, d time.Duration) *Tx {
	b.req.Start, b.req.End = t, t
	if b.resp != nil {
		b.resp.Start, b.resp.End = t.Add(d), t.Add(d)
	}
	return b
}

// Unconfirmed marks the flow as not confirmed (no handshake or answer).
func (b *Tx) Unconfirmed() *Tx { b.tx.Flow.Confirmed = false; return b }

// Build returns the transaction (a new one on every call).
func (b *Tx) Build() *reassembly.Transaction {
	tx := b.tx
	req := b.req
	req.Headers = slices.Clone(req.Headers)
	tx.Request = &req
	if b.resp != nil {
		resp := *b.resp
		resp.Headers = slices.Clone(resp.Headers)
		tx.Response = &resp
	}
	return &tx
}

// Golden compares got with the file at path; with -update (when the test
// binary defines that flag) or APITAP_UPDATE_GOLDEN=1 it rewrites the file.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	update := os.Getenv("APITAP_UPDATE_GOLDEN") == "1"
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		update = true
	}
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with APITAP_UPDATE_GOLDEN=1 to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w []byte
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if !bytes.Equal(g, w) {
				t.Fatalf("%s differs at line %d (APITAP_UPDATE_GOLDEN=1 rewrites it if the change is intended):\n got: %s\nwant: %s", path, i+1, g, w)
			}
		}
	}
}
