package cli

import (
	"os"
	"runtime/pprof"
	"testing"
)

func TestProfileRead(t *testing.T) {
	f, _ := os.Create(os.Getenv("PROF_OUT"))
	pprof.StartCPUProfile(f)
	for i := 0; i < 3; i++ {
		runCLI(t, nil, "read", "--config", os.Getenv("PROF_CFG"), "--quiet", "--emit", "stats", "--workers", "1", "/tmp/small.pcap")
	}
	pprof.StopCPUProfile()
	f.Close()
}
