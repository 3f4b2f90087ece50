package tlsdecrypt

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A synthetic session built here, deterministically (fixed randoms and
// secrets), so that fuzz workers share the key log: records sealed with the
// same key schedule Conn opens with.

var (
	cr12   = bytes.Repeat([]byte{1}, 32)
	cr13   = bytes.Repeat([]byte{3}, 32)
	master = bytes.Repeat([]byte{2}, 48)
	sec13  = [4][]byte{bytes.Repeat([]byte{4}, 32), bytes.Repeat([]byte{5}, 32), bytes.Repeat([]byte{6}, 32), bytes.Repeat([]byte{7}, 32)}
)

func synthKeyLog() *KeyLog {
	k := NewKeyLog(KeyLogOptions{})
	fmt.Fprintf(k, "CLIENT_RANDOM %x %x\n", cr12, master)
	for i, l := range []string{"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} {
		fmt.Fprintf(k, "%s %x %x\n", l, cr13, sec13[i])
	}
	return k
}

func record(typ byte, body []byte) []byte {
	return append([]byte{typ, 3, 3, byte(len(body) >> 8), byte(len(body))}, body...)
}

func hsMsg(typ byte, body []byte) []byte {
	return append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

func clientHello(cr []byte) []byte {
	b := []byte{3, 3}
	b = append(b, cr...)
	b = append(b, 0, 0, 2, 0x13, 0x01, 1, 0) // no session id, one suite, no compression
	return record(typeHandshake, hsMsg(hsClientHello, b))
}

func serverHello(suite uint16, tls13 bool, alpn string) []byte {
	b := []byte{3, 3}
	b = append(b, bytes.Repeat([]byte{9}, 32)...)
	b = append(b, 0, byte(suite>>8), byte(suite), 0)
	var ext []byte
	if tls13 {
		ext = append(ext, 0, 43, 0, 2, 3, 4)
	}
	if alpn != "" {
		ext = append(ext, alpnExt(alpn)...)
	}
	b = append(b, byte(len(ext)>>8), byte(len(ext)))
	b = append(b, ext...)
	return record(typeHandshake, hsMsg(hsServerHello, b))
}

func alpnExt(p string) []byte {
	return append([]byte{0, 16, 0, byte(len(p) + 3), 0, byte(len(p) + 1), byte(len(p))}, p...)
}

// sealer encrypts one side's records.
type sealer struct {
	s   *suite
	c   *Conn // a Conn whose side holds the key
	d   Side
	seq uint64
	v13 bool
}

func (w *sealer) seal(typ byte, pt []byte) []byte {
	d := &w.c.sides[w.d]
	var nonce [12]byte
	if !w.v13 {
		var aad [13]byte
		binary.BigEndian.PutUint64(aad[:8], w.seq)
		aad[8], aad[9], aad[10] = typ, 3, 3
		binary.BigEndian.PutUint16(aad[11:], uint16(len(pt)))
		var explicit []byte
		if w.s.explict {
			copy(nonce[:4], d.iv[:4])
			binary.BigEndian.PutUint64(nonce[4:], w.seq)
			explicit = nonce[4:]
		} else {
			nonce = d.iv
			xorSeq(&nonce, w.seq)
		}
		w.seq++
		body := d.aead.Seal(append([]byte(nil), explicit...), nonce[:], pt, aad[:])
		return record(typ, body)
	}
	inner := append(append([]byte(nil), pt...), typ)
	n := len(inner) + tagLen
	hdr := []byte{typeAppData, 3, 3, byte(n >> 8), byte(n)}
	nonce = d.iv
	xorSeq(&nonce, w.seq)
	w.seq++
	return append(hdr, d.aead.Seal(nil, nonce[:], inner, hdr)...)
}

// synthSession returns the chunks of a synthetic session: TLS 1.2 with
// suite, or TLS 1.3 (AES-128-GCM) with a key update in each direction.
func synthSession(t testing.TB, suite uint16, tls13 bool, reqs, resps []string) []chunk {
	k := synthKeyLog()
	env := newEnv(k)
	cr := cr12
	if tls13 {
		cr = cr13
		suite = 0x1301
	}
	var out []chunk
	add := func(s Side, b []byte) { out = append(out, chunk{s, b}) }
	add(Client, clientHello(cr))
	alpn := "http/1.1"
	if tls13 {
		alpn = ""
	}
	add(Server, serverHello(suite, tls13, alpn))
	// a Conn that has seen the hellos derives the keys to seal with
	kc := NewConn(env, &sink{})
	kc.Data(Client, out[0].data, time.Time{}, time.Time{})
	kc.Data(Server, out[1].data, time.Time{}, time.Time{})
	if !kc.haveSH {
		t.Fatal("synthetic hellos not read")
	}
	sw := [2]*sealer{{s: kc.suite, c: kc, d: Client, v13: tls13}, {s: kc.suite, c: kc, d: Server, v13: tls13}}
	for s := Client; s <= Server; s++ {
		kc.sides[s].enc = true
		if !kc.setup(s) {
			t.Fatal("no keys for the synthetic session")
		}
	}
	if tls13 {
		ee := hsMsg(hsEncryptedExtensions, append([]byte{0, 9}, alpnExt("h2")...))
		add(Server, sw[Server].seal(typeHandshake, append(ee, hsMsg(hsFinished, make([]byte, 32))...)))
		add(Client, record(typeCCS, []byte{1}))
		add(Client, sw[Client].seal(typeHandshake, hsMsg(hsFinished, make([]byte, 32))))
		for s := Client; s <= Server; s++ {
			kc.sides[s].app, kc.sides[s].aead = true, nil
			kc.setup(s)
			sw[s].seq = 0
		}
	} else {
		add(Client, record(typeCCS, []byte{1}))
		add(Client, sw[Client].seal(typeHandshake, hsMsg(hsFinished, make([]byte, 12))))
		add(Server, record(typeCCS, []byte{1}))
		add(Server, sw[Server].seal(typeHandshake, hsMsg(hsFinished, make([]byte, 12))))
	}
	for i := range reqs {
		add(Client, sw[Client].seal(typeAppData, []byte(reqs[i])))
		add(Server, sw[Server].seal(typeAppData, []byte(resps[i])))
		if tls13 && i == len(reqs)/2 {
			// both sides update their keys
			for s := Client; s <= Server; s++ {
				add(s, sw[s].seal(typeHandshake, hsMsg(hsKeyUpdate, []byte{0})))
				d := &kc.sides[s]
				d.secret = nextSecret13(kc.suite, d.secret)
				kc.key13(s)
				sw[s].seq = 0
			}
		}
	}
	add(Server, sw[Server].seal(typeAlert, []byte{1, 0}))
	return out
}

// TestSynthetic: the synthetic sessions decrypt (a check of the fuzz seeds
// and of TLS 1.3 key updates, ALPN from the encrypted extensions).
func TestSynthetic(t *testing.T) {
	reqs := []string{"GET /1 HTTP/1.1\r\n\r\n", "GET /2 HTTP/1.1\r\n\r\n", "GET /3 HTTP/1.1\r\n\r\n"}
	resps := []string{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"}
	for _, tc := range []struct {
		suite uint16
		tls13 bool
		alpn  string
	}{{0xc02f, false, "http/1.1"}, {0xc030, false, "http/1.1"}, {0xcca8, false, "http/1.1"}, {0, true, "h2"}} {
		chunks := synthSession(t, tc.suite, tc.tls13, reqs, resps)
		env := newEnv(synthKeyLog())
		out := &sink{}
		c := NewConn(env, out)
		feed(c, chunks, 3)
		if string(out.plain[Client]) != strings.Join(reqs, "") || string(out.plain[Server]) != strings.Join(resps, "") || c.ALPN() != tc.alpn {
			t.Errorf("%x %v: %q / %q, alpn %q; %v", tc.suite, tc.tls13, out.plain[Client], out.plain[Server], c.ALPN(), env.Stats.N)
		}
		if tc.tls13 && env.Stats.N[CtrKeyUpdates] != 2 {
			t.Errorf("key updates %d", env.Stats.N[CtrKeyUpdates])
		}
	}
}

// encodeOps writes chunks in the fuzz input format: per chunk an op byte
// (bit 0: the side, bit 1: a gap before it), a 16-bit length and the bytes.
func encodeOps(chunks []chunk) []byte {
	var b []byte
	for _, c := range chunks {
		for d := c.data; len(d) > 0; {
			n := min(len(d), 0xffff)
			b = append(b, byte(c.s), byte(n>>8), byte(n))
			b = append(b, d[:n]...)
			d = d[n:]
		}
	}
	return b
}

// FuzzConn feeds a Conn hostile record streams (the synthetic sessions'
// bytes as seeds, cut, reordered and flipped by the fuzzer): it must never
// panic, hold more than its bounds, or keep bytes after Close.
func FuzzConn(f *testing.F) {
	reqs := []string{"GET / HTTP/1.1\r\n\r\n", strings.Repeat("x", 3000)}
	resps := []string{"HTTP/1.1 200 OK\r\n\r\n", strings.Repeat("y", 20000)}
	for _, tc := range []struct {
		suite uint16
		tls13 bool
	}{{0xc02f, false}, {0xcca9, false}, {0, true}} {
		f.Add(encodeOps(synthSession(f, tc.suite, tc.tls13, reqs, resps)))
	}
	keys := synthKeyLog()
	f.Fuzz(func(t *testing.T, in []byte) {
		env := &Env{Keys: keys, Limits: Limits{MaxHeldRecords: 8, MaxHeldBytes: 64 << 10}.WithDefaults(), Stats: &Stats{}}
		c := NewConn(env, discard{})
		ts := time.Unix(1700000000, 0)
		for len(in) >= 3 {
			op, n := in[0], int(in[1])<<8|int(in[2])
			in = in[3:]
			n = min(n, len(in))
			s := Side(op & 1)
			if op&2 != 0 {
				c.Gap(s, ts)
			}
			if op&4 != 0 {
				c.CloseDir(s, ts)
			}
			c.Data(s, in[:n], ts, ts)
			in = in[n:]
			ts = ts.Add(time.Second)
			c.Tick(ts)
			if env.held > env.Limits.MaxHeldBytes || len(c.holds) > env.Limits.MaxHeldRecords {
				t.Fatalf("%d bytes, %d records held", env.held, len(c.holds))
			}
		}
		c.Close()
		if env.held != 0 {
			t.Fatalf("%d bytes held after Close", env.held)
		}
	})
}

// FuzzKeyLog: key log lines in any state of damage never panic, and what
// is read back is what was written.
func FuzzKeyLog(f *testing.F) {
	f.Add([]byte("# comment\nCLIENT_RANDOM " + strings.Repeat("01", 32) + " " + strings.Repeat("02", 48) + "\n"))
	f.Add([]byte("CLIENT_TRAFFIC_SECRET_0 " + strings.Repeat("aa", 32) + " " + strings.Repeat("bb", 32) + "\r\nEXPORTER_SECRET x y\nbad\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		k := NewKeyLog(KeyLogOptions{MaxEntries: 4})
		for len(in) > 0 { // in pieces, as a growing file is read
			n := min(len(in), 1+int(in[0])%97)
			k.Write(in[:n])
			in = in[n:]
		}
		st := k.Stats()
		if st.Entries > 4 {
			t.Fatalf("%d entries, bound 4", st.Entries)
		}
		for cr, s := range k.m {
			for i := 0; i < numSecrets; i++ {
				if s.Has&(1<<i) != 0 && (s.n[i] < 16 || s.n[i] > maxSecret) {
					t.Fatalf("%s: secret %d of %d bytes", hex.EncodeToString(cr[:]), i, s.n[i])
				}
			}
		}
	})
}
