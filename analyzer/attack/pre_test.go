package attack

import "testing"

func BenchmarkPrefilter(b *testing.B) {
	p := newPrefilter()
	vals := []string{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "application/json", "12345", "alpha-bravo-3", "page=2"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.classes(vals[i%len(vals)])
	}
}
