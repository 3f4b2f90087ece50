package generations

import "testing"

// TestFloodForgetsWhatItOutlasts: a key in use survives any number of new
// keys; keys not asked for again are forgotten; the map never holds more
// than its bound and always takes new keys.
func TestFloodForgetsWhatItOutlasts(t *testing.T) {
	g := New[int, string](8)
	g.Put(-1, "kept")
	for k := range 1000 {
		if _, ok := g.Get(k); ok {
			t.Fatalf("new key %d found", k)
		}
		g.Put(k, "x")
		if v, ok := g.Get(-1); !ok || v != "kept" {
			t.Fatalf("after %d new keys the key in use is gone", k+1)
		}
		if g.Len() > 8 {
			t.Fatalf("%d entries, bound 8", g.Len())
		}
		if _, ok := g.Get(k); !ok {
			t.Fatalf("the newest key %d was refused", k)
		}
	}
	for k := range 990 {
		if _, ok := g.Get(k); ok {
			t.Fatalf("key %d, unused since, outlived 990 new keys", k)
		}
	}
}

// turned returns a map of two generations of 2 that turned once: a and
// b (1 and 2) in the old generation, c (3) in the current one.
func turned() *Map[string, int] {
	g := New[string, int](4)
	g.Put("a", 1)
	g.Put("b", 2)
	g.Put("c", 3)
	return &g
}

// TestOldMovesBack: a key found in the old generation is current again
// and survives the next turn; the one not asked for does not.
func TestOldMovesBack(t *testing.T) {
	g := turned()
	if v, ok := g.Get("a"); !ok || v != 1 {
		t.Fatal("a lost at the first turn")
	}
	g.Put("d", 4) // cur full (c, a): c, a become old, b forgotten
	if _, ok := g.Get("b"); ok {
		t.Fatal("b outlived two turns unused")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := g.Get(k); !ok {
			t.Fatalf("%s lost", k)
		}
	}
	if g.Len() > 4 {
		t.Fatalf("%d entries, bound 4", g.Len())
	}
}

// TestOverwriteDoesNotTurn: setting a current key again keeps the other
// entries.
func TestOverwriteDoesNotTurn(t *testing.T) {
	g := New[int, int](4)
	g.Put(1, 1)
	g.Put(2, 2)
	g.Put(2, 3)
	if v, ok := g.Get(1); !ok || v != 1 {
		t.Fatal("overwriting a current key forgot another")
	}
	if v, _ := g.Get(2); v != 3 {
		t.Fatalf("value %d, want 3", v)
	}
}

// TestPeekLeavesGenerations: Peek finds a key of either generation and
// moves nothing: the key not asked for with Get is forgotten at the next
// turn as if Peek had not been called.
func TestPeekLeavesGenerations(t *testing.T) {
	g := turned()
	for range 3 {
		if v, ok := g.Peek("a"); !ok || v != 1 {
			t.Fatal("Peek missed a key of the old generation")
		}
	}
	if _, ok := g.Peek("z"); ok {
		t.Fatal("Peek found a key never put")
	}
	g.Put("d", 4)
	g.Put("e", 5) // cur full (c, d): c, d become old, a and b forgotten
	if _, ok := g.Peek("a"); ok {
		t.Fatal("a key only peeked at outlived two turns")
	}
	if g.Len() != 3 {
		t.Fatalf("%d entries, want 3", g.Len())
	}
}

// TestPutOldKey: putting a key of the old generation without a Get first
// moves it: it is held once, with the new value, and survives the next
// turn as a current key.
func TestPutOldKey(t *testing.T) {
	g := New[int, int](4)
	g.Put(1, 1)
	g.Put(2, 2)
	g.Put(3, 3) // 1, 2 old
	g.Put(1, 10)
	if g.Len() != 3 {
		t.Fatalf("%d entries, want 3 (1 held twice?)", g.Len())
	}
	g.Put(4, 4) // 3, 1 become old; 2 forgotten
	if v, ok := g.Get(1); !ok || v != 10 {
		t.Fatalf("1 = %d, %v; want 10", v, ok)
	}
	if _, ok := g.Get(2); ok {
		t.Fatal("2 outlived two turns unused")
	}
}
