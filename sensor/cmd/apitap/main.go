// Command apitap is the passive API security sensor. All logic lives in
// package cli and below; this file only connects it to the process.
package main

import (
	"os"
	"runtime"

	"golang.org/x/term"

	"github.com/apitap/apitap/sensor/cli"
)

func main() {
	// apitap never writes a heap profile, but dependencies link
	// runtime/pprof (kafka-go, go-metrics), and with it linked the runtime
	// records the stack of an allocation every 512 KiB allocated: about 1%
	// of the CPU time of a read, and pages of profile buckets touched on
	// every core. Off from the start of main.
	runtime.MemProfileRate = 0
	os.Exit(cli.Main(os.Args[1:], cli.StdIO(term.IsTerminal)))
}
