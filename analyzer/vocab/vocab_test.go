package vocab

import "testing"

// TestBits: every list fits its Notes field and has no duplicate name.
func TestBits(t *testing.T) {
	for _, l := range []struct {
		name string
		list []string
		bits int
	}{{"SensitiveTypes", SensitiveTypes, 64}, {"AttackClasses", AttackClasses, 32}, {"AbuseClasses", AbuseClasses, 16}, {"Misconfigs", Misconfigs, 8}, {"Violations", Violations, 8}} {
		if len(l.list) > l.bits {
			t.Errorf("%s: %d names for %d bits", l.name, len(l.list), l.bits)
		}
		seen := map[string]bool{}
		for i, n := range l.list {
			if seen[n] {
				t.Errorf("%s: %q twice", l.name, n)
			}
			seen[n] = true
			if Bit(l.list, n) != 1<<i {
				t.Errorf("%s: Bit(%q) = %#x", l.name, n, Bit(l.list, n))
			}
		}
	}
}
