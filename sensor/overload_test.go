package sensor

import "testing"

func TestShedder(t *testing.T) {
	var applied []int
	s := &Shedder{Set: func(r int) error { applied = append(applied, r); return nil }, Calm: 2}
	steps := []struct {
		drops uint64
		rate  int
	}{
		{0, 1000}, {50, 750}, {10, 562}, {1, 421}, {5, 315}, {9, 236}, {9, 177}, {9, 132}, {9, 100}, {9, 100}, // down to the floor
		{0, 100}, {0, 212}, {0, 212}, {0, 310}, // calm: back up by 1/8 of the way every 2 quiet intervals
		{3, 232},
	}
	for i, st := range steps {
		s.Observe(st.drops)
		if s.Rate() != st.rate {
			t.Fatalf("step %d (drops %d): rate %d, want %d", i, st.drops, s.Rate(), st.rate)
		}
	}
	if applied[0] != 750 || applied[len(applied)-1] != 232 {
		t.Fatalf("applied %v", applied)
	}
	capped := &Shedder{Set: func(int) error { return nil }, Max: 500}
	if capped.Rate() != 500 {
		t.Fatal("Max not honoured")
	}
}
