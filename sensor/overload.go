package sensor

// Shedder turns kernel drops into whole-flow shedding. Random packet loss
// in a full ring corrupts every stream it touches; lowering the eBPF
// pre-filter's per-flow sampling rate instead drops whole flows, in the
// kernel, before they cost anything, and the flows kept stay intact.
//
// Observe is called once per interval with the kernel drops seen in it: on
// drops the rate falls to 3/4 (not below Floor); after Calm quiet intervals
// it climbs back by 1/8 of the way to Max.
type Shedder struct {
	Set   func(perMille int) error // applies a rate (bpf.Filter.SetSample)
	Max   int                      // the configured rate (1000: every flow)
	Floor int                      // lowest rate it goes to; default 100
	Calm  int                      // quiet intervals before raising; default 10

	rate  int
	quiet int
}

// Rate is the sampling rate in force (per mille).
func (s *Shedder) Rate() int {
	if s.rate == 0 {
		return s.max()
	}
	return s.rate
}

func (s *Shedder) max() int {
	if s.Max <= 0 || s.Max > 1000 {
		return 1000
	}
	return s.Max
}

// Observe adjusts the rate after an interval with drops kernel drops. It
// reports whether the rate changed (and the error applying it).
func (s *Shedder) Observe(drops uint64) (bool, error) {
	floor, calm := s.Floor, s.Calm
	if floor <= 0 {
		floor = 100
	}
	if calm <= 0 {
		calm = 10
	}
	old := s.Rate()
	rate := old
	switch {
	case drops > 0:
		s.quiet = 0
		rate = max(min(floor, s.max()), old*3/4)
	case old < s.max():
		s.quiet++
		if s.quiet >= calm {
			s.quiet = 0
			rate = min(s.max(), old+max(1, (s.max()-old)/8))
		}
	}
	if rate == old {
		return false, nil
	}
	s.rate = rate
	return true, s.Set(rate)
}
