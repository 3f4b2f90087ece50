package discovery

import (
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// parseJWTRef is parseJWT as it was, with json.Unmarshal only.
func parseJWTRef(tok string) jwtInfo {
	if len(tok) > 8192 {
		return jwtInfo{}
	}
	h, rest, ok := strings.Cut(tok, ".")
	if !ok {
		return jwtInfo{}
	}
	p, _, ok := strings.Cut(rest, ".")
	if !ok {
		return jwtInfo{}
	}
	var head struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(h, "="))
	pb, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(p, "="))
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &head) != nil || json.Unmarshal(pb, &claims) != nil || head.Alg == "" {
		return jwtInfo{}
	}
	return jwtInfo{ok: true, alg: boundedToken(head.Alg), iss: boundedIssuer(claims.Iss), sub: claims.Sub}
}

// jwtPieces are fragments random JWT parts are made of: members that
// match in any case, null and wrong types, nesting, numbers (valid and
// not), escapes, non-ASCII, control bytes and broken syntax.
var jwtPieces = []string{`{`, `}`, `[`, `]`, `,`, `:`, ` `, "\n", "\t", `"alg"`, `"ALG"`, `"Alg"`, `"iss"`, `"Iss"`, `"sub"`, `"SUB"`, `"aud"`,
	`"HS256"`, `"none"`, `"https://id.example"`, `"user-42"`, `""`, `null`, `true`, `false`, `0`, `-1`, `12.5`, `1e9`, `01`, `1.`, `-`, `1E+2`,
	`"a\"b"`, `"\u0041"`, `"é"`, "\"\x01\"", "\"\x7f\"", `"ſub"`, `"exp"`, `{"a":[1,{"b":null}]}`, `[]`, `{}`, `"x`, `nul`}

func randomJSON(r *rand.Rand) string {
	var b strings.Builder
	switch r.IntN(4) {
	case 0: // random pieces
		for k := r.IntN(12); k >= 0; k-- {
			b.WriteString(jwtPieces[r.IntN(len(jwtPieces))])
		}
	default: // an object of members, sometimes broken
		b.WriteString("{")
		for k := r.IntN(5); k >= 0; k-- {
			if k < 4 && r.IntN(2) == 0 {
				b.WriteString(jwtPieces[9+r.IntN(9)])
			} else {
				b.WriteString(jwtPieces[r.IntN(len(jwtPieces))])
			}
			b.WriteString(":")
			b.WriteString(jwtPieces[18+r.IntN(len(jwtPieces)-18)])
			if k > 0 {
				b.WriteString(",")
			}
		}
		b.WriteString("}")
		if r.IntN(8) == 0 {
			b.WriteString(jwtPieces[r.IntN(len(jwtPieces))])
		}
	}
	return b.String()
}

func jwtOf(head, claims string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(head)) + "." + enc.EncodeToString([]byte(claims)) + ".sig"
}

// TestParseJWTSame: the plain-document reader gives json.Unmarshal's
// answers.
func TestParseJWTSame(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	plain := 0
	for n := 0; n < 200000; n++ {
		head, claims := randomJSON(r), randomJSON(r)
		if n%3 == 0 {
			head = `{"alg":"HS256","typ":"JWT"}`
		}
		tok := jwtOf(head, claims)
		if got, want := parseJWT(tok), parseJWTRef(tok); got != want {
			t.Fatalf("parseJWT(%s . %s) = %+v, want %+v", head, claims, got, want)
		}
		if _, handled := flatStrings([]byte(claims), jwtClaimKeys, make([]string, 2)); handled {
			plain++
		}
	}
	if plain < 10000 {
		t.Fatalf("only %d plain documents: the test does not exercise flatStrings", plain)
	}
}

func FuzzParseJWTSame(f *testing.F) {
	f.Add(`{"alg":"RS256"}`, `{"iss":"https://id.example","sub":"u1","exp":1700000000,"roles":["a"]}`)
	f.Add(`{"ALG":"none"}`, `{"sub":null,"Sub":"x","iss":7}`)
	f.Fuzz(func(t *testing.T, head, claims string) {
		tok := jwtOf(head, claims)
		if got, want := parseJWT(tok), parseJWTRef(tok); got != want {
			t.Fatalf("parseJWT(%q . %q) = %+v, want %+v", head, claims, got, want)
		}
	})
}

func BenchmarkParseJWT(b *testing.B) {
	tok := jwtOf(`{"alg":"RS256","typ":"JWT","kid":"k1"}`, `{"iss":"https://id.example.com/","sub":"user-4821","aud":["api"],"exp":1767225600,"iat":1767222000,"scope":"orders:read orders:write"}`)
	b.ReportAllocs()
	for b.Loop() {
		parseJWT(tok)
	}
}

func BenchmarkParseJWTRef(b *testing.B) {
	tok := jwtOf(`{"alg":"RS256","typ":"JWT","kid":"k1"}`, `{"iss":"https://id.example.com/","sub":"user-4821","aud":["api"],"exp":1767225600,"iat":1767222000,"scope":"orders:read orders:write"}`)
	b.ReportAllocs()
	for b.Loop() {
		parseJWTRef(tok)
	}
}

// TestBasicUserSame: basicUser answers as decoding the whole
// credentials into a string did.
func TestBasicUserSame(t *testing.T) {
	ref := func(cred string) string {
		if b, err := base64.StdEncoding.DecodeString(cred); err == nil {
			if u, _, ok := strings.Cut(string(b), ":"); ok {
				return u
			}
		}
		return ""
	}
	r := rand.New(rand.NewPCG(33, 34))
	for n := 0; n < 100000; n++ {
		raw := make([]byte, r.IntN(200))
		for i := range raw {
			raw[i] = "ab:é\x00"[r.IntN(5)]
		}
		cred := base64.StdEncoding.EncodeToString(raw)
		switch r.IntN(4) {
		case 0:
			cred = cred[:r.IntN(len(cred)+1)]
		case 1:
			cred += "="
		}
		if got, want := basicUser(cred), ref(cred); got != want {
			t.Fatalf("basicUser(%q) = %q, want %q", cred, got, want)
		}
	}
}

// TestClientHashSame: the unrolled FNV-1a is the loop it replaced.
func TestClientHashSame(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	for n := 0; n < 20000; n++ {
		var b [16]byte
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		a := netip.AddrFrom16(b)
		if n%2 == 0 {
			a = netip.AddrFrom4([4]byte(b[:4]))
		}
		c := a.Unmap().As16()
		h := uint64(14695981039346656037)
		for _, x := range c {
			h ^= uint64(x)
			h *= 1099511628211
		}
		if got, want := clientHash(a), uint32(fmix(h)>>32); got != want {
			t.Fatalf("clientHash(%v) = %x, want %x", a, got, want)
		}
	}
}

// TestRecentHosts: the recent hosts are always the ones the host map
// holds, through host evictions (a small host budget).
func TestRecentHosts(t *testing.T) {
	cfg := NewConfig()
	cfg.MaxHosts = 3
	cat := NewCatalog(cfg, "t")
	o := cat.Observer()
	r := rand.New(rand.NewPCG(37, 38))
	for n := 0; n < 3000; n++ {
		host := "h" + strconv.Itoa(r.IntN(7)) + ".example"
		o.Analyze(tx("GET", host, "/v1/items/"+strconv.Itoa(r.IntN(3)), 200), nil)
		tr := cat.t
		for i, ht := range tr.recent {
			if ht == nil {
				for _, rest := range tr.recent[i:] {
					if rest != nil {
						t.Fatalf("recent hosts not packed: %v", tr.recent)
					}
				}
				break
			}
			if tr.hosts[ht.key] != ht {
				t.Fatalf("recent host %v is not the map's", ht.key)
			}
		}
	}
	if cat.t.hostsEvicted == 0 {
		t.Fatal("no host was evicted: the test does not cover eviction")
	}
}

// TestBasicUserCache: the cache answers as basicUser, through slot
// collisions and credentials too long to keep.
func TestBasicUserCache(t *testing.T) {
	tr := newTrie(NewConfig(), nil)
	r := rand.New(rand.NewPCG(39, 40))
	for n := 0; n < 20000; n++ {
		user := "user" + strconv.Itoa(r.IntN(3000))
		if n%50 == 0 {
			user += strings.Repeat("x", 300)
		}
		cred := base64.StdEncoding.EncodeToString([]byte(user + ":pw"))
		if got, want := tr.basicUserOf(cred), basicUser(cred); got != want || got != user {
			t.Fatalf("basicUserOf(%q) = %q, want %q (%q)", cred, got, want, user)
		}
	}
}
