package http1

import (
	"bufio"
	"os"
	"path/filepath"

	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

var t0 = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

// step is one event fed to a Conn.
type step struct {
	dir  Dir
	data string
	gap  int  // when non-zero: a Gap of this many bytes instead of data
	fin  bool // CloseDir
}

func c2s(s string) step { return step{dir: DirA, data: s} }
func s2c(s string) step { return step{dir: DirB, data: s} }

// summary renders exchanges compactly for comparison.
func summary(ex *Exchange) string {
	var b strings.Builder
	if ex.Request != nil {
		fmt.Fprintf(&b, "%s %s", ex.Request.Method, ex.Request.Target)
		if len(ex.Request.Body.Bytes()) > 0 {
			fmt.Fprintf(&b, " [%s]", ex.Request.Body.Bytes())
		}
	} else {
		b.WriteString("-")
	}
	b.WriteString(" => ")
	if ex.Response != nil {
		fmt.Fprintf(&b, "%d", ex.Response.Status)
		if ex.Response.Interim > 0 {
			fmt.Fprintf(&b, " (+%d interim)", ex.Response.Interim)
		}
		if len(ex.Response.Body.Bytes()) > 0 {
			d := ex.Response.Body.Bytes()
			if len(d) > 40 {
				d = d[:40]
			}
			fmt.Fprintf(&b, " [%s]", d)
		}
	} else {
		b.WriteString("-")
	}
	for i, n := range FlagNames {
		if ex.AllFlags()&(1<<i) != 0 {
			b.WriteString(" " + n)
		}
	}
	return b.String()
}

func run(steps []step, lim Limits, setup func(c *Conn)) ([]string, *Stats) {
	var out []string
	st := &Stats{}
	c := NewConn(&lim, st, func(ex *Exchange) { out = append(out, summary(ex)) })
	if setup != nil {
		setup(c)
	} else {
		c.SetClient(DirA)
	}
	for _, s := range steps {
		switch {
		case s.gap != 0:
			c.Gap(s.dir, s.gap, t0)
		case s.fin:
			c.CloseDir(s.dir, t0)
		default:
			c.Data(s.dir, []byte(s.data), t0, t0)
		}
	}
	c.Close(t0)
	return out, st
}

func gz(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func zl(s string) string {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func br(s string) string {
	var b bytes.Buffer
	w := brotli.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func zs(s string) string {
	e, _ := zstd.NewWriter(nil)
	return string(e.EncodeAll([]byte(s), nil))
}

func resp(status int, headers, body string) string {
	return fmt.Sprintf("HTTP/1.1 %d X\r\n%sContent-Length: %d\r\n\r\n%s", status, headers, len(body), body)
}

const getA = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
const getB = "GET /b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"

var bomb = gz(strings.Repeat("\x00", 10<<20))

var cases = []struct {
	name  string
	steps []step
	want  []string
	lim   Limits
	setup func(*Conn)
}{
	{"simple", []step{c2s(getA), s2c(resp(200, "", "hello"))}, []string{"GET /a => 200 [hello]"}, Limits{}, nil},
	{"pipelining", []step{c2s(getA + getB + getA), s2c(resp(200, "", "1") + resp(404, "", "2")), s2c(resp(500, "", "3"))},
		[]string{"GET /a => 200 [1]", "GET /b?x=1 => 404 [2]", "GET /a => 500 [3]"}, Limits{}, nil},
	{"post body", []step{c2s("POST /p HTTP/1.1\r\nContent-Length: 7\r\n\r\n{\"a\":1}"), s2c(resp(201, "", ""))}, []string{`POST /p [{"a":1}] => 201`}, Limits{}, nil},
	{"chunked with extensions and trailers", []step{c2s(getA), s2c("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"), c2s(getB), s2c(resp(200, "", "ok"))},
		[]string{"GET /a => 200 [hello world]", "GET /b?x=1 => 200 [ok]"}, Limits{}, nil},
	{"gzip", []step{c2s(getA), s2c(resp(200, "Content-Encoding: gzip\r\n", gz(`{"gz":true}`)))}, []string{`GET /a => 200 [{"gz":true}]`}, Limits{}, nil},
	{"deflate zlib", []step{c2s(getA), s2c(resp(200, "Content-Encoding: deflate\r\n", zl(`{"zl":1}`)))}, []string{`GET /a => 200 [{"zl":1}]`}, Limits{}, nil},
	{"br", []step{c2s(getA), s2c(resp(200, "Content-Encoding: br\r\n", br(`{"br":1}`)))}, []string{`GET /a => 200 [{"br":1}]`}, Limits{}, nil},
	{"zstd", []step{c2s(getA), s2c(resp(200, "Content-Encoding: zstd\r\n", zs(`{"zs":1}`)))}, []string{`GET /a => 200 [{"zs":1}]`}, Limits{}, nil},
	{"bad gzip", []step{c2s(getA), s2c(resp(200, "Content-Encoding: gzip\r\n", "notgzip"))}, []string{"GET /a => 200 [notgzip] decode_error"}, Limits{}, nil},
	{"decompression bomb", []step{c2s(getA), s2c(resp(200, "Content-Encoding: gzip\r\n", bomb))}, []string{"GET /a => 200 [" + strings.Repeat("\x00", 40) + "] truncated"}, Limits{}, nil},
	{"100 continue", []step{c2s("PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"), s2c("HTTP/1.1 100 Continue\r\n\r\n"), c2s("ok"), s2c(resp(200, "", "done"))},
		[]string{"PUT /u [ok] => 200 (+1 interim) [done]"}, Limits{}, nil},
	{"head 204 304", []step{c2s("HEAD /h HTTP/1.1\r\n\r\n" + getA + getB), s2c("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n")},
		[]string{"HEAD /h => 200", "GET /a => 204", "GET /b?x=1 => 304"}, Limits{}, nil},
	{"upgrade", []step{c2s("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), s2c("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"), c2s("\x81\x85garbage")},
		[]string{"GET /ws => 101 upgrade"}, Limits{}, nil},
	{"connect", []step{c2s("CONNECT api.example:443 HTTP/1.1\r\nHost: api.example:443\r\n\r\n"), s2c("HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01binary")},
		[]string{"CONNECT api.example:443 => 200 connect"}, Limits{}, nil},
	{"close delimited", []step{c2s("GET /old HTTP/1.0\r\n\r\n"), s2c("HTTP/1.0 200 OK\r\n\r\nall of it"), {dir: DirB, fin: true}},
		[]string{"GET /old => 200 [all of it]"}, Limits{}, nil},
	{"cl and te conflict", []step{c2s(getA), s2c("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")}, []string{"GET /a => 200 [ok] parse_error"}, Limits{}, nil},
	{"duplicate identical cl", []step{c2s(getA), s2c("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok")}, []string{"GET /a => 200 [ok] lenient_framing"}, Limits{}, nil},
	{"obs-fold", []step{c2s("GET /f HTTP/1.1\r\nX-Long: a\r\n b\r\n\r\n"), s2c(resp(200, "", ""))}, []string{"GET /f => 200 parse_error lenient_headers"}, Limits{}, nil},
	{"space before colon", []step{c2s("GET /s HTTP/1.1\r\nHost : evil\r\n\r\n"), s2c(resp(200, "", ""))}, []string{"GET /s => 200 parse_error lenient_headers"}, Limits{}, nil},
	{"too many headers", []step{c2s("GET /m HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), s2c(resp(200, "", ""))}, []string{"GET /m => 200 headers_truncated"}, Limits{MaxHeaders: 2}, nil},
	{"header too large then recovers", []step{c2s("GET /big HTTP/1.1\r\nX: " + strings.Repeat("a", 300) + "\r\n\r\n" + getB), s2c(resp(400, "", "")), s2c(resp(200, "", "b"))},
		[]string{"GET /big => 400 headers_truncated", "GET /b?x=1 => 200 [b]"}, Limits{MaxHeaderBytes: 128}, nil},
	{"body truncated at limit", []step{c2s(getA), s2c(resp(200, "", "0123456789"))}, []string{"GET /a => 200 [0123] truncated"}, Limits{MaxBodyBytes: 4}, nil},
	{"mid-stream start in a body", []step{s2c("dy of an earlier response\r\n"), s2c(resp(200, "", "x")), c2s("s=1 HTTP/1.1\r\n\r\n" + getB), s2c(resp(200, "", "y"))},
		[]string{"- => 200 [x] mid_stream_start unmatched_response", "GET /b?x=1 => 200 [y] mid_stream_start"}, Limits{}, func(c *Conn) { c.SetMidStream() }},
	{"gap in body then next parses", []step{c2s(getA), s2c("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01"), {dir: DirB, gap: 4}, s2c("6789"), c2s(getB), s2c(resp(200, "", "next"))},
		[]string{"GET /a => 200 [016789] truncated gap", "GET /b?x=1 => 200 [next]"}, Limits{}, nil},
	{"gap in chunked body", []step{c2s(getA), s2c("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n01"), {dir: DirB, gap: 100}, s2c("garbage\r\n"), c2s(getB), s2c(resp(200, "", "next"))},
		[]string{"GET /a => 200 [01] truncated gap", "GET /b?x=1 => 200 [next]"}, Limits{}, nil},
	{"unknown gap in head", []step{c2s(getA), s2c("HTTP/1.1 200"), {dir: DirB, gap: -1}, c2s(getB), s2c(resp(200, "", "b"))},
		[]string{"GET /a => - gap unmatched_request", "GET /b?x=1 => 200 [b]"}, Limits{}, nil},
	{"unmatched request", []step{c2s(getA)}, []string{"GET /a => - unmatched_request"}, Limits{}, nil},
	{"unmatched response", []step{s2c(resp(200, "", "z"))}, []string{"- => 200 [z] unmatched_response"}, Limits{}, nil},
	{"truncated at close", []step{c2s(getA), s2c("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n012")}, []string{"GET /a => 200 [012] truncated"}, Limits{}, nil},
	{"pipeline overflow", []step{c2s(getA + getA + getB), s2c(resp(200, "", "1"))}, []string{"GET /a => - unmatched_request", "GET /a => 200 [1]", "GET /b?x=1 => - unmatched_request"}, Limits{MaxPipelined: 2}, nil},
	{"roles learned from content", []step{{dir: DirB, data: getA}, {dir: DirA, data: resp(200, "", "r")}}, []string{"GET /a => 200 [r]"}, Limits{}, func(*Conn) {}},
	{"bare LF", []step{c2s("GET /lf HTTP/1.1\nHost: h\n\n"), s2c("HTTP/1.1 200 OK\nContent-Length: 2\n\nok")}, []string{"GET /lf => 200 [ok]"}, Limits{}, nil},
	{"absolute form", []step{c2s("GET http://proxy.example/p/q?z=9 HTTP/1.1\r\n\r\n"), s2c(resp(200, "", ""))}, []string{"GET http://proxy.example/p/q?z=9 => 200"}, Limits{}, nil},
	// lenient start lines (servers accept them; flagged)
	{"status line lower case", []step{c2s(getA), s2c("http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")}, []string{"GET /a => 200 [ok] lenient_start_line"}, Limits{}, nil},
	{"status line odd versions", []step{c2s(getA + getA + getA), s2c("HTTP/1.01 200 OK\r\nContent-Length: 1\r\n\r\n1HTTP/2.0 201 OK\r\nContent-Length: 1\r\n\r\n2HTTP/1. 202 OK\r\nContent-Length: 1\r\n\r\n3")},
		[]string{"GET /a => 200 [1] lenient_start_line", "GET /a => 201 [2] lenient_start_line", "GET /a => 202 [3] lenient_start_line"}, Limits{}, nil},
	{"status with leading zero", []step{c2s(getA), s2c("HTTP/1.1 0200 OK\r\nContent-Length: 2\r\n\r\nok")}, []string{"GET /a => 200 [ok] lenient_start_line"}, Limits{}, nil},
	{"tabs and NUL in status line", []step{c2s(getA + getB), s2c("HTTP/1.1\t200\tOK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200\x00OK\r\nContent-Length: 1\r\n\r\nb")},
		[]string{"GET /a => 200 [a] lenient_start_line", "GET /b?x=1 => 200 [b] lenient_start_line"}, Limits{}, nil},
	{"head ending in CR CR LF", []step{c2s(getA), s2c("HTTP/1.1 200 OK\nContent-Length: 2\n\r\r\nok")}, []string{"GET /a => 200 [ok] lenient_headers"}, Limits{}, nil},
	{"request version cut", []step{c2s("GET /v HTTP/1.\r\n\r\n"), s2c(resp(200, "", ""))}, []string{"GET /v => 200 lenient_start_line"}, Limits{}, nil},
	{"request without target", []step{c2s("GET HTTP/1.1\r\nHost: h\r\n\r\n"), s2c(resp(400, "", ""))}, []string{"GET HTTP/1.1 => 400 lenient_start_line"}, Limits{}, nil},
	{"request double spaces", []step{c2s("POST  /d  HTTP/1.0\r\nContent-Length: 1\r\n\r\nx"), s2c(resp(200, "", ""))}, []string{"POST /d [x] => 200 lenient_start_line"}, Limits{}, nil},
	{"space inside target", []step{c2s("GET /a b HTTP/1.1\r\n\r\n"), s2c(resp(400, "", ""))}, []string{"GET /a => 400 lenient_start_line"}, Limits{}, nil},
	{"http/0.9", []step{c2s("GET /old09\r\n"), s2c("<html>old</html>"), {dir: DirB, fin: true}}, []string{"GET /old09 => 0 [<html>old</html>] http09"}, Limits{}, nil},
	// Content-Length edge cases and framing ambiguities
	{"cl leading zeros", []step{c2s("POST /z HTTP/1.1\r\nContent-Length: 0000000000000000000000000002\r\n\r\nok"), s2c(resp(200, "", ""))}, []string{"POST /z [ok] => 200 lenient_framing"}, Limits{}, nil},
	{"cl negative", []step{c2s("POST /n HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), s2c(resp(400, "", ""))}, []string{"POST /n => 400 parse_error"}, Limits{}, nil},
	{"cl overflow", []step{c2s("POST /o HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"), s2c(resp(400, "", ""))}, []string{"POST /o => 400 parse_error"}, Limits{}, nil},
	{"cl differing", []step{c2s("POST /c HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), s2c(resp(400, "", ""))}, []string{"POST /c => 400 parse_error request_smuggling"}, Limits{}, nil},
	{"cl list of equal values", []step{c2s("POST /l HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nok"), s2c(resp(200, "", ""))}, []string{"POST /l [ok] => 200 lenient_framing"}, Limits{}, nil},
	{"cl and te in a request", []step{c2s("POST /t HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"), s2c(resp(200, "", ""))}, []string{"POST /t [ok] => 200 parse_error request_smuggling"}, Limits{}, nil},
	{"te not exactly chunked", []step{c2s("POST /t HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"), s2c(resp(200, "", ""))}, []string{"POST /t [ok] => 200 request_smuggling"}, Limits{}, nil},
	{"te with space before colon", []step{c2s("POST /t HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n"), s2c(resp(400, "", ""))}, []string{"POST /t => 400 parse_error lenient_headers request_smuggling"}, Limits{}, nil},
	// what was seen is reported
	{"request head cut by the end", []step{c2s(getA), s2c(resp(200, "", "")), c2s("GET /cut HTTP/1.1\r\nHost: h\r\nX-Part")}, []string{"GET /a => 200", "GET /cut => - truncated unmatched_request"}, Limits{}, nil},
	{"unanswered request head cut by the end", []step{c2s("GET /cut HTTP/1.1\r\nHost: h\r\nX-Part")}, nil, Limits{}, nil},
	{"response head cut by the end", []step{c2s(getA), s2c("HTTP/1.1 503 Busy\r\nRetry-")}, []string{"GET /a => 503 truncated"}, Limits{}, nil},
	// CONNECT tunnels
	{"connect with clear http inside", []step{c2s("CONNECT api.example:80 HTTP/1.1\r\nHost: api.example:80\r\n\r\n"), s2c("HTTP/1.1 200 Connection established\r\n\r\n"), c2s(getA), s2c(resp(200, "", "in"))},
		[]string{"CONNECT api.example:80 => 200 connect", "GET /a => 200 [in] tunnelled"}, Limits{}, nil},
	{"garbage then request", []step{c2s("\x16\x03\x01 tls junk\r\n" + getA), s2c(resp(200, "", "a"))}, []string{"GET /a => 200 [a]"}, Limits{}, nil},
}

func TestConn(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := run(tc.steps, tc.lim, tc.setup)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestSplitAnywhere feeds every case split at random points and one byte
// at a time: the result must not depend on segmentation.
func TestSplitAnywhere(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, tc := range cases {
		if tc.name == "decompression bomb" {
			continue // large: covered by TestConn
		}
		t.Run(tc.name, func(t *testing.T) {
			want, _ := run(tc.steps, tc.lim, tc.setup)
			for trial := 0; trial < 20; trial++ {
				var steps []step
				for _, s := range tc.steps {
					if s.gap != 0 || s.fin || len(s.data) < 2 {
						steps = append(steps, s)
						continue
					}
					d := s.data
					for len(d) > 0 {
						n := 1
						if trial > 0 {
							n = 1 + r.IntN(len(d))
						}
						steps = append(steps, step{dir: s.dir, data: d[:n]})
						d = d[n:]
					}
				}
				got, _ := run(steps, tc.lim, tc.setup)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("trial %d: got:\n%s\nwant:\n%s", trial, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}
}

func TestStringsSurviveReuse(t *testing.T) {
	var keep []string
	lim := Limits{}
	c := NewConn(&lim, &Stats{}, func(ex *Exchange) { keep = append(keep, ex.Request.Path, ex.Request.Headers[0].Value) })
	c.SetClient(DirA)
	for i := 0; i < 3; i++ {
		c.Data(DirA, []byte(fmt.Sprintf("GET /p%d HTTP/1.1\r\nHost: h%d\r\n\r\n", i, i)), t0, t0)
		c.Data(DirB, []byte(resp(200, "", "")), t0, t0)
	}
	if strings.Join(keep, ",") != "/p0,h0,/p1,h1,/p2,h2" {
		t.Fatal(keep)
	}
}

func FuzzConn(f *testing.F) {
	for _, tc := range cases {
		var a, b []byte
		for _, s := range tc.steps {
			if s.dir == DirA {
				a = append(a, s.data...)
			} else {
				b = append(b, s.data...)
			}
		}
		if len(a)+len(b) < 4096 {
			f.Add(a, b, uint16(7), uint8(0))
		}
	}
	// and the TCP payloads of the test captures, per direction
	files, _ := filepath.Glob("../../testdata/pcaps/*.pcap")
	for _, name := range files {
		if a, b := capturePayloads(name); len(a)+len(b) > 0 && len(a)+len(b) < 64<<10 {
			f.Add(a, b, uint16(1447), uint8(0))
		}
	}
	f.Fuzz(func(t *testing.T, a, b []byte, split uint16, mode uint8) {
		bud := &Budget{Max: 400}
		lim := Limits{MaxBodyBytes: 64, MaxHeaderBytes: 512, MaxHeaders: 8, MaxPipelined: 4, Budget: bud}
		c := NewConn(&lim, &Stats{}, func(ex *Exchange) {
			if ex.Request == nil && ex.Response == nil {
				t.Fatal("empty exchange")
			}
			if ex.Request != nil && (len(ex.Request.Body.Bytes()) > 64 || len(ex.Request.Headers) > 8) {
				t.Fatal("request exceeds limits")
			}
			if ex.Response != nil && (len(ex.Response.Body.Bytes()) > 64 || len(ex.Response.Headers) > 8) {
				t.Fatal("response exceeds limits")
			}
		})
		switch mode % 3 {
		case 0:
			c.SetClient(DirA)
		case 1:
			c.SetMidStream()
		}
		n := int(split%64) + 1
		for len(a) > 0 || len(b) > 0 {
			if len(a) > 0 {
				k := min(n, len(a))
				c.Data(DirA, a[:k], t0, t0)
				a = a[k:]
			}
			if len(b) > 0 {
				k := min(n, len(b))
				if mode&4 != 0 && k > 3 {
					c.GapAt(DirB, 3, t0, mode&8 != 0) // a lost segment (at a message start, says mode&8)
					b = b[3:]
					continue
				}
				if mode&16 != 0 && len(a) > 0 && k > 5 {
					c.GapAt(DirA, 5, t0, mode&8 != 0) // and a lost request segment
					a = a[min(5, len(a)):]
				}
				c.Data(DirB, b[:k], t0, t0)
				b = b[k:]
			}
		}
		c.Close(t0)
		if bud.Used != 0 {
			t.Fatalf("budget not returned after Close: %d bytes held", bud.Used)
		}
		if c.Reset(&lim, &Stats{}, nil); bud.Used != 0 {
			t.Fatalf("budget not returned after Reset: %d", bud.Used)
		}
	})
}

func TestBudget(t *testing.T) {
	bud := &Budget{Max: 100}
	lim := Limits{Budget: bud}
	var got []string
	c := NewConn(&lim, &Stats{}, func(ex *Exchange) {
		got = append(got, summary(ex))
		if bud.Used > bud.Max {
			t.Fatalf("budget exceeded: %d", bud.Used)
		}
	})
	c.SetClient(DirA)
	big := strings.Repeat("b", 1000)
	c.Data(DirA, []byte("POST /a HTTP/1.1\r\nContent-Length: 60\r\n\r\n"+strings.Repeat("a", 60)+getB), t0, t0)
	if bud.Used != 60 {
		t.Fatalf("pending request body: %d bytes charged, want 60", bud.Used)
	}
	c.Data(DirB, []byte(resp(200, "", big)+resp(200, "", "ok")), t0, t0)
	c.Close(t0)
	want := "POST /a [" + strings.Repeat("a", 60) + "] => 200 [" + strings.Repeat("b", 40) + "] truncated\nGET /b?x=1 => 200 [ok]"
	if strings.Join(got, "\n") != want {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
	if bud.Used != 0 || bud.Denied == 0 {
		t.Fatalf("used %d denied %d", bud.Used, bud.Denied)
	}
	// a head that does not fit is dropped and counted, and parsing goes on
	c.Reset(&lim, &Stats{}, func(ex *Exchange) { got = append(got, summary(ex)) })
	c.SetClient(DirA)
	got = nil
	c.Data(DirA, []byte("GET /x HTTP/1.1\r\nX: "+strings.Repeat("h", 150)), t0, t0)
	c.Data(DirA, []byte("\r\n\r\n"+getB), t0, t0)
	c.Data(DirB, []byte(resp(400, "", "")+resp(200, "", "")), t0, t0)
	c.Close(t0)
	if strings.Join(got, "\n") != "- => 400 unmatched_response\nGET /b?x=1 => 200" || bud.Used != 0 {
		t.Fatalf("got %q, used %d", got, bud.Used)
	}
}

// capturePayloads returns the TCP payload bytes of a capture, split by
// direction (the side sending the first payload is a).
func capturePayloads(name string) (a, b []byte) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, nil
	}
	defer fh.Close()
	r, err := pcapgo.NewReader(fh)
	if err != nil {
		return nil, nil
	}
	var first uint16
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			return a, b
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.NoCopy)
		tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || len(tcp.Payload) == 0 {
			continue
		}
		if first == 0 {
			first = uint16(tcp.SrcPort)
		}
		if uint16(tcp.SrcPort) == first {
			a = append(a, tcp.Payload...)
		} else {
			b = append(b, tcp.Payload...)
		}
	}
}

// stream builds n keep-alive exchanges.
func stream(n, bodySize int, extra string) (req, rsp [][]byte, total int) {
	body := `{"id":12345,"name":"` + strings.Repeat("x", max(0, bodySize-30)) + `","ok":true}`
	for i := 0; i < n; i++ {
		req = append(req, fmt.Appendf(nil, "GET /v1/users/%d/orders?page=2 HTTP/1.1\r\nHost: api.shop.example\r\nUser-Agent: bench/1.0\r\nAccept: application/json\r\nAuthorization: Bearer abc.def.ghi\r\nX-Request-Id: 0123456789abcdef\r\n\r\n", i))
		rsp = append(rsp, fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Thu, 15 Jan 2026 10:00:00 GMT\r\nServer: nginx\r\n%sContent-Length: %d\r\n\r\n%s", extra, len(body), body))
		total += len(req[i]) + len(rsp[i])
	}
	return
}

// feedSegments sends each request then its response in 1448-byte segments.
func feedSegments(c *Conn, req, rsp [][]byte) {
	for k := range req {
		for d := req[k]; len(d) > 0; d = d[min(len(d), 1448):] {
			c.Data(DirA, d[:min(len(d), 1448)], t0, t0)
		}
		for d := rsp[k]; len(d) > 0; d = d[min(len(d), 1448):] {
			c.Data(DirB, d[:min(len(d), 1448)], t0, t0)
		}
	}
}

func benchConn(b *testing.B, bodySize int) {
	const n = 100
	req, rsp, total := stream(n, bodySize, "")
	b.SetBytes(int64(total))
	b.ReportAllocs()
	lim := Limits{}
	st := &Stats{}
	count := 0
	c := NewConn(&lim, st, func(*Exchange) { count++ })
	for i := 0; i < b.N; i++ {
		c.Reset(&lim, st, func(*Exchange) { count++ })
		c.SetClient(DirA)
		feedSegments(c, req, rsp)
		c.Close(t0)
	}
	b.ReportMetric(float64(count)/b.Elapsed().Seconds(), "exchanges/s")
	if count != n*b.N {
		b.Fatalf("count %d want %d", count, n*b.N)
	}
}

func BenchmarkConnSmall(b *testing.B) { benchConn(b, 1000) }
func BenchmarkConnLarge(b *testing.B) { benchConn(b, 64<<10) }

func BenchmarkConnChunkedGzip(b *testing.B) {
	body := gz(`{"items":[` + strings.Repeat(`{"id":1,"name":"widget"},`, 400) + `{}]}`)
	rsp := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	req := []byte(getA)
	b.SetBytes(int64(len(rsp) + len(req)))
	b.ReportAllocs()
	lim := Limits{}
	c := NewConn(&lim, &Stats{}, nil)
	c.SetClient(DirA)
	for i := 0; i < b.N; i++ {
		c.Data(DirA, req, t0, t0)
		c.Data(DirB, []byte(rsp), t0, t0)
	}
}

// BenchmarkNetHTTP parses the small stream with net/http: the slow baseline.
func BenchmarkNetHTTP(b *testing.B) {
	const n = 100
	req, rsp, total := stream(n, 1000, "")
	b.SetBytes(int64(total))
	b.ReportAllocs()
	rq, rs := bytes.Join(req, nil), bytes.Join(rsp, nil)
	for i := 0; i < b.N; i++ {
		qr := bufio.NewReader(bytes.NewReader(rq))
		sr := bufio.NewReader(bytes.NewReader(rs))
		for k := 0; k < n; k++ {
			rq, err := http.ReadRequest(qr)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, rq.Body)
			rs, err := http.ReadResponse(sr, rq)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, rs.Body)
		}
	}
}

// headersOf parses one request head fed whole and returns its headers.
func headersOf(t testing.TB, head string) []Header {
	t.Helper()
	lim := Limits{MaxHeaders: 1000}
	var got []Header
	c := NewConn(&lim, &Stats{}, func(ex *Exchange) {
		if ex.Request != nil {
			got = append([]Header(nil), ex.Request.Headers...)
		}
	})
	c.SetClient(DirA)
	c.Data(DirA, []byte(head), t0, t0)
	c.Data(DirB, []byte("HTTP/1.1 204 No Content\r\n\r\n"), t0, t0)
	return got
}

// TestHeadLines: the line ends findHeadEnd records serve the header
// parser; heads longer than the record (maxHeadLines), folded heads and
// bare LFs give the headers the line-by-line search gives.
func TestHeadLines(t *testing.T) {
	var long strings.Builder
	long.WriteString("GET / HTTP/1.1\r\n")
	for i := 0; i < maxHeadLines+40; i++ {
		fmt.Fprintf(&long, "X-H%d: v%d\r\n", i, i)
	}
	long.WriteString("\r\n")
	cases := map[string]string{
		"long":   long.String(),
		"folded": "GET / HTTP/1.1\r\nHost: a\r\nX-F: one\r\n two\r\nAccept: */*\r\n\r\n",
		"bare":   "GET / HTTP/1.1\nHost: a\nX-API-Key: k\r\nAccept: */*\n\n",
		"odd":    "GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\nUser-Agent : y\r\n\r\r\n",
	}
	for name, head := range cases {
		got := headersOf(t, head)
		// the reference: the head's lines split one by one
		c := &Conn{lim: &Limits{MaxHeaders: 1000}, st: &Stats{}}
		raw := head
		if name == "folded" {
			raw = strings.ReplaceAll(raw, "\r\n ", "   ")
		}
		_, rest := nextLine(raw)
		want, _ := c.parseHeaders(rest, len(raw)-len(rest), nil)
		if fmt.Sprint(got) != fmt.Sprint(want) || len(got) == 0 {
			t.Errorf("%s: headers\n%v\nwant\n%v", name, got, want)
		}
	}
}

// BenchmarkConnAPIHeads parses request and response heads of the size
// and kind of the realistic mix (apitap-gen realistic): eight headers
// each, small JSON bodies.
func BenchmarkConnAPIHeads(b *testing.B) {
	req := []byte("POST /api/projects/43189e1f-4db3-dd8b-1155-35910aa4aacd/deployments HTTP/1.1\r\nHost: api.saas.example\r\n" +
		"User-Agent: apigen/1\r\nAccept: application/json\r\nX-API-Key: k-1234567890\r\nContent-Type: application/json\r\n" +
		"Accept-Encoding: gzip, br\r\nX-Request-Id: 8d77505f81a3a22c\r\nContent-Length: 16\r\n\r\n{\"name\":\"demo\"}\n")
	rsp := []byte("HTTP/1.1 202 Accepted\r\nDate: Mon, 02 Feb 2026 09:00:00 GMT\r\nServer: nginx\r\nX-Request-Id: 8d77505f81a3a22c\r\n" +
		"Content-Type: application/json; charset=utf-8\r\nVary: Accept-Encoding\r\nCache-Control: no-store\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
	b.SetBytes(int64(len(req) + len(rsp)))
	b.ReportAllocs()
	lim := Limits{}
	n := 0
	c := NewConn(&lim, &Stats{}, func(*Exchange) { n++ })
	c.SetClient(DirA)
	for i := 0; i < b.N; i++ {
		c.Data(DirA, req, t0, t0)
		c.Data(DirB, rsp, t0, t0)
	}
	if n != b.N {
		b.Fatalf("%d exchanges, want %d", n, b.N)
	}
}
