package tlsdecrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

// TLS versions.
const (
	VersionTLS12 uint16 = 0x0303
	VersionTLS13 uint16 = 0x0304
)

// aeadKind is a record protection algorithm.
type aeadKind uint8

const (
	aesGCM aeadKind = iota
	chacha
)

// suite is what decryption needs to know of a cipher suite.
type suite struct {
	id      uint16
	name    string
	tls13   bool
	kind    aeadKind
	keyLen  int
	sha384  bool // the PRF / HKDF hash: SHA-384, else SHA-256
	explict bool // TLS 1.2 AES-GCM: an 8-byte explicit nonce precedes the ciphertext
}

// suites are the cipher suites this package decrypts.
var suites = []suite{
	{0x1301, "TLS_AES_128_GCM_SHA256", true, aesGCM, 16, false, false},
	{0x1302, "TLS_AES_256_GCM_SHA384", true, aesGCM, 32, true, false},
	{0x1303, "TLS_CHACHA20_POLY1305_SHA256", true, chacha, 32, false, false},
	{0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", false, aesGCM, 16, false, true},
	{0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", false, aesGCM, 32, true, true},
	{0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", false, aesGCM, 16, false, true},
	{0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", false, aesGCM, 32, true, true},
	{0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", false, chacha, 32, false, false},
	{0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", false, chacha, 32, false, false},
	{0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", false, chacha, 32, false, false},
	{0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", false, aesGCM, 16, false, true},
	{0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", false, aesGCM, 32, true, true},
	{0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", false, aesGCM, 16, false, true},
	{0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", false, aesGCM, 32, true, true},
}

func suiteByID(id uint16, tls13 bool) *suite {
	for i := range suites {
		if s := &suites[i]; s.id == id && s.tls13 == tls13 {
			return s
		}
	}
	return nil
}

// SuiteName is the IANA name of a cipher suite this package decrypts, ""
// for others.
func SuiteName(id uint16) string {
	for i := range suites {
		if suites[i].id == id {
			return suites[i].name
		}
	}
	return ""
}

func (s *suite) hash() func() hash.Hash {
	if s.sha384 {
		return sha512.New384
	}
	return sha256.New
}

// ivLen is the per-direction IV the key schedule yields: TLS 1.2 AES-GCM
// has a 4-byte implicit salt, the others a 12-byte IV XORed with the
// sequence number.
func (s *suite) ivLen() int {
	if s.explict {
		return 4
	}
	return 12
}

func (s *suite) newAEAD(key []byte) (cipher.AEAD, error) {
	if s.kind == chacha {
		return chacha20poly1305.New(key)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// prf12 is the TLS 1.2 PRF (RFC 5246 section 5): P_hash(secret, label +
// seed), out filled.
func prf12(h func() hash.Hash, secret []byte, label string, seed []byte, out []byte) {
	mac := hmac.New(h, secret)
	mac.Write([]byte(label))
	mac.Write(seed)
	a := mac.Sum(nil) // A(1)
	for len(out) > 0 {
		mac.Reset()
		mac.Write(a)
		mac.Write([]byte(label))
		mac.Write(seed)
		out = out[copy(out, mac.Sum(nil)):]
		mac.Reset()
		mac.Write(a)
		a = mac.Sum(a[:0])
	}
}

// keys12 derives the TLS 1.2 write keys and IVs of both sides from the
// master secret (RFC 5246 section 6.3; AEAD suites have no MAC keys).
func keys12(s *suite, master []byte, clientRandom, serverRandom *[32]byte) (ckey, skey, civ, siv []byte) {
	var seed [64]byte
	copy(seed[:32], serverRandom[:])
	copy(seed[32:], clientRandom[:])
	n := 2*s.keyLen + 2*s.ivLen()
	block := make([]byte, n)
	prf12(s.hash(), master, "key expansion", seed[:], block)
	ckey, block = block[:s.keyLen], block[s.keyLen:]
	skey, block = block[:s.keyLen], block[s.keyLen:]
	civ, block = block[:s.ivLen()], block[s.ivLen():]
	siv = block[:s.ivLen()]
	return
}

// expandLabel is TLS 1.3's HKDF-Expand-Label with an empty context (RFC
// 8446 section 7.1).
func expandLabel(h func() hash.Hash, secret []byte, label string, n int) []byte {
	info := make([]byte, 0, 4+6+len(label))
	info = append(info, byte(n>>8), byte(n), byte(6+len(label)))
	info = append(info, "tls13 "...)
	info = append(info, label...)
	info = append(info, 0)
	out, err := hkdf.Expand(h, secret, string(info), n)
	if err != nil { // only for lengths beyond 255 hashes: never here
		panic(err)
	}
	return out
}

// keys13 derives a TLS 1.3 traffic key and IV from a traffic secret.
func keys13(s *suite, secret []byte) (key, iv []byte) {
	return expandLabel(s.hash(), secret, "key", s.keyLen), expandLabel(s.hash(), secret, "iv", 12)
}

// nextSecret13 is the traffic secret after a KeyUpdate.
func nextSecret13(s *suite, secret []byte) []byte {
	return expandLabel(s.hash(), secret, "traffic upd", len(secret))
}
