// Command apitap is the passive API security sensor. All logic lives in
// package cli and below; this file only connects it to the process.
package main

import (
	"os"

	"golang.org/x/term"

	"github.com/apitap/apitap/sensor/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.StdIO(term.IsTerminal)))
}
