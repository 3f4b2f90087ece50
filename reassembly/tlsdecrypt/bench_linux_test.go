package tlsdecrypt

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU is the CPU time of the calling thread (the benchmark locks it),
// so that throughput per core can be told on a loaded machine.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(1, &ru) != nil { // RUSAGE_THREAD
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func lockThread(b *testing.B) func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}
