package reassembly

import (
	"crypto/tls"
	"net/netip"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testutil/tlstest"
	"github.com/apitap/apitap/reassembly/tlsdecrypt"
)

// feedTLS replays recorded HTTPS bytes as one TCP connection to port 443.
func feedTLS(w *Worker, n int, chunks []tlstest.Chunk) {
	c := newConn(n)
	c.srv = netip.AddrPortFrom(c.srv.Addr(), 443)
	c.feed(w, c.handshake()...)
	for _, ch := range chunks {
		c.feed(w, c.send(ch.FromClient, string(ch.Data), 1448)...)
	}
	c.feed(w, c.fin(true), c.fin(false))
}

type tlsRec struct {
	rec
	source Source
	tls    TLSInfo
}

// TestWorkerDecrypt: HTTPS between Go's client and server, with the key
// log, gives the same transactions as HTTP would, marked tls_keylog with
// the session's version, suite and server name; without keys nothing is
// parsed and the session is counted.
func TestWorkerDecrypt(t *testing.T) {
	paths := []string{"/v1/users/1", "POST /v1/users", "/missing/x", "/v1/orders?page=2"}
	for _, tc := range []struct {
		name   string
		opt    tlstest.Options
		cipher string
	}{
		{"1.3", tlstest.Options{Paths: paths}, "TLS_AES_128_GCM_SHA256"},
		{"1.2 ChaCha20", tlstest.Options{Version: tls.VersionTLS12, Suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}, Paths: paths}, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chunks, keylog := tlstest.Record(t, tc.opt)
			k := tlsdecrypt.NewKeyLog(tlsdecrypt.KeyLogOptions{})
			k.Write(keylog)
			var out []tlsRec
			w := NewWorker(Config{}, func(tx *Transaction) {
				r := tlsRec{source: tx.Source}
				r.path = tx.Request.Path
				r.method = tx.Request.Method
				if tx.Response != nil {
					r.status = tx.Response.Status
				}
				if tx.TLS != nil {
					r.tls = *tx.TLS
				}
				r.flags = tx.Flags
				out = append(out, r)
			})
			w.SetKeyLog(k, tlsdecrypt.Limits{})
			feedTLS(w, 1, chunks)
			w.Close()
			if len(out) != len(paths) {
				t.Fatalf("%d transactions, want %d: %+v; stats %v", len(out), len(paths), out, w.Stats.TLS.N)
			}
			for i, r := range out {
				want := 200
				if i == 2 {
					want = 404
				}
				if r.status != want || r.source != SourceTLSKeylog || r.tls.Cipher != tc.cipher || r.tls.SNI != "example.com" || r.flags != 0 {
					t.Errorf("transaction %d: %+v", i, r)
				}
			}
			if n := w.Stats.TLS.N; n[tlsdecrypt.CtrDecrypted] != 1 || n[tlsdecrypt.CtrAuthFailures] != 0 {
				t.Errorf("stats %v", n)
			}

			// without the key log's secrets
			out = out[:0]
			w = NewWorker(Config{}, func(tx *Transaction) { out = append(out, tlsRec{}) })
			w.SetKeyLog(tlsdecrypt.NewKeyLog(tlsdecrypt.KeyLogOptions{}), tlsdecrypt.Limits{})
			feedTLS(w, 2, chunks)
			w.Close()
			if len(out) != 0 || w.Stats.TLS.N[tlsdecrypt.CtrNoKeys] != 1 || w.Stats.TLSHellos != 1 {
				t.Errorf("without keys: %d transactions, stats %v, hellos %d", len(out), w.Stats.TLS.N, w.Stats.TLSHellos)
			}
		})
	}
}

// TestWorkerKeysAfterClose: secrets written after a short connection has
// ended still decrypt it, within KeyWait: the connection's close waits
// for them. Past KeyWait it is given up.
func TestWorkerKeysAfterClose(t *testing.T) {
	chunks, keylog := tlstest.Record(t, tlstest.Options{Paths: []string{"/a", "/b"}})
	for _, late := range []bool{false, true} {
		k := tlsdecrypt.NewKeyLog(tlsdecrypt.KeyLogOptions{})
		var paths []string
		w := NewWorker(Config{}, func(tx *Transaction) { paths = append(paths, tx.Request.Path) })
		w.SetKeyLog(k, tlsdecrypt.Limits{KeyWait: 5 * time.Second})
		feedTLS(w, 1, chunks)
		// the connection ended; another one goes on
		h := newConn(9)
		h.feed(w, h.handshake()...)
		h.feed(w, h.send(true, req1, 1400)...)
		w.Tick(t0.Add(2 * time.Second))
		if len(paths) != 0 || w.Stats.FlowsOpen != 1 {
			t.Fatalf("before the keys: %v, %d flows open", paths, w.Stats.FlowsOpen)
		}
		when := t0.Add(4 * time.Second)
		if late {
			when = t0.Add(9 * time.Second)
		}
		w.Tick(when.Add(-time.Second))
		k.Write(keylog)
		w.Tick(when)
		w.Close()
		switch {
		case !late && (len(paths) != 3 || paths[0] != "/a" || paths[1] != "/b"):
			t.Errorf("keys within the wait: %v", paths)
		case late && (len(paths) != 1 || w.Stats.TLS.N[tlsdecrypt.CtrNoKeys] != 1):
			t.Errorf("keys past the wait: %v, %v", paths, w.Stats.TLS.N)
		}
	}
}
