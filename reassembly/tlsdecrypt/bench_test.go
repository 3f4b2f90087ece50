package tlsdecrypt

import (
	"crypto/tls"
	"testing"
	"time"
)

type discard struct{}

func (discard) Plain(Side, []byte, time.Time, time.Time) {}
func (discard) Gap(Side, time.Time)                      {}
func (discard) CloseDir(Side, time.Time)                 {}

// BenchmarkDecrypt decrypts a session of 100 requests answered with
// 80 KB each (8 MB), fed in 1448-byte TCP segments: the cost of
// decryption per byte of TLS, handshake and key derivation included.
// MB/cpu-s is the throughput per second of CPU time of the benchmark's
// thread (one core), which machine load does not move.
func BenchmarkDecrypt(b *testing.B) {
	reqs := make([]string, 100)
	for i := range reqs {
		reqs[i] = "GET /v1/orders?page=1 HTTP/1.1\r\nHost: shop.example\r\n\r\n"
	}
	for _, tc := range []struct {
		name    string
		version uint16
		suite   uint16
	}{
		{"TLS13_AES_128_GCM", tls.VersionTLS13, 0},
		{"TLS12_AES_128_GCM", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
		{"TLS12_AES_256_GCM", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384},
		{"TLS12_CHACHA20_POLY1305", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256},
	} {
		b.Run(tc.name, func(b *testing.B) {
			k := NewKeyLog(KeyLogOptions{})
			cfg := sessionCfg{version: tc.version, keylog: k, requests: reqs, respSize: 80 << 10}
			if tc.suite != 0 {
				cfg.suites = []uint16{tc.suite}
			}
			chunks, _, _ := session(b, cfg)
			var total int64
			for _, ch := range chunks {
				total += int64(len(ch.data))
			}
			env := newEnv(k)
			c := NewConn(env, discard{})
			b.SetBytes(total)
			b.ReportAllocs()
			defer lockThread(b)()
			b.ResetTimer()
			cpu0 := threadCPU()
			for i := 0; i < b.N; i++ {
				c.Reset(env, discard{})
				feed(c, chunks, 1448)
			}
			b.StopTimer()
			if cpu := threadCPU() - cpu0; cpu > 0 {
				// throughput per second of this thread's CPU time: what
				// one core does, however loaded the machine is
				b.ReportMetric(float64(total)*float64(b.N)/cpu.Seconds()/1e6, "MB/cpu-s")
			}
			if env.Stats.N[CtrPlainBytes] < uint64(b.N)*100*80<<10 {
				b.Fatalf("decrypted %d bytes", env.Stats.N[CtrPlainBytes])
			}
		})
	}
}
