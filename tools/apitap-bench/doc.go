//go:build linux

// Command apitap-bench is what `make bench` runs: it measures apitap against
// the naive baseline (tools/apitap-naive) on captures it generates
// with apitap-gen, and prints the throughput table of docs/performance.md.
//
//	apitap-bench -apitap bin/apitap -naive bin/apitap-naive -gen bin/apitap-gen \
//	    [-size 1GB] [-small-size 256MB] [-dir DIR] [-keep] [-o results.md]
//
// Where it sits: outside the sensor. It only starts the three built binaries
// as child processes and reads their JSON output; it imports no apitap
// package, so it measures exactly what users run.
//
// Method, per capture (a large one of 1-64 KB transactions and a small one
// of transactions under 2 KB):
//   - apitap-gen writes the capture and reports how many transactions it
//     holds;
//   - the file is read once so that every run starts from a warm page cache;
//   - each program runs -runs times (default 2), alternating, each as a child
//     process with GOMAXPROCS=1 pinned to one CPU with taskset when util-linux
//     provides it; apitap runs as `read --workers 1 --emit stats FILE`;
//   - wall time is measured around the child and the fastest run is kept;
//     peak RSS is the child's rusage Maxrss, the largest over its runs;
//   - MB/s/core is capture file bytes (10^6) over wall seconds, tx/s/core the
//     program's own transaction count over wall seconds.
//
// apitap must count exactly the transactions the generator wrote, in every
// run: otherwise the table is still printed, followed by a MISMATCH line,
// and the exit code is 1. The baseline's count is reported, not enforced.
//
// Concurrency: one child at a time; the harness itself waits idle while a
// child runs. Generated captures go to a temporary directory removed at the
// end (or to -dir, where they are removed unless -keep is given).
package main
