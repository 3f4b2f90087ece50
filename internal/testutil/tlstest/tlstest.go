// Package tlstest records real HTTPS exchanges between Go's net/http
// client and server in process, with their TLS secrets, for tests of TLS
// decryption: the bytes each side wrote, in an order the wire could have
// carried them. It is used by tests only.
package tlstest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Chunk is what one side wrote.
type Chunk struct {
	FromClient bool
	Data       []byte
}

// Options choose the TLS version (0: TLS 1.3), the TLS 1.2 cipher suites
// and the requests made (paths; a path starting with "POST " is posted a
// small JSON body). Every request is answered with JSON, /missing... with
// a 404.
type Options struct {
	Version uint16
	Suites  []uint16
	HTTP2   bool
	Paths   []string
}

// Record runs the requests over one connection and returns what crossed
// it and the NSS key log of its secrets.
func Record(t testing.TB, o Options) (chunks []Chunk, keylog []byte) {
	t.Helper()
	var mu sync.Mutex
	rec := func(fromClient bool, b []byte) {
		mu.Lock()
		chunks = append(chunks, Chunk{fromClient, append([]byte(nil), b...)})
		mu.Unlock()
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/missing") {
			w.WriteHeader(404)
		}
		fmt.Fprintf(w, `{"path":%q,"got":%d,"pad":"%s"}`, r.URL.Path, len(body), strings.Repeat("x", 2000))
	}))
	srv.Listener = &recListener{Listener: srv.Listener, rec: rec}
	srv.EnableHTTP2 = o.HTTP2
	srv.TLS = &tls.Config{MaxVersion: o.Version, CipherSuites: o.Suites}
	srv.StartTLS()
	defer srv.Close()
	var kl bytes.Buffer
	cl := srv.Client()
	tr := cl.Transport.(*http.Transport)
	tr.TLSClientConfig.KeyLogWriter = &kl
	tr.TLSClientConfig.ServerName = "example.com" // (the test certificate's name)
	tr.MaxConnsPerHost = 1
	for _, p := range o.Paths {
		method := "GET"
		var body io.Reader
		if m, rest, ok := strings.Cut(p, " "); ok {
			method, p, body = m, rest, strings.NewReader(`{"name":"ada","email":"ada@example.com"}`)
		}
		req, _ := http.NewRequest(method, srv.URL+p, body)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	tr.CloseIdleConnections()
	srv.Close()
	mu.Lock()
	defer mu.Unlock()
	return chunks, kl.Bytes()
}

// recListener records what its connections read (the client's bytes) and
// write (the server's).
type recListener struct {
	net.Listener
	rec func(bool, []byte)
}

func (l *recListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recConn{Conn: c, rec: l.rec}, nil
}

type recConn struct {
	net.Conn
	rec func(bool, []byte)
}

func (c *recConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.rec(true, b[:n])
	}
	return n, err
}

func (c *recConn) Write(b []byte) (int, error) {
	c.rec(false, b)
	return c.Conn.Write(b)
}
