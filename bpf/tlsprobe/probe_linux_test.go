//go:build linux && amd64

package tlsprobe

import (
	"errors"
	"os"
	"testing"
)

// TestLoad loads the programs as the kernel allows (with its BTF when it
// has one) and as on a kernel without BTF (the sockets' addresses are then
// not read: the CO-RE reads are relocated against no types and must not
// be reached).
func TestLoad(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load eBPF programs (CI runs as root)")
	}
	for _, without := range []bool{false, true} {
		noBTF = without
		p, err := Load(1 << 16)
		noBTF = false
		if errors.Is(err, ErrNotSupported) {
			t.Skipf("the kernel refuses the programs: %v", err)
		}
		if err != nil {
			t.Fatalf("without BTF %v: %v", without, err)
		}
		if without != (p.BTFErr != nil) {
			t.Errorf("without BTF %v: BTFErr %v", without, p.BTFErr)
		}
		if _, err := p.Counters(); err != nil {
			t.Error(err)
		}
		p.Close()
	}
}
