package tlsdecrypt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// chunk is what one side wrote, in the order the writes happened.
type chunk struct {
	s    Side
	data []byte
}

// recorder logs the writes of both ends of a connection.
type recorder struct {
	mu     sync.Mutex
	chunks []chunk
}

type recConn struct {
	net.Conn
	s Side
	r *recorder
}

func (c *recConn) Write(b []byte) (int, error) {
	c.r.mu.Lock()
	c.r.chunks = append(c.r.chunks, chunk{c.s, append([]byte(nil), b...)})
	c.r.mu.Unlock()
	return c.Conn.Write(b)
}

// certs are a self-signed RSA and an ECDSA certificate.
var certs = sync.OnceValue(func() [2]tls.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shop.example"},
		DNSNames: []string{"shop.example"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	var out [2]tls.Certificate
	pubs := []any{&rk.PublicKey, &ek.PublicKey}
	for i, k := range []any{rk, ek} {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pubs[i], k)
		if err != nil {
			panic(err)
		}
		out[i] = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
	}
	return out
})

// session runs a TLS client and server over a pipe: the client sends each
// request and reads a response of the given size after each. It returns
// the bytes written, in order, and what the client sent and received.
func session(t testing.TB, cfg sessionCfg) (chunks []chunk, sent, got []byte) {
	t.Helper()
	rec := &recorder{}
	a, b := net.Pipe()
	cli := &recConn{a, Client, rec}
	srv := &recConn{b, Server, rec}
	cert := certs()[0]
	if cfg.ecdsa {
		cert = certs()[1]
	}
	scfg := &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: cfg.version, CipherSuites: cfg.suites, NextProtos: []string{"http/1.1"}}
	ccfg := &tls.Config{InsecureSkipVerify: true, MaxVersion: cfg.version, CipherSuites: cfg.suites, KeyLogWriter: cfg.keylog, NextProtos: []string{"h2", "http/1.1"}}
	done := make(chan error, 1)
	go func() {
		s := tls.Server(srv, scfg)
		buf := make([]byte, 64<<10)
		for _, r := range cfg.requests {
			if _, err := io.ReadFull(s, buf[:len(r)]); err != nil {
				done <- err
				return
			}
			if _, err := s.Write(bytes.Repeat([]byte{'r'}, cfg.respSize)); err != nil {
				done <- err
				return
			}
		}
		s.Close()
		done <- nil
	}()
	c := tls.Client(cli, ccfg)
	for _, r := range cfg.requests {
		if _, err := c.Write([]byte(r)); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, r...)
		resp := make([]byte, cfg.respSize)
		if _, err := io.ReadFull(c, resp); err != nil {
			t.Fatal(err)
		}
		got = append(got, resp...)
	}
	// the server's close_notify
	io.Copy(io.Discard, c)
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return rec.chunks, sent, got
}

type sessionCfg struct {
	version  uint16
	suites   []uint16
	ecdsa    bool
	keylog   io.Writer
	requests []string
	respSize int
}

// sink collects a Conn's output.
type sink struct {
	plain  [2][]byte
	gaps   [2]int
	closed [2]bool
}

func (s *sink) Plain(d Side, b []byte, _, _ time.Time) { s.plain[d] = append(s.plain[d], b...) }
func (s *sink) Gap(d Side, _ time.Time)                { s.gaps[d]++ }
func (s *sink) CloseDir(d Side, _ time.Time)           { s.closed[d] = true }

func newEnv(k *KeyLog) *Env {
	return &Env{Keys: k, Limits: Limits{}.WithDefaults(), Stats: &Stats{}}
}

// feed hands the chunks to a Conn, each split into pieces of at most seg
// bytes (as TCP segments would be).
func feed(c *Conn, chunks []chunk, seg int) {
	t0 := time.Unix(1700000000, 0)
	for i, ch := range chunks {
		ts := t0.Add(time.Duration(i) * time.Millisecond)
		for b := ch.data; len(b) > 0; {
			n := min(seg, len(b))
			c.Data(ch.s, b[:n], ts, ts)
			b = b[n:]
		}
	}
}

func TestDecrypt(t *testing.T) {
	reqs := []string{"GET /a HTTP/1.1\r\nHost: shop.example\r\n\r\n", "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", strings.Repeat("q", 40000)}
	cases := []struct {
		name    string
		version uint16
		suite   uint16
		ecdsa   bool
		want    string
	}{
		{"1.2 ECDHE-RSA AES-128-GCM", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, false, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
		{"1.2 ECDHE-RSA AES-256-GCM", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, false, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
		{"1.2 ECDHE-RSA ChaCha20", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, false, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
		{"1.2 ECDHE-ECDSA AES-128-GCM", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, true, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
		{"1.2 ECDHE-ECDSA AES-256-GCM", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, true, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
		{"1.2 ECDHE-ECDSA ChaCha20", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, true, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
		{"1.3", tls.VersionTLS13, 0, false, "TLS_AES_128_GCM_SHA256"},
		{"1.3 ECDSA", tls.VersionTLS13, 0, true, "TLS_AES_128_GCM_SHA256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := NewKeyLog(KeyLogOptions{})
			cfg := sessionCfg{version: tc.version, ecdsa: tc.ecdsa, keylog: k, requests: reqs, respSize: 20000}
			if tc.suite != 0 {
				cfg.suites = []uint16{tc.suite}
			}
			chunks, sent, got := session(t, cfg)
			for _, seg := range []int{1 << 20, 1448, 7, 1} {
				env := newEnv(k)
				out := &sink{}
				c := NewConn(env, out)
				feed(c, chunks, seg)
				c.CloseDir(Client, time.Time{})
				c.Close()
				if !bytes.Equal(out.plain[Client], sent) || !bytes.Equal(out.plain[Server], got) {
					t.Fatalf("segments of %d: plaintext %d/%d bytes, want %d/%d; stats %v", seg, len(out.plain[Client]), len(out.plain[Server]), len(sent), len(got), env.Stats.N)
				}
				if c.Suite() != tc.want || c.Version() != tc.version || c.ALPN() != "http/1.1" {
					t.Errorf("suite %s version %x alpn %q", c.Suite(), c.Version(), c.ALPN())
				}
				if n := env.Stats.N; n[CtrDecrypted] != 1 || n[CtrKeyed] != 1 || n[CtrAuthFailures] != 0 || n[CtrNoKeys] != 0 || !out.closed[Client] {
					t.Errorf("stats %v closed %v", n, out.closed)
				}
				if env.held != 0 {
					t.Errorf("%d bytes held at the end", env.held)
				}
			}
		})
	}
}

// TestKeysLate: secrets written after the records arrive are found within
// KeyWait; the records wait (in order) and are then decrypted. Without
// them the session is given up at KeyWait and counted.
func TestKeysLate(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(fmt.Sprintf("%x", v), func(t *testing.T) {
			var log bytes.Buffer
			chunks, sent, got := session(t, sessionCfg{version: v, keylog: &log, requests: []string{"GET / HTTP/1.1\r\n\r\n", "GET /2 HTTP/1.1\r\n\r\n"}, respSize: 3000})
			k := NewKeyLog(KeyLogOptions{})
			env := newEnv(k)
			out := &sink{}
			c := NewConn(env, out)
			feed(c, chunks, 1448)
			c.CloseDir(Server, time.Time{})
			if !c.Waiting() || len(out.plain[0])+len(out.plain[1]) != 0 {
				t.Fatalf("waiting %v, plaintext %d+%d", c.Waiting(), len(out.plain[0]), len(out.plain[1]))
			}
			c.Tick(time.Unix(1700000005, 0))
			k.Write(log.Bytes())
			c.Tick(time.Unix(1700000006, 0))
			if c.Waiting() || !bytes.Equal(out.plain[Client], sent) || !bytes.Equal(out.plain[Server], got) || !out.closed[Server] {
				t.Fatalf("after the keys: waiting %v, plaintext %d/%d, closed %v; %v", c.Waiting(), len(out.plain[0]), len(out.plain[1]), out.closed, env.Stats.N)
			}
			if env.Stats.N[CtrKeyWaits] != 1 || env.Stats.N[CtrHeldGivenUp] != 0 || env.held != 0 {
				t.Errorf("stats %v, held %d", env.Stats.N, env.held)
			}

			// never: given up at KeyWait
			env = newEnv(NewKeyLog(KeyLogOptions{}))
			out = &sink{}
			c = NewConn(env, out)
			feed(c, chunks, 1448)
			c.Tick(time.Unix(1700000005, 0))
			if !c.Waiting() {
				t.Fatal("gave up before KeyWait")
			}
			c.Tick(time.Unix(1700000011, 0))
			if c.Decrypting() || env.Stats.N[CtrNoKeys] != 1 || env.Stats.N[CtrHeldGivenUp] == 0 || env.held != 0 {
				t.Fatalf("decrypting %v, stats %v, held %d", c.Decrypting(), env.Stats.N, env.held)
			}
		})
	}
}

// TestHoldBounds: a connection that waits holds at most MaxHeldRecords
// records, then is given up.
func TestHoldBounds(t *testing.T) {
	reqs := make([]string, 100)
	for i := range reqs {
		reqs[i] = fmt.Sprintf("GET /%d HTTP/1.1\r\n\r\n", i)
	}
	chunks, _, _ := session(t, sessionCfg{version: tls.VersionTLS13, keylog: io.Discard, requests: reqs, respSize: 100})
	env := newEnv(NewKeyLog(KeyLogOptions{}))
	c := NewConn(env, &sink{})
	feed(c, chunks, 1448)
	if c.Decrypting() || env.Stats.N[CtrNoKeys] != 1 || env.Stats.N[CtrHeldGivenUp] != 64 || env.held != 0 {
		t.Fatalf("decrypting %v, stats %v, held %d", c.Decrypting(), env.Stats.N, env.held)
	}
}

// TestGap: a lost piece of an encrypted record costs that record only: the
// side finds its next record and goes on (TLS 1.2 and 1.3).
func TestGap(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, suite := range []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256} {
			t.Run(fmt.Sprintf("%x-%x", v, suite), func(t *testing.T) {
				k := NewKeyLog(KeyLogOptions{})
				reqs := make([]string, 20)
				for i := range reqs {
					reqs[i] = fmt.Sprintf("GET /%d HTTP/1.1\r\n\r\n", i)
				}
				chunks, _, _ := session(t, sessionCfg{version: v, suites: []uint16{suite}, keylog: k, requests: reqs, respSize: 5000})
				env := newEnv(k)
				out := &sink{}
				c := NewConn(env, out)
				ts := time.Unix(1700000000, 0)
				resp := 0
				for _, ch := range chunks {
					if ch.s == Server && len(ch.data) > 4000 {
						resp++
						if resp == 5 { // lose 100 bytes in the middle of the fifth response
							c.Data(Server, ch.data[:1000], ts, ts)
							c.Gap(Server, ts)
							c.Data(Server, ch.data[1100:], ts, ts)
							continue
						}
					}
					c.Data(ch.s, ch.data, ts, ts)
				}
				if !c.Decrypting() || out.gaps[Server] != 1 || env.Stats.N[CtrResyncs] != 1 {
					t.Fatalf("decrypting %v gaps %v stats %v", c.Decrypting(), out.gaps, env.Stats.N)
				}
				// the fifth response's record is lost: 19 of 20 responses
				if n := len(out.plain[Server]); n != 19*5000 {
					t.Errorf("server plaintext %d bytes, want %d", n, 19*5000)
				}
			})
		}
	}
}

// TestWrongKeys: secrets of another session fail authentication and the
// session is given up, not decrypted into garbage.
func TestWrongKeys(t *testing.T) {
	var log1, log2 bytes.Buffer
	chunks, _, _ := session(t, sessionCfg{version: tls.VersionTLS12, keylog: &log1, requests: []string{"GET / HTTP/1.1\r\n\r\n"}, respSize: 100})
	session(t, sessionCfg{version: tls.VersionTLS12, keylog: &log2, requests: []string{"GET / HTTP/1.1\r\n\r\n"}, respSize: 100})
	// the first session's client random with the second's master secret
	f1, f2 := strings.Fields(log1.String()), strings.Fields(log2.String())
	k := NewKeyLog(KeyLogOptions{})
	fmt.Fprintf(k, "CLIENT_RANDOM %s %s\n", f1[1], f2[2])
	env := newEnv(k)
	out := &sink{}
	c := NewConn(env, out)
	feed(c, chunks, 1448)
	if len(out.plain[0])+len(out.plain[1]) != 0 || env.Stats.N[CtrAuthFailures] == 0 {
		t.Fatalf("plaintext %d+%d, stats %v", len(out.plain[0]), len(out.plain[1]), env.Stats.N)
	}
}

// TestUnsupported: TLS 1.2 CBC is counted, not decrypted.
func TestUnsupported(t *testing.T) {
	k := NewKeyLog(KeyLogOptions{})
	chunks, _, _ := session(t, sessionCfg{version: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}, keylog: k, requests: []string{"GET / HTTP/1.1\r\n\r\n"}, respSize: 100})
	env := newEnv(k)
	c := NewConn(env, &sink{})
	feed(c, chunks, 1448)
	if c.Decrypting() || env.Stats.N[CtrUnsupported] != 1 {
		t.Fatalf("decrypting %v stats %v", c.Decrypting(), env.Stats.N)
	}
}

// TestSecretsRedacted: no fmt verb prints a secret.
func TestSecretsRedacted(t *testing.T) {
	k := NewKeyLog(KeyLogOptions{})
	fmt.Fprintf(k, "CLIENT_RANDOM %s %s\n", strings.Repeat("ab", 32), strings.Repeat("cd", 48))
	var s Secrets
	var cr [32]byte
	for i := range cr {
		cr[i] = 0xab
	}
	if !k.Lookup(&cr, HasMaster, &s) {
		t.Fatal("not found")
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		if out := fmt.Sprintf(f, s); strings.Contains(strings.ToLower(out), "cd") || !strings.Contains(out, "redacted") {
			t.Errorf("%s prints %q", f, out)
		}
	}
}
