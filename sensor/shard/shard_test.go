package shard

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestSymmetricAndSpread(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n, flows = 7, 70000
	var counts [n]int
	for i := 0; i < flows; i++ {
		var a, b netip.Addr
		if i%2 == 0 {
			a = netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
			b = netip.AddrFrom4([4]byte{10, 9, 9, 9})
		} else {
			var x, y [16]byte
			x[0], y[0] = 0x20, 0x20
			x[15], y[15] = byte(r.IntN(256)), 1
			x[14] = byte(r.IntN(256))
			a, b = netip.AddrFrom16(x), netip.AddrFrom16(y)
		}
		ap, bp := uint16(r.IntN(65536)), uint16(443)
		h := Hash(a, b, ap, bp)
		if h != Hash(b, a, bp, ap) {
			t.Fatalf("not symmetric for %v:%d %v:%d", a, ap, b, bp)
		}
		counts[h%n]++
	}
	for i, c := range counts {
		if c < flows/n*9/10 || c > flows/n*11/10 {
			t.Errorf("worker %d got %d of %d flows: poor spread %v", i, c, flows, counts)
		}
	}
	// Same endpoints on both sides must not collapse to one value.
	a := netip.MustParseAddr("10.0.0.1")
	if Hash(a, a, 1, 1) == Hash(a, a, 2, 2) {
		t.Error("a==b flows collapse")
	}
}

func TestNoAlloc(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::1")
	if n := testing.AllocsPerRun(100, func() { Hash(a, b, 1, 2) }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func BenchmarkHash(b *testing.B) {
	x, y := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	b.ReportAllocs()
	var s uint64
	for i := 0; i < b.N; i++ {
		s += Hash(x, y, uint16(i), 80)
	}
	_ = s
}
