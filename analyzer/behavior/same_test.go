package behavior

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// massAssigned is what observe does: a server-owned property that a JSON
// write set and its answer echoed ("" when none).
func massAssigned(req, resp []byte) string {
	return echoedOwned(serverOwnedSet(req), resp)
}

// massAssignedRef is the straightforward form of massAssigned: the one
// pass over the write set's quotes must answer as it does.
func massAssignedRef(req, resp []byte) string {
	if len(req) == 0 || len(req) > 8192 || len(resp) == 0 {
		return ""
	}
	if b := bytes.TrimSpace(req); len(b) == 0 || b[0] != '{' {
		return ""
	}
	if len(resp) > 8192 {
		resp = resp[:8192]
	}
	for i, q := range serverOwnedKeys {
		if bytes.Contains(req, q) && bytes.Contains(resp, q) {
			return serverOwned[i]
		}
	}
	return ""
}

func TestMassAssignedSame(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	atoms := append(serverOwned[:], "name", "roles", "\"", "{", "}", ":", ",", " ", "x", "is_", "owner", "Role", "\\\"")
	gen := func() []byte {
		var b bytes.Buffer
		if r.IntN(8) != 0 {
			b.WriteString("{")
		}
		for n := r.IntN(12); n >= 0; n-- {
			if r.IntN(2) == 0 {
				b.WriteByte('"')
			}
			b.WriteString(atoms[r.IntN(len(atoms))])
			if r.IntN(2) == 0 {
				b.WriteByte('"')
			}
		}
		return b.Bytes()
	}
	for i := 0; i < 200000; i++ {
		req, resp := gen(), gen()
		if got, want := massAssigned(req, resp), massAssignedRef(req, resp); got != want {
			t.Fatalf("massAssigned(%q, %q) = %q, want %q", req, resp, got, want)
		}
	}
}

// FuzzMassAssignedSame: massAssigned answers as the straightforward form.
func FuzzMassAssignedSame(f *testing.F) {
	f.Add([]byte(`{"name":"x","role":"admin"}`), []byte(`{"id":1,"role":"admin"}`))
	f.Add([]byte(`{"roles":[],"plan":"pro"}`), []byte(`{"plan":"pro","roles":[]}`))
	f.Fuzz(func(t *testing.T, req, resp []byte) {
		if got, want := massAssigned(req, resp), massAssignedRef(req, resp); got != want {
			t.Fatalf("massAssigned(%q, %q) = %q, want %q", req, resp, got, want)
		}
	})
}

func BenchmarkMassAssigned(b *testing.B) {
	req := []byte(`{"name":"Ada Lovelace","email":"ada@example.com","address":{"city":"London","zip":"N1 9GU"},"items":[{"sku":"A-1","qty":2}]}`)
	resp := []byte(`{"id":8812,"name":"Ada Lovelace","email":"ada@example.com","created_at":"2026-01-02T10:00:00Z","status":"active"}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = massAssigned(req, resp)
	}
}

func BenchmarkMassAssignedRef(b *testing.B) {
	req := []byte(`{"name":"Ada Lovelace","email":"ada@example.com","address":{"city":"London","zip":"N1 9GU"},"items":[{"sku":"A-1","qty":2}]}`)
	resp := []byte(`{"id":8812,"name":"Ada Lovelace","email":"ada@example.com","created_at":"2026-01-02T10:00:00Z","status":"active"}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = massAssignedRef(req, resp)
	}
}
