package generations

// Map holds at most max entries, in two generations of max/2. The zero
// Map is not usable: make one with New.
type Map[K comparable, V any] struct {
	cur, old map[K]V
	max      int
}

// New returns an empty Map of at most n entries (at least 2).
func New[K comparable, V any](n int) Map[K, V] {
	return Map[K, V]{cur: map[K]V{}, old: map[K]V{}, max: max(n, 2)}
}

// Get returns the value of k, moving it to the current generation.
func (g *Map[K, V]) Get(k K) (V, bool) {
	if v, ok := g.cur[k]; ok {
		return v, true
	}
	v, ok := g.old[k]
	if ok {
		delete(g.old, k)
		g.add(k, v)
	}
	return v, ok
}

// Peek returns the value of k and leaves the generations as they are:
// for readers of the map (listings, reports) that must not change what
// it forgets next.
func (g *Map[K, V]) Peek(k K) (V, bool) {
	if v, ok := g.cur[k]; ok {
		return v, true
	}
	v, ok := g.old[k]
	return v, ok
}

// Put sets k's value in the current generation (taking it out of the old
// one); when the current generation is full, the old one is forgotten
// first.
func (g *Map[K, V]) Put(k K, v V) {
	if _, ok := g.cur[k]; ok {
		g.cur[k] = v
		return
	}
	delete(g.old, k)
	g.add(k, v)
}

// add sets a key held by neither generation, turning them when the
// current one is full.
func (g *Map[K, V]) add(k K, v V) {
	if len(g.cur) >= g.max/2 {
		g.old, g.cur = g.cur, make(map[K]V, len(g.cur))
	}
	g.cur[k] = v
}

// Len is the number of entries held (at most max).
func (g *Map[K, V]) Len() int { return len(g.cur) + len(g.old) }
