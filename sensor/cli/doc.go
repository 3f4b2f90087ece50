// Package cli is apitap's command line: subcommands, flags, help texts,
// exit codes, progress bar and the human summary. It holds no pipeline
// logic: it builds a sensor.Config from flags and files and runs the
// sensor package. Main is called by cmd/apitap and by tests.
//
// Exit codes (CONTRACT.md): 0 success; 2 usage or configuration error, with
// a message saying what and where; 1 runtime failure.
package cli
