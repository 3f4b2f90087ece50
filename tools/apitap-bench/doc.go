//go:build linux

// Command apitap-bench is what `make bench` runs: it measures apitap against
// the naive baseline (tools/apitap-naive) on captures it generates
// with apitap-gen, and prints the throughput table of docs/performance.md.
//
//	apitap-bench -apitap bin/apitap -naive bin/apitap-naive -gen bin/apitap-gen \
//	    [-realistic-size 512MB] [-size 1GB] [-small-size 256MB] [-dir DIR] [-keep] [-o results.md]
//
// Where it sits: outside the sensor. It only starts the three built binaries
// as child processes and reads their JSON output, so it measures exactly
// what users run; of apitap it imports only the analyzer registry, for the
// names of the analyzers on by default.
//
// Method, per capture (the realistic API mix, the headline; a large one of
// 1-64 KB transactions; a small one of transactions under 2 KB):
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
// On the realistic capture it also runs apitap with each default analyzer
// off in turn (the analyzer's share is the difference) and measures the
// scaling over 1, 2, ... workers (unpinned, GOMAXPROCS = workers), set
// against what the machine offers: as many copies of the naive baseline at
// once, each with GOMAXPROCS=1. The scaling runs are interleaved: run r of
// every worker count and of the copies before run r+1 of any.
//
// apitap must count exactly the transactions the generator wrote, in every
// run: otherwise the table is still printed, followed by a MISMATCH line,
// and the exit code is 1. The baseline's count is reported, not enforced.
//
// Concurrency: one child at a time, but for the copies of the naive
// baseline measuring the machine's own scaling; the harness itself waits
// idle while children run. Generated captures go to a temporary directory removed at the
// end (or to -dir, where they are removed unless -keep is given).
package main
