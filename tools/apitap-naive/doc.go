// Command apitap-naive is the naive baseline of `make bench` (see package
// internal/naive for how it works and why it is built that way).
//
//	apitap-naive FILE
//
// counts the HTTP/1.x transactions of a pcap or pcapng capture, optionally
// gzip-compressed, and prints one JSON line to stdout:
//
//	{"packets":N,"bytes":N,"transactions":N}
//
// Exit codes: 0 success; 2 usage error; 1 when the capture cannot be read,
// or is damaged part-way, in which case the counts up to the damage are
// still printed and the error goes to stderr.
//
// It is a thin main: all logic lives in package naive. Run it with
// GOMAXPROCS=1 to measure one core, as apitap-bench does.
package main
